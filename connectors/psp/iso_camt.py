"""camt.052 / camt.053 / camt.054 (versions 02 to 08) read as the standard means them.

One BOOKING (or FEE) receipt per entry (`Ntry`) with the amount booked on the account; a batch entry (`Btch`, or
more than one `TxDtls`) gets one DETAIL receipt per listed transaction under it. A statement whose own totals,
counts or balances do not add up is still imported, with Flags that taint its receipts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from connectors.psp.iso_reports import amount, child, children, count, day, document, number, ref, text, texts
from connectors.psp.receipts import (
    BOOKED,
    BOOKING,
    COPY_MARKERS,
    DETAIL,
    FEE,
    INFO,
    PENDING,
    Flag,
    Receipt,
    ReportError,
)
from vgos.money import minor_to_decimal

# Entry status (v02-v05: text; v06+: Sts/Cd, ExternalEntryStatus1Code) -> whether it is final on the account.
STATUS_BOOKING = {"BOOK": BOOKED, "PDNG": PENDING, "FUTR": PENDING, "INFO": INFO}
# Bank transaction sub-families (ExternalBankTransactionSubFamily1Code) that book a return or a reversal.
RETURN_SUBFAMILIES = frozenset({
    "RRTN",  # reversal due to payment return (credit transfer)
    "RPCR",  # reversal due to payment cancellation request
    "UPDD",  # reversal due to return / unpaid direct debit
    "PRDD",  # reversal due to payment reversal (direct debit)
    "RCDD",  # reversal due to payment cancellation request (direct debit)
    "ARET",  # ACH return
    "AREV",  # ACH reversal
    "CQRV",  # cheque reversal
    "UPCQ",  # unpaid cheque
})
# Sub-families that book a bank charge (charges, fees, commissions) rather than a payment.
CHARGE_SUBFAMILIES = frozenset({"CHRG", "FEES", "COMM", "COMI", "COME", "COMT"})
STATEMENTS = {"camt052": "Rpt", "camt053": "Stmt", "camt054": "Ntfctn"}


@dataclass
class _Entry:
    """What the statement checks need of one entry."""

    minor: int
    ccy: str
    dec: Decimal
    direction: str
    booking: str


@dataclass
class _Out:
    """Receipts and flags collected while reading one file."""

    fmt: str
    source: str
    sha: str
    receipts: list[Receipt] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def add(self, line: int, **kw: Any) -> int:
        """Append a receipt with the file-level fields filled in; returns its seq."""
        seq = len(self.receipts)
        kw.setdefault("booked_at", kw.get("booking_date") or kw.get("value_date"))
        self.receipts.append(Receipt(provider="bank", format=self.fmt, source=f"{self.source}:{line}", line=line,
                                     seq=seq, raw_sha256=self.sha, window_ref=None, **kw))
        return seq


def _is_true(value: str | None) -> bool:
    """ISO boolean text ('true' / '1')."""
    return (value or "").strip().lower() in ("true", "1")


def _subfamily(el: etree._Element | None) -> str | None:
    """Domain bank transaction sub-family code (RRTN, CHRG, ...), which says what kind of booking this is."""
    return text(el, "BkTxCd/Domn/Fmly/SubFmlyCd")


def _tx_amount(tx: etree._Element) -> tuple[int, str, Decimal] | None:
    """A transaction's own amount: TxDtls/Amt (v04+), else AmtDtls/TxAmt, else AmtDtls/InstdAmt."""
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        el = child(tx, path)
        if el is not None:
            return amount(el)
    return None


def _instructed(tx: etree._Element | None, ccy: str | None) -> tuple[int | None, str | None]:
    """AmtDtls/InstdAmt when it is in another currency than the booking (an FX payment), else (None, None)."""
    el = child(tx, "AmtDtls/InstdAmt/Amt")
    if el is None:
        return None, None
    minor, iccy, _ = amount(el)
    return (minor, iccy) if iccy != ccy else (None, None)


