"""ISO 20022 pain.001.001.09 credit transfer initiation: render (XSD-validated) and read back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from connectors.psp.xsd import validation_errors
from vgos.errors import InputError
from vgos.money import MoneyError, decimal_to_minor, minor_to_decimal

if TYPE_CHECKING:
    from connectors.psp.batch import Batch

MESSAGE = "pain.001.001.09"
NS = f"urn:iso:std:iso:20022:tech:xsd:{MESSAGE}"


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    e = etree.SubElement(parent, f"{{{NS}}}{tag}", **attrs)
    if text is not None:
        e.text = text
    return e


def _account(parent: etree._Element, tag: str, ref: str) -> None:
    acct = _el(_el(parent, tag), "Id")
    if ref[:2].isalpha() and ref[2:4].isdigit() and ref.isalnum():
        _el(acct, "IBAN", ref)
    else:
        _el(_el(acct, "Othr"), "Id", ref)


def _agent(parent: etree._Element, tag: str, bic: str) -> None:
    fin = _el(_el(parent, tag), "FinInstnId")
    if bic:
        _el(fin, "BICFI", bic)
    else:
        _el(_el(fin, "Othr"), "Id", "NOTPROVIDED")


def render(batch: Batch, debtor: dict) -> tuple[bytes, str]:
    """Render the batch as pain.001.001.09 and validate it against the official XSD before returning."""
    for f in ("name", "iban"):
        if not debtor.get(f):
            raise InputError(f"debtor: field {f}: required for the pain001 rail")
    ccy = batch.currency
    ctrl = minor_to_decimal(batch.ctrl_sum_minor, ccy)
    root = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    init = _el(root, "CstmrCdtTrfInitn")
    hdr = _el(init, "GrpHdr")
    _el(hdr, "MsgId", batch.provider_batch_id)
    _el(hdr, "CreDtTm", batch.created_at)
    _el(hdr, "NbOfTxs", str(len(batch.items)))
    _el(hdr, "CtrlSum", ctrl)
    _el(_el(hdr, "InitgPty"), "Nm", str(debtor["name"])[:140])
    pmt = _el(init, "PmtInf")
    _el(pmt, "PmtInfId", batch.payment_info_id)
    _el(pmt, "PmtMtd", "TRF")
    _el(pmt, "BtchBookg", "true")
    _el(pmt, "NbOfTxs", str(len(batch.items)))
    _el(pmt, "CtrlSum", ctrl)
    _el(_el(pmt, "ReqdExctnDt"), "Dt", batch.execution_date)
    _el(_el(pmt, "Dbtr"), "Nm", str(debtor["name"])[:140])
    _account(pmt, "DbtrAcct", str(debtor["iban"]))
    _agent(pmt, "DbtrAgt", str(debtor.get("bic") or ""))
    _el(pmt, "ChrgBr", str(debtor.get("charge_bearer") or "SLEV"))
    for item in batch.items:
        tx = _el(pmt, "CdtTrfTxInf")
        pid = _el(tx, "PmtId")
        _el(pid, "InstrId", item.end_to_end_id)
        _el(pid, "EndToEndId", item.end_to_end_id)
        _el(_el(tx, "Amt"), "InstdAmt", minor_to_decimal(item.amount_minor, ccy), Ccy=ccy)
        if item.payee_bic:
            _agent(tx, "CdtrAgt", item.payee_bic)
        _el(_el(tx, "Cdtr"), "Nm", item.payee_name[:140])
        _account(tx, "CdtrAcct", item.payee_ref)
        _el(_el(tx, "RmtInf"), "Ustrd",
            f"VGOS payout window {batch.window_id} digest {batch.output_digest[:16]}"[:140])
    errors = validation_errors(MESSAGE, root)
    if errors:
        raise InputError(f"pain.001 for window {batch.window_id} fails {MESSAGE}.xsd: {errors[0]}")
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data, "application/xml"


def _local(tag: str) -> str:
    return etree.QName(tag).localname


def read_pain001(path: str | Path) -> list[dict[str, Any]]:
    """Read the credit transfers of any pain.001 version back (namespace-agnostic), e.g. to audit a batch."""
    p = Path(path)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        doc = etree.parse(str(p), parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{p}:{exc.lineno}: malformed XML: {exc.msg}") from None
    x = doc.getroot()
    out: list[dict[str, Any]] = []
    msg_id = x.xpath("string(//*[local-name()='GrpHdr']/*[local-name()='MsgId'])")
    for pmt in x.xpath("//*[local-name()='PmtInf']"):
        pmt_id = pmt.xpath("string(*[local-name()='PmtInfId'])")
        for tx in pmt.xpath("*[local-name()='CdtTrfTxInf']"):
            amt = tx.xpath("*[local-name()='Amt']/*[local-name()='InstdAmt'] | "
                           "*[local-name()='Amt']/*[local-name()='EqvtAmt']/*[local-name()='Amt']")
            if not amt:
                raise InputError(f"{p}:{tx.sourceline}: field Amt: missing")
            ccy = amt[0].get("Ccy", "")
            try:
                minor = decimal_to_minor(amt[0].text or "", ccy)
            except MoneyError as exc:
                raise InputError(f"{p}:{amt[0].sourceline}: field {_local(amt[0].tag)}: {exc}") from None
            out.append({
                "msg_id": msg_id, "pmt_inf_id": pmt_id,
                "end_to_end_id": tx.xpath("string(*[local-name()='PmtId']/*[local-name()='EndToEndId'])"),
                "amount_minor": minor, "currency": ccy,
                "creditor": tx.xpath("string(*[local-name()='Cdtr']/*[local-name()='Nm'])"),
                "source": f"{p.name}:{tx.sourceline}",
            })
    return out
