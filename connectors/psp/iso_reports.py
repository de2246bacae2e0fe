"""camt.053 / camt.054 / pain.002 readers (any version: XPath on local-name()) into receipts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree

from connectors.psp.receipts import Receipt, ReportError
from vgos.money import MoneyError, decimal_to_minor

ROOTS = {"camt053": "BkToCstmrStmt", "camt054": "BkToCstmrDbtCdtNtfctn", "camt052": "BkToCstmrAcctRpt",
         "pain002": "CstmrPmtStsRpt"}


def _x(el: etree._Element, path: str) -> list[etree._Element]:
    """Children by a slash path of local names ('NtryDtls/TxDtls')."""
    xp = "/".join(f"*[local-name()='{p}']" for p in path.split("/"))
    return el.xpath(xp)


def _t(el: etree._Element, *paths: str) -> str | None:
    """First non-empty text among the paths."""
    for p in paths:
        for e in _x(el, p):
            txt = "".join(e.itertext()).strip()
            if txt:
                return txt
    return None


def _ref(value: str | None) -> str | None:
    return None if value in (None, "", "NOTPROVIDED", "NONREF") else value


def _amount(el: etree._Element, field_name: str) -> tuple[int, str]:
    ccy = el.get("Ccy") or ""
    try:
        return decimal_to_minor((el.text or "").strip(), ccy), ccy
    except MoneyError as exc:
        raise ReportError("AMOUNT_INVALID", f"field {field_name}: {exc}", el.sourceline) from None


def parse_xml(data: bytes) -> etree._Element:
    """Parse bytes safely (no entities, no network); a syntax error becomes REPORT_MALFORMED with its line."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ReportError("REPORT_MALFORMED", f"malformed XML: {exc.msg}", exc.lineno) from None


def message_kind(root: etree._Element) -> str | None:
    """Which message a Document holds (camt053/camt054/camt052/pain002/pain001), from its first child."""
    kids = [c for c in root if isinstance(c.tag, str)]
    if not kids:
        return None
    name = etree.QName(kids[0]).localname
    for k, v in ROOTS.items():
        if v == name:
            return k
    return "pain001" if name == "CstmrCdtTrfInitn" else None


def _body(root: etree._Element, fmt: str) -> etree._Element:
    kind = message_kind(root)
    if kind != fmt:
        raise ReportError("FORMAT_MISMATCH", f"expected {ROOTS[fmt]} ({fmt}), found {kind or 'unknown'}",
                          root.sourceline)
    return [c for c in root if isinstance(c.tag, str)][0]


def _fee(tx: etree._Element, ccy: str) -> int:
    total = _x(tx, "Chrgs/TtlChrgsAndTaxAmt")
    if total:
        amt, c = _amount(total[0], "Chrgs/TtlChrgsAndTaxAmt")
        return amt if c == ccy else 0
    fee = 0
    for a in _x(tx, "Chrgs/Rcrd/Amt") + _x(tx, "Chrgs/Amt"):
        amt, c = _amount(a, "Chrgs/Amt")
        if c == ccy:
            fee += amt
    return fee


def _status(el: etree._Element) -> str:
    return _t(el, "Sts/Cd", "Sts") or "UNKNOWN"