def _charges(owners: list[etree._Element | None], ccy: str | None) -> tuple[int, bool]:
    """(fee in the booking currency, included?) of the first owner with charges, so fees are never lost."""
    # v04+: Chrgs/TtlChrgsAndTaxAmt, else the sum of Chrgs/Rcrd/Amt (ChrgInclInd per record);
    # v02/v03: Chrgs repeats, each with its own TtlChrgsAndTaxAmt or Amt.
    for owner in owners:
        blocks = children(owner, "Chrgs")
        if not blocks:
            continue
        fee, included = 0, False
        for ch in blocks:
            recs = children(ch, "Rcrd")
            total = child(ch, "TtlChrgsAndTaxAmt")
            parts = [total] if total is not None else [child(r, "Amt") for r in recs] if recs else [child(ch, "Amt")]
            for el in parts:
                if el is not None:
                    minor, c, _ = amount(el)
                    fee += minor if c == ccy else 0
            included = included or any(_is_true(text(r, "ChrgInclInd")) for r in recs)
        return fee, included
    return 0, False


def _counterparty(tx: etree._Element | None, direction: str, own: str | None) -> str | None:
    """The payee's account (creditor for a debit, debtor for a credit; else the other party if not our own)."""
    first, second = ("Cdtr", "Dbtr") if direction == "DBIT" else ("Dbtr", "Cdtr")
    acct = text(tx, f"RltdPties/{first}Acct/Id/IBAN", f"RltdPties/{first}Acct/Id/Othr/Id")
    if acct:
        return acct
    other = text(tx, f"RltdPties/{second}Acct/Id/IBAN", f"RltdPties/{second}Acct/Id/Othr/Id")
    return other if other and other != own else None


def _return(tx: etree._Element | None) -> tuple[bool, str | None, str | None]:
    """(is a return, reason code, reason text) from TxDtls/RtrInf."""
    rtr = child(tx, "RtrInf")
    if rtr is None:
        return False, None, None
    code = text(rtr, "Rsn/Cd", "Rsn/Prtry")
    info = " ".join(texts(rtr, "AddtlInf")) or None
    return True, code, f"{code}: {info}" if code and info else (code or info)


def _lists_payment(tx: etree._Element) -> bool:
    """A TxDtls that identifies a payment (amount, reference, party or return), not just a purpose code."""
    return any(child(tx, p) is not None for p in ("Amt", "AmtDtls", "Refs", "RltdPties", "RtrInf"))


def _entry_head(ntry: etree._Element) -> tuple[int, str, Decimal, str, str, str]:
    """(minor, currency, decimal, direction, status code, booking) of an entry; missing parts are REPORT_SCHEMA."""
    amt = child(ntry, "Amt")
    if amt is None:
        raise ReportError("REPORT_SCHEMA", "field Ntry/Amt: missing", ntry.sourceline)
    minor, ccy, dec = amount(amt)
    direction = text(ntry, "CdtDbtInd")
    if direction not in ("CRDT", "DBIT"):
        raise ReportError("REPORT_SCHEMA", f"field Ntry/CdtDbtInd: {direction!r} (expected CRDT or DBIT)",
                          ntry.sourceline)
    status = text(ntry, "Sts/Cd", "Sts/Prtry", "Sts")
    if status is None:
        raise ReportError("REPORT_SCHEMA", "field Ntry/Sts: missing", ntry.sourceline)
    if status not in STATUS_BOOKING:
        raise ReportError("REPORT_SCHEMA", f"field Ntry/Sts: unknown entry status {status!r}", ntry.sourceline)
    return minor, ccy, dec, direction, status, STATUS_BOOKING[status]


def _read_entry(ntry: etree._Element, common: dict[str, Any], out: _Out) -> _Entry:
    """Receipts of one entry: a TX booking, or a BATCH booking with its DETAIL lines (and a batch check)."""
    minor, ccy, dec, direction, status, booking = _entry_head(ntry)
    base = dict(common, direction=direction, status=status, booking=booking,
                booking_date=day(ntry, "BookgDt"), value_date=day(ntry, "ValDt"))
    txs = children(ntry, "NtryDtls/TxDtls")
    btchs = children(ntry, "NtryDtls/Btch")
    if not btchs and len(txs) <= 1:
        _tx_entry(ntry, txs[0] if txs else None, base, minor, ccy, out)
    else:
        _batch_entry(ntry, txs, btchs, base, minor, ccy, out)
    return _Entry(minor, ccy, dec, direction, booking)


