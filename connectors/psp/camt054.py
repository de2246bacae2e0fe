"""Generate a camt.054.001.08 debit notification for a batch, as the debtor's bank would report it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from lxml import etree

from connectors.psp.xsd import validation_errors
from vgos.errors import InputError
from vgos.money import minor_to_decimal

if TYPE_CHECKING:
    from connectors.psp.batch import Batch

MESSAGE = "camt.054.001.08"
NS = f"urn:iso:std:iso:20022:tech:xsd:{MESSAGE}"


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    e = etree.SubElement(parent, f"{{{NS}}}{tag}", **attrs)
    if text is not None:
        e.text = text
    return e


def camt054_for_batch(
    batch: Batch, *, debtor_iban: str, booked_on: str, created_at: str,
    amount_overrides: Mapping[str, int] | None = None, omit: Iterable[str] = (),
    extra: Iterable[Mapping[str, object]] = (),
) -> bytes:
    """The bank's booking of a batch: one DBIT entry with Btch totals and one TxDtls per payee.

    `amount_overrides` (EndToEndId → minor), `omit` (EndToEndIds) and `extra` (dicts with end_to_end_id,
    amount_minor, payee_name, payee_ref) produce the discrepancy variants used in tests and drills.
    """
    over = dict(amount_overrides or {})
    skip = set(omit)
    ccy = batch.currency
    lines = [(it.end_to_end_id, over.get(it.end_to_end_id, it.amount_minor), it.payee_name, it.payee_ref)
             for it in batch.items if it.end_to_end_id not in skip]
    lines += [(str(x["end_to_end_id"]), int(x["amount_minor"]), str(x.get("payee_name", "Unknown")),
               str(x.get("payee_ref", ""))) for x in extra]
    total = sum(a for _, a, _, _ in lines)
    root = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    body = _el(root, "BkToCstmrDbtCdtNtfctn")
    hdr = _el(body, "GrpHdr")
    _el(hdr, "MsgId", f"N{batch.provider_batch_id}"[:35])
    _el(hdr, "CreDtTm", created_at)
    ntf = _el(body, "Ntfctn")
    _el(ntf, "Id", f"N{batch.payment_info_id}"[:35])
    _el(ntf, "CreDtTm", created_at)
    _el(_el(_el(ntf, "Acct"), "Id"), "IBAN", debtor_iban)
    ntry = _el(ntf, "Ntry")
    _el(ntry, "NtryRef", batch.payment_info_id[:35])
    _el(ntry, "Amt", minor_to_decimal(total, ccy), Ccy=ccy)
    _el(ntry, "CdtDbtInd", "DBIT")
    _el(_el(ntry, "Sts"), "Cd", "BOOK")
    _el(_el(ntry, "BookgDt"), "Dt", booked_on)
    _el(_el(ntry, "ValDt"), "Dt", booked_on)
    _el(ntry, "AcctSvcrRef", f"B{batch.provider_batch_id}"[:35])
    fam = _el(_el(_el(ntry, "BkTxCd"), "Domn"), "Cd", "PMNT").getparent()
    f = _el(fam, "Fmly")
    _el(f, "Cd", "ICDT")
    _el(f, "SubFmlyCd", "ESCT")
    dtls = _el(ntry, "NtryDtls")
    btch = _el(dtls, "Btch")
    _el(btch, "MsgId", batch.provider_batch_id)
    _el(btch, "PmtInfId", batch.payment_info_id)
    _el(btch, "NbOfTxs", str(len(lines)))
    _el(btch, "TtlAmt", minor_to_decimal(total, ccy), Ccy=ccy)
    _el(btch, "CdtDbtInd", "DBIT")
    for n, (e2e, amount, name, ref) in enumerate(lines, 1):
        tx = _el(dtls, "TxDtls")
        refs = _el(tx, "Refs")
        _el(refs, "MsgId", batch.provider_batch_id)
        _el(refs, "AcctSvcrRef", f"T{n:04d}{batch.provider_batch_id}"[:35])
        _el(refs, "PmtInfId", batch.payment_info_id)
        _el(refs, "EndToEndId", e2e)
        _el(tx, "Amt", minor_to_decimal(amount, ccy), Ccy=ccy)
        _el(tx, "CdtDbtInd", "DBIT")
        pties = _el(tx, "RltdPties")
        _el(_el(_el(pties, "Cdtr"), "Pty"), "Nm", name[:140])
        if ref:
            _el(_el(_el(pties, "CdtrAcct"), "Id"), "IBAN", ref)
    errors = validation_errors(MESSAGE, root)
    if errors:
        raise InputError(f"generated camt.054 fails {MESSAGE}.xsd: {errors[0]}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