def _booked(el: etree._Element) -> str | None:
    return _t(el, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")


def camt_receipts(data: bytes, fmt: str, source: str, sha: str) -> list[Receipt]:
    """Receipts of a camt.053 or camt.054: one per TxDtls, plus a BATCH total per batched entry."""
    root = parse_xml(data)
    body = _body(root, fmt)
    out: list[Receipt] = []

    def add(**kw: Any) -> None:
        out.append(Receipt(provider="bank", format=fmt, kind="BOOKING", source=f"{source}:{kw['line']}",
                           seq=len(out), raw_sha256=sha, window_ref=None, **kw))

    for stmt in _x(body, "Stmt") + _x(body, "Ntfctn") + _x(body, "Rpt"):
        for ntry in _x(stmt, "Ntry"):
            amts = _x(ntry, "Amt")
            if not amts:
                raise ReportError("REPORT_SCHEMA", "field Ntry/Amt: missing", ntry.sourceline)
            e_amt, e_ccy = _amount(amts[0], "Ntry/Amt")
            direction = _t(ntry, "CdtDbtInd") or ""
            if direction not in ("CRDT", "DBIT"):
                raise ReportError("REPORT_SCHEMA", f"field Ntry/CdtDbtInd: {direction!r}", ntry.sourceline)
            if (_t(ntry, "RvslInd") or "").lower() == "true":
                direction = "CRDT" if direction == "DBIT" else "DBIT"
            status = _status(ntry)
            booked = _booked(ntry)
            entry_ref = _t(ntry, "AcctSvcrRef", "NtryRef")
            dtls = _x(ntry, "NtryDtls")
            n_tx_total = sum(len(_x(d, "TxDtls")) for d in dtls)
            if n_tx_total == 0:
                btch = _x(ntry, "NtryDtls/Btch")
                level = "BATCH" if btch else "TX"
                bref = _ref(_t(btch[0], "PmtInfId", "MsgId")) if btch else None
                n = _t(btch[0], "NbOfTxs") if btch else None
                add(provider_ref=entry_ref, batch_ref=bref, end_to_end_id=None, payee_ref=None,
                    amount_minor=e_amt, currency=e_ccy, fee_minor=_fee(ntry, e_ccy), direction=direction,
                    status=status, reason=None, booked_at=booked, line=ntry.sourceline, level=level,
                    n_txs=int(n) if n and n.isdigit() else None)
                continue
            for d in dtls:
                btch = _x(d, "Btch")
                txs = _x(d, "TxDtls")
                tx_batch_refs = {_ref(_t(t, "Refs/PmtInfId", "Refs/MsgId")) for t in txs}
                common = next(iter(tx_batch_refs)) if len(tx_batch_refs) == 1 else None
                bref = (_ref(_t(btch[0], "PmtInfId", "MsgId")) if btch else None) or common
                if btch or len(txs) > 1:
                    tot = _x(btch[0], "TtlAmt") if btch else []
                    if tot:
                        b_amt, b_ccy = _amount(tot[0], "Btch/TtlAmt")
                    elif len(dtls) == 1:
                        b_amt, b_ccy = e_amt, e_ccy
                    else:
                        b_amt, b_ccy = None, None
                    n = _t(btch[0], "NbOfTxs") if btch else str(len(txs))
                    add(provider_ref=entry_ref, batch_ref=bref, end_to_end_id=None, payee_ref=None,
                        amount_minor=b_amt, currency=b_ccy, fee_minor=0, direction=direction, status=status,
                        reason=None, booked_at=booked, line=(btch[0] if btch else ntry).sourceline,
                        level="BATCH", n_txs=int(n) if n and n.isdigit() else None)
                for tx in txs:
                    t_amts = _x(tx, "Amt") or _x(tx, "AmtDtls/TxAmt/Amt") or _x(tx, "AmtDtls/InstdAmt/Amt")
                    if t_amts:
                        amt, ccy = _amount(t_amts[0], "TxDtls/Amt")
                    elif n_tx_total == 1:
                        amt, ccy = e_amt, e_ccy
                    else:
                        amt, ccy = None, None
                    t_dir = _t(tx, "CdtDbtInd") or direction
                    party = "Cdtr" if t_dir == "DBIT" else "Dbtr"
                    payee = _t(tx, f"RltdPties/{party}Acct/Id/IBAN", f"RltdPties/{party}Acct/Id/Othr/Id")
                    rtr = _x(tx, "RtrInf")
                    add(provider_ref=_ref(_t(tx, "Refs/AcctSvcrRef", "Refs/TxId")) or entry_ref,
                        batch_ref=_ref(_t(tx, "Refs/PmtInfId", "Refs/MsgId")) or bref,
                        end_to_end_id=_ref(_t(tx, "Refs/EndToEndId")), payee_ref=payee,
                        amount_minor=amt, currency=ccy, fee_minor=_fee(tx, ccy) if ccy else 0,
                        direction=t_dir, status="RTRN" if rtr else status,
                        reason=_t(rtr[0], "Rsn/Cd", "Rsn/Prtry", "AddtlInf") if rtr else None,
                        booked_at=booked, line=tx.sourceline, level="TX")
    return out


def _iter_status(body: etree._Element) -> Iterator[tuple[etree._Element, str, str | None]]:
    grp = _x(body, "OrgnlGrpInfAndSts")
    msg = _t(grp[0], "OrgnlMsgId") if grp else None
    if grp and _t(grp[0], "GrpSts"):
        yield grp[0], "GRP", msg
    for pmt in _x(body, "OrgnlPmtInfAndSts"):
        yield pmt, "PMT", msg
        for tx in _x(pmt, "TxInfAndSts"):
            yield tx, "TX", _t(pmt, "OrgnlPmtInfId") or msg
    for tx in _x(body, "TxInfAndSts"):
        yield tx, "TX", msg


def pain002_receipts(data: bytes, source: str, sha: str) -> list[Receipt]:
    """Status receipts of a pain.002: group, payment-information and transaction statuses with reasons."""
    root = parse_xml(data)
    body = _body(root, "pain002")
    booked = _t(body, "GrpHdr/CreDtTm")
    out: list[Receipt] = []
    for el, level, parent_ref in _iter_status(body):
        if level == "GRP":
            status, bref, e2e = _t(el, "GrpSts"), _t(el, "OrgnlMsgId"), None
        elif level == "PMT":
            status, bref, e2e = _t(el, "PmtInfSts"), _t(el, "OrgnlPmtInfId"), None
            if not status:
                continue
        else:
            status, bref, e2e = _t(el, "TxSts"), parent_ref, _ref(_t(el, "OrgnlEndToEndId"))
            if not status:
                raise ReportError("REPORT_SCHEMA", "field TxInfAndSts/TxSts: missing", el.sourceline)
        amt_el = _x(el, "OrgnlTxRef/Amt/InstdAmt") if level == "TX" else []
        amt, ccy = _amount(amt_el[0], "OrgnlTxRef/Amt/InstdAmt") if amt_el else (None, None)
        reason = _t(el, "StsRsnInf/Rsn/Cd", "StsRsnInf/Rsn/Prtry")
        info = _t(el, "StsRsnInf/AddtlInf")
        out.append(Receipt(
            provider="bank", format="pain002", kind="STATUS", level="BATCH" if level != "TX" else "TX",
            provider_ref=_t(el, "StsId", "OrgnlInstrId"), batch_ref=bref, end_to_end_id=e2e, window_ref=None,
            payee_ref=_t(el, "OrgnlTxRef/CdtrAcct/Id/IBAN", "OrgnlTxRef/CdtrAcct/Id/Othr/Id"),
            amount_minor=amt, currency=ccy, fee_minor=0, direction="DBIT", status=status or "UNKNOWN",
            reason=f"{reason}: {info}" if reason and info else (reason or info), booked_at=booked,
            source=f"{source}:{el.sourceline}", line=el.sourceline, seq=len(out), raw_sha256=sha))
    return out