def _entry_reversal(ntry: etree._Element) -> bool:
    """The entry undoes an earlier booking: RvslInd true or a return/reversal bank transaction code."""
    return _is_true(text(ntry, "RvslInd")) or _subfamily(ntry) in RETURN_SUBFAMILIES


def _tx_entry(ntry: etree._Element, tx: etree._Element | None, base: dict[str, Any], minor: int, ccy: str,
              out: _Out) -> None:
    """One payment booked alone: amounts from the entry, references from its single TxDtls."""
    info = base["booking"] == INFO  # information only: never a return
    is_rtr, code, why = _return(tx)
    rev = _entry_reversal(ntry) or is_rtr or _subfamily(tx) in RETURN_SUBFAMILIES
    fee_kind = _subfamily(ntry) in CHARGE_SUBFAMILIES or _subfamily(tx) in CHARGE_SUBFAMILIES
    fee, included = _charges([tx, ntry], ccy)
    inst, inst_ccy = _instructed(tx, ccy)
    out.add(ntry.sourceline, **base, kind=FEE if fee_kind else BOOKING, level="TX",
            provider_ref=ref(text(ntry, "NtryRef")) or ref(text(tx, "Refs/TxId")),
            batch_ref=ref(text(tx, "Refs/PmtInfId")), end_to_end_id=ref(text(tx, "Refs/EndToEndId")),
            payee_ref=_counterparty(tx, base["direction"], base["account"]), amount_minor=minor, currency=ccy,
            fee_minor=fee, fee_included=included, instructed_minor=inst, instructed_currency=inst_ccy,
            reason=f"information only: {why}" if info and why else why,
            reversal=rev and not info, return_code=None if info else code,
            bank_ref=ref(text(ntry, "AcctSvcrRef")) or ref(text(tx, "Refs/AcctSvcrRef")))


def _batch_entry(ntry: etree._Element, txs: list[etree._Element], btchs: list[etree._Element],
                 base: dict[str, Any], minor: int, ccy: str, out: _Out) -> None:
    """One booking for many payments: the BATCH receipt, a DETAIL per listed TxDtls, a flag if they disagree."""
    info = base["booking"] == INFO
    direction = base["direction"]
    details = [t for t in txs if _lists_payment(t)]
    returns = [_return(t) for t in details]
    nbs = [count(b, "NbOfTxs") for b in btchs]
    declared = sum(n for n in nbs if n is not None) if btchs and all(n is not None for n in nbs) else None
    pmt_ids = {ref(text(t, "Refs/PmtInfId")) for t in details}
    common_pmt = next(iter(pmt_ids)) if len(pmt_ids) == 1 else None
    batch_ref = (ref(text(btchs[0], "PmtInfId")) or ref(text(btchs[0], "MsgId"))) if len(btchs) == 1 else None
    # the whole entry is a reversal when it says so, or when every listed payment of a complete list is a return
    whole_rev = _entry_reversal(ntry) or (bool(details) and all(r[0] for r in returns)
                                          and declared in (None, len(details)))
    fee, included = _charges([ntry], ccy)
    bseq = out.add(ntry.sourceline, **base, kind=FEE if _subfamily(ntry) in CHARGE_SUBFAMILIES else BOOKING,
                   level="BATCH", provider_ref=ref(text(ntry, "NtryRef")), batch_ref=batch_ref or common_pmt,
                   end_to_end_id=None, payee_ref=None, amount_minor=minor, currency=ccy, fee_minor=fee,
                   fee_included=included, reason=None,
                   n_txs=declared if declared is not None else (len(details) or None),
                   reversal=whole_rev and not info, bank_ref=ref(text(ntry, "AcctSvcrRef")))
    sums: list[tuple[int, str] | None] = []
    for tx, (is_rtr, code, why) in zip(details, returns, strict=True):
        amt = _tx_amount(tx)
        sums.append(amt[:2] if amt else None)
        t_ccy = amt[1] if amt else None
        t_fee, t_incl = _charges([tx], t_ccy)
        inst, inst_ccy = _instructed(tx, t_ccy)
        rev = whole_rev or is_rtr or _subfamily(tx) in RETURN_SUBFAMILIES
        out.add(tx.sourceline, **base, kind=DETAIL, level="TX", parent_seq=bseq,
                provider_ref=ref(text(tx, "Refs/TxId", "Refs/InstrId")),
                batch_ref=ref(text(tx, "Refs/PmtInfId")) or batch_ref or common_pmt,
                end_to_end_id=ref(text(tx, "Refs/EndToEndId")),
                payee_ref=_counterparty(tx, direction, base["account"]),
                amount_minor=amt[0] if amt else None, currency=t_ccy, fee_minor=t_fee, fee_included=t_incl,
                instructed_minor=inst, instructed_currency=inst_ccy,
                reason=f"information only: {why}" if info and why else why,
                reversal=rev and not info, return_code=None if info else code,
                bank_ref=ref(text(tx, "Refs/AcctSvcrRef")))
    problems = _batch_problems(btchs, declared, sums, minor, ccy, direction, fee if included else 0)
    if problems:
        out.flags.append(Flag("BATCH_DETAILS_MISMATCH", f"entry at line {ntry.sourceline}: " + "; ".join(problems),
                              ntry.sourceline, tuple(range(bseq, len(out.receipts)))))


