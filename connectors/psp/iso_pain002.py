"""pain.002 (versions 03 to 10, Swiss SIX ch.02) read into STATUS receipts: no money moves on a status report.

Group status (OrgnlGrpInfAndSts/GrpSts) and payment-information status (OrgnlPmtInfAndSts/PmtInfSts) are BATCH
receipts; each TxInfAndSts is a TX receipt. Only RJCT means rejected (`reversal=True`); a partial PART says to
look at the transaction statuses.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from connectors.psp.iso_reports import amount, child, children, count, document, ref, text, texts
from connectors.psp.receipts import INFO, STATUS, Receipt, ReportError

REJECTED = "RJCT"


def _reason(el: etree._Element) -> tuple[str | None, str | None]:
    """(first reason code, 'CODE: additional info' for every StsRsnInf) of a status element."""
    codes: list[str] = []
    parts: list[str] = []
    for sri in children(el, "StsRsnInf"):
        code = text(sri, "Rsn/Cd", "Rsn/Prtry")
        info = " ".join(texts(sri, "AddtlInf")) or None
        if code:
            codes.append(code)
        part = f"{code}: {info}" if code and info else (code or info)
        if part:
            parts.append(part)
    return (codes[0] if codes else None), ("; ".join(parts) or None)


def read_pain002(data: bytes, source: str, sha: str) -> list[Receipt]:
    """STATUS receipts of a pain.002 file, in document order."""
    body = document(data, "pain002")
    grp = child(body, "OrgnlGrpInfAndSts")
    if grp is None:
        raise ReportError("REPORT_SCHEMA", "field OrgnlGrpInfAndSts: missing", body.sourceline)
    created = text(body, "GrpHdr/CreDtTm")
    msg_id = ref(text(grp, "OrgnlMsgId"))
    out: list[Receipt] = []

    def add(el: etree._Element, level: str, status: str, **kw: Any) -> None:
        code, why = _reason(el)
        kw.setdefault("amount_minor", None)
        kw.setdefault("currency", None)
        out.append(Receipt(
            provider="bank", format="pain002", kind=STATUS, level=level, window_ref=None, fee_minor=0,
            direction="DBIT", status=status, reason=why, booked_at=created, source=f"{source}:{el.sourceline}",
            line=el.sourceline, seq=len(out), raw_sha256=sha, booking=INFO, reversal=status == REJECTED,
            return_code=code, **kw))

    grp_sts = text(grp, "GrpSts")
    if grp_sts:
        add(grp, "BATCH", grp_sts, provider_ref=None, batch_ref=msg_id, end_to_end_id=None, payee_ref=None,
            n_txs=count(grp, "OrgnlNbOfTxs"))
    for pmt in children(body, "OrgnlPmtInfAndSts"):
        pmt_id = ref(text(pmt, "OrgnlPmtInfId"))
        pmt_sts = text(pmt, "PmtInfSts")
        if pmt_sts:
            add(pmt, "BATCH", pmt_sts, provider_ref=None, batch_ref=pmt_id, end_to_end_id=None, payee_ref=None,
                n_txs=count(pmt, "OrgnlNbOfTxs"))
        parent = pmt_sts or grp_sts
        for tx in children(pmt, "TxInfAndSts"):
            sts = text(tx, "TxSts") or (parent if parent not in (None, "PART") else None)
            if not sts:
                raise ReportError("REPORT_SCHEMA", "field TxInfAndSts/TxSts: missing (no group status to inherit)",
                                  tx.sourceline)
            amt_el = child(tx, "OrgnlTxRef/Amt/InstdAmt")
            minor, ccy, _ = amount(amt_el) if amt_el is not None else (None, None, None)
            add(tx, "TX", sts, provider_ref=ref(text(tx, "StsId", "OrgnlInstrId")), batch_ref=pmt_id or msg_id,
                end_to_end_id=ref(text(tx, "OrgnlEndToEndId")), amount_minor=minor, currency=ccy,
                payee_ref=text(tx, "OrgnlTxRef/CdtrAcct/Id/IBAN", "OrgnlTxRef/CdtrAcct/Id/Othr/Id"),
                account=text(tx, "OrgnlTxRef/DbtrAcct/Id/IBAN", "OrgnlTxRef/DbtrAcct/Id/Othr/Id"),
                bank_ref=ref(text(tx, "AcctSvcrRef")))
    return out