def _batch_problems(btchs: list[etree._Element], declared: int | None, sums: list[tuple[int, str] | None],
                    minor: int, ccy: str, direction: str, included_fee: int) -> list[str]:
    """How a batch contradicts its own lines (count, sum net of included charges, Btch total or direction)."""
    problems = []
    shown = minor_to_decimal(minor, ccy)
    if sums and declared is not None and declared != len(sums):
        problems.append(f"Btch/NbOfTxs {declared} but {len(sums)} TxDtls listed")
    if sums and all(s is not None and s[1] == ccy for s in sums):
        total = sum(s[0] for s in sums if s is not None)
        with_fee = total + included_fee if direction == "DBIT" else total - included_fee
        if minor not in (total, with_fee):
            problems.append(f"TxDtls sum {minor_to_decimal(total, ccy)} {ccy} != entry {shown} {ccy}")
    if len(btchs) == 1:
        ttl = child(btchs[0], "TtlAmt")
        if ttl is not None:
            t_minor, t_ccy, _ = amount(ttl)
            if t_ccy == ccy and t_minor != minor:
                problems.append(f"Btch/TtlAmt {minor_to_decimal(t_minor, t_ccy)} {t_ccy} != entry {shown} {ccy}")
            if sums and all(s is not None and s[1] == t_ccy for s in sums):
                total = sum(s[0] for s in sums if s is not None)
                if total != t_minor:
                    problems.append(f"TxDtls sum {minor_to_decimal(total, t_ccy)} {t_ccy} != Btch/TtlAmt "
                                    f"{minor_to_decimal(t_minor, t_ccy)} {t_ccy}")
        b_dir = text(btchs[0], "CdtDbtInd")
        if b_dir and b_dir != direction:
            problems.append(f"Btch/CdtDbtInd {b_dir} != entry {direction}")
    return problems


def _signed(e: _Entry) -> Decimal:
    """Entry amount with its sign on the account (credit positive)."""
    return e.dec if e.direction == "CRDT" else -e.dec


def _summary_flags(stmt: etree._Element, entries: list[_Entry], seqs: tuple[int, ...]) -> list[Flag]:
    """TxsSummry (only the totals present) against the entries actually listed in the statement."""
    summ = child(stmt, "TxsSummry")
    if summ is None:
        return []
    counts: list[str] = []
    totals: list[str] = []
    groups = (("TtlNtries", entries), ("TtlCdtNtries", [e for e in entries if e.direction == "CRDT"]),
              ("TtlDbtNtries", [e for e in entries if e.direction == "DBIT"]))
    for tag, group in groups:
        el = child(summ, tag)
        if el is None:
            continue
        n = count(el, "NbOfNtries")
        if n is not None and n != len(group):
            counts.append(f"{tag}/NbOfNtries {n} but {len(group)} entries listed")
        s = number(el, "Sum")
        listed = sum((e.dec for e in group), Decimal(0))
        if s is not None and s != listed:
            totals.append(f"{tag}/Sum {s} but listed entries sum to {listed}")
    tot = child(summ, "TtlNtries")
    net_el = child(tot, "TtlNetNtry")
    stated, ind = (number(net_el, "Amt"), text(net_el, "CdtDbtInd")) if net_el is not None else \
        (number(tot, "TtlNetNtryAmt"), text(tot, "CdtDbtInd"))
    if stated is not None:
        net = sum((_signed(e) for e in entries), Decimal(0))
        ok = abs(net) == abs(stated) if ind is None else net == (-stated if ind == "DBIT" else stated)
        if not ok:
            shown = f"{abs(net)} {'DBIT' if net < 0 else 'CRDT'}"
            totals.append(f"TtlNtries net {stated} {ind or ''}".rstrip() + f" but credits - debits = {shown}")
    line = summ.sourceline
    out = []
    if counts:
        out.append(Flag("STATEMENT_ENTRY_COUNT_MISMATCH", "; ".join(counts), line, seqs))
    if totals:
        out.append(Flag("STATEMENT_TOTALS_MISMATCH", "; ".join(totals), line, seqs))
    return out


def _balance(bal: etree._Element) -> tuple[int, str]:
    """Signed minor units and currency of a Bal (CRDT positive, DBIT negative)."""
    amt = child(bal, "Amt")
    if amt is None:
        raise ReportError("REPORT_SCHEMA", "field Bal/Amt: missing", bal.sourceline)
    minor, ccy, _ = amount(amt)
    ind = text(bal, "CdtDbtInd")
    if ind not in ("CRDT", "DBIT"):
        raise ReportError("REPORT_SCHEMA", f"field Bal/CdtDbtInd: {ind!r} (expected CRDT or DBIT)", bal.sourceline)
    return (minor if ind == "CRDT" else -minor), ccy


def _balance_flags(stmt: etree._Element, entries: list[_Entry], seqs: tuple[int, ...]) -> list[Flag]:
    """Opening booked (OPBD, else PRCD) + booked credits - booked debits must equal the closing booked (CLBD)."""
    by_code: dict[str, etree._Element] = {}
    for bal in children(stmt, "Bal"):
        by_code.setdefault(text(bal, "Tp/CdOrPrtry/Cd") or "", bal)
    opening = by_code.get("OPBD", by_code.get("PRCD"))
    closing = by_code.get("CLBD")
    if opening is None or closing is None:
        return []
    o_minor, o_ccy = _balance(opening)
    c_minor, c_ccy = _balance(closing)
    booked = [e for e in entries if e.booking == BOOKED]
    foreign = sorted({e.ccy for e in booked if e.ccy != o_ccy})
    expected = o_minor + sum(e.minor if e.direction == "CRDT" else -e.minor for e in booked if e.ccy == o_ccy)
    if c_ccy == o_ccy and not foreign and expected == c_minor:
        return []

    def show(v: int, c: str) -> str:
        return f"{minor_to_decimal(abs(v), c)} {c} {'DBIT' if v < 0 else 'CRDT'}"

    detail = (f"opening {show(o_minor, o_ccy)} + booked entries = {show(expected, o_ccy)}, "
              f"closing CLBD says {show(c_minor, c_ccy)}")
    if foreign:
        detail += f"; booked entries in {', '.join(foreign)} on a {o_ccy} balance"
    return [Flag("STATEMENT_BALANCE_MISMATCH", detail, closing.sourceline, seqs)]


def read_camt(data: bytes, fmt: str, source: str, sha: str) -> list[Receipt] | tuple[list[Receipt], list[Flag]]:
    """Receipts of a camt.052/053/054 file, plus flags when one of its statements contradicts itself."""
    body = document(data, fmt)
    stmts = children(body, STATEMENTS[fmt])
    if not stmts:
        raise ReportError("REPORT_SCHEMA", f"field {STATEMENTS[fmt]}: missing", body.sourceline)
    out = _Out(fmt, source, sha)
    for stmt in stmts:
        copy = text(stmt, "CpyDplctInd")
        common = {"account": text(stmt, "Acct/Id/IBAN", "Acct/Id/Othr/Id"),
                  "copy": copy if copy in COPY_MARKERS else None}
        start, batch_flags = len(out.receipts), len(out.flags)
        entries = [_read_entry(ntry, common, out) for ntry in children(stmt, "Ntry")]
        seqs = tuple(range(start, len(out.receipts)))
        own = _summary_flags(stmt, entries, seqs) + _balance_flags(stmt, entries, seqs)
        out.flags[batch_flags:batch_flags] = own  # statement flags first: they taint every receipt of it
    return (out.receipts, out.flags) if out.flags else out.receipts
