"""SWIFT MT940 (and MT942 interim) statements into receipts, with each statement's balance checked.

The mt-940 library splits the `:61:` statement lines and the German `?`-structured `:86:` details; this module
adds what it does not give: source lines, exact minor-unit amounts, the Dutch `/KEY/` and free-text `KEY+`
`:86:` variants, returns, and the check opening + credits - debits = closing per statement.

Mapping of one `:61:` (plus its `:86:`) to a Receipt:
- value date → value_date, entry date → booking_date (booked_at: entry date, else value date);
- mark C / D → CRDT / DBIT; RC (reversal of a credit, booked as a debit) → DBIT, RD → CRDT, both reversal=True;
- transaction type code (N426, NTRF, S051, ...) → status; charges and commission (xCHG, xCOM) → kind FEE;
- customer reference → provider_ref, bank reference (after //) → bank_ref (NONREF / NOTPROVIDED: none);
- :86: EREF → end_to_end_id; KREF or /PREF/ → batch_ref (/PREF/ or /NRTX/ make it a BATCH booking);
  IBAN (/IBAN/, /CNTP/, IBAN+, ?31), else the counterparty name (/BENM/, /NAME/, ?32) → payee_ref;
  remittance (SVWZ+, /REMI/) → reason; /RTRN/ code or GVC 159 (SEPA credit transfer returned) → reversal=True,
  return_code, status RTRN.
- `:25:` → account; currency from `:60F:`/`:60M:` (MT942: from `:34F:`), which must be active ISO 4217.
A statement without an opening balance but with a `:34F:` floor limit is an MT942 interim report: booking
PENDING, no balances to check; its `:90D:`/`:90C:` counts and sums are checked instead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import mt940
from mt940 import processors as mt940_processors

from connectors.psp.receipts import BOOKED, BOOKING, FEE, PENDING, Flag, Receipt, ReportError
from vgos.money import MoneyError, decimal_to_minor, is_iso4217, minor_to_decimal

_TAG_RE = re.compile(r"^:(?P<tag>\d{2}[A-Z]?|NS):")
_OPENING = ("60F", "60M", "60")
_CLOSING = ("62F", "62M", "62")
_BALANCE_RE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<ccy>.{3})(?P<amount>.*)$", re.S)
# :61: layout (6!n[4!n]2a[1!a]15d1!a3!c...), only to locate a broken line; the library does the real split
_LINE61_RE = re.compile(r"^(?P<date>\d{6})(?P<entry>\d{4})?(?P<mark>R?[CD])(?P<funds>[A-Z])?"
                        r"(?P<amount>[^A-Z\n]*)(?P<type>[A-Z][A-Z0-9]{3})?", re.I)
_SUM_RE = re.compile(r"^(?P<n>\d*)(?P<ccy>[A-Z]{3})(?P<amount>.*)$", re.S)
_AMOUNT_RE = re.compile(r"^\d{1,15}(,\d*)?$")
_NO_REF = {"", "NONREF", "NOTPROVIDED", "NONE"}
_FEE_TYPES = {"CHG", "COM"}         # SWIFT charges / commission transaction types (NCHG, FCHG, NCOM, ...)
_RETURN_GVC = {"159"}               # German GVC: SEPA credit transfer returned (Retoure)
_SLASH_KEYS = ("TRTP|IBAN|BIC|NAME|CITY|ADDR|REMI|EREF|ORDP|BENM|CSID|MARF|PREF|NRTX|RTRN|RTYP|CNTP|ISDT|CREF|"
               "ULTC|ULTD|ULTB|PURP|SVCL|FEES|OCMT|IREF|TRCD|EXCH|CHGS|ID")
_SLASH_RE = re.compile(rf"/({_SLASH_KEYS})/")
_GVC_RE = re.compile(r"(EREF|KREF|MREF|CRED|SVWZ|ABWA|ABWE|IBAN|BIC |PURP|DEBT|COAM|OAMT|SQTP|DDAT|MDAT)\+")
_OPTIONS = mt940.Options(unbounded_details=True, merge_keeps_values=True, applicant_iban=True, strip_bom=True)


@dataclass
class _Tag:
    """One `:xx:` field of the file: its id, first line and raw lines."""

    tag: str
    line: int
    lines: list[str]

    @property
    def value(self) -> str:
        """The field's content, as the library sees it (blank lines dropped)."""
        return "\n".join(s for s in (x.rstrip() for x in self.lines) if s).strip()


@dataclass
class _Statement:
    """The fields from one `:20:` up to the next, and what the first pass learned about them."""

    tags: list[_Tag]
    currency: str = ""
    amounts: dict[int, int] = field(default_factory=dict)   # :61: line -> amount in minor units
    balances: dict[str, tuple[int, int]] = field(default_factory=dict)  # first :60F:, :62M:, ... -> line, signed
    sums: dict[str, tuple[int, int | None, int]] = field(default_factory=dict)  # :90D:/:90C: -> line, count, sum


def _text(data: bytes) -> str:
    """Decoded text (UTF-8, else Latin-1 as many German banks send), line ends normalised to \\n."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _scan(text: str) -> list[_Statement]:
    """Split the file into statements and fields with their 1-based lines; SWIFT envelopes are skipped."""
    stmts: list[_Statement] = []
    cur: _Tag | None = None
    for n, raw in enumerate(text.split("\n"), 1):
        s = raw.rstrip()
        m = _TAG_RE.match(s)
        if m:
            cur = _Tag(m["tag"], n, [s[m.end():]])
            if cur.tag == "20":
                stmts.append(_Statement([]))
            elif not stmts:
                raise ReportError("REPORT_MALFORMED", f"field :{cur.tag}: before the first :20:", n)
            stmts[-1].tags.append(cur)
        elif s.strip() == "-" or s.startswith(("-}", "{", "}")):
            cur = None  # end of a message (or a SWIFT block header): what follows until the next tag is envelope
        elif cur is not None:
            cur.lines.append(s)
    return stmts


def _minor(token: str, ccy: str, line: int, what: str) -> int:
    """Exact minor units of an MT940 amount (comma decimal, '9,' is 9.00)."""
    token = token.strip()
    if not _AMOUNT_RE.match(token):
        raise ReportError("AMOUNT_INVALID", f"{what} amount {token!r} is not an MT940 decimal (digits, comma)", line)
    try:
        return decimal_to_minor(token.replace(",", ".").rstrip("."), ccy)
    except MoneyError as exc:
        raise ReportError("AMOUNT_INVALID", f"{what} amount: {exc}", line) from None


def _balance(tag: _Tag, want_ccy: str | None) -> tuple[int, str]:
    """Signed balance (credit positive) and currency of a :60a:/:62a:/:64:/:65: field."""
    m = _BALANCE_RE.match(tag.value)
    if not m:
        raise ReportError("REPORT_MALFORMED", f"field :{tag.tag}: is not a balance (mark, YYMMDD, currency, amount): "
                          f"{tag.value[:40]!r}", tag.line)
    ccy = m["ccy"]
    if not is_iso4217(ccy):
        raise ReportError("CURRENCY_INVALID", f"field :{tag.tag}: currency {ccy!r} is not an active ISO 4217 code",
                          tag.line)
    if want_ccy and ccy != want_ccy:
        raise ReportError("CURRENCY_INVALID", f"field :{tag.tag}: currency {ccy} differs from the statement's "
                          f"{want_ccy}", tag.line)
    amount = _minor(m["amount"].split("\n", 1)[0], ccy, tag.line, f"field :{tag.tag}:")
    return (amount if m["mark"] == "C" else -amount), ccy


def _check(stmts: list[_Statement]) -> None:
    """First pass, in file order: balances, currencies and statement-line amounts, so errors name their line."""
    for st in stmts:
        tags = {t.tag for t in st.tags}
        if "25" not in tags:
            raise ReportError("REPORT_SCHEMA", "statement without account identification :25:", st.tags[0].line)
        if not tags & set(_OPENING) and "34F" not in tags:
            raise ReportError("REPORT_SCHEMA", "statement without opening balance :60F:/:60M:", st.tags[0].line)
        for t in st.tags:
            if t.tag in _OPENING + _CLOSING + ("64", "65"):
                amount, st.currency = _balance(t, st.currency or None)
                st.balances.setdefault(t.tag, (t.line, amount))
            elif t.tag == "34F":
                ccy = t.value[:3]
                if not is_iso4217(ccy):
                    raise ReportError("CURRENCY_INVALID", f"field :34F: currency {ccy!r} is not an active ISO 4217 "
                                      "code", t.line)
                st.currency = st.currency or ccy
            elif t.tag in ("90D", "90C"):
                m = _SUM_RE.match(t.value)
                if not m or m["ccy"] != st.currency:
                    raise ReportError("REPORT_MALFORMED", f"field :{t.tag}: is not count, statement currency, amount",
                                      t.line)
                stated = _minor(m["amount"].split("\n", 1)[0], st.currency, t.line, f"field :{t.tag}:")
                st.sums.setdefault(t.tag, (t.line, int(m["n"]) if m["n"] else None, stated))
            elif t.tag == "61":
                m = _LINE61_RE.match(t.value)
                if not m:
                    raise ReportError("REPORT_MALFORMED", f"statement line :61: {t.value[:40]!r} does not start "
                                      "with value date and debit/credit mark", t.line)
                if not st.currency:
                    raise ReportError("REPORT_SCHEMA", "statement line :61: before the opening balance", t.line)
                st.amounts[t.line] = _minor(m["amount"], st.currency, t.line, "statement line :61:")
                if not m["type"]:
                    raise ReportError("REPORT_MALFORMED", "statement line :61: has no transaction type code "
                                      "(e.g. NTRF) after the amount", t.line)
        if tags & set(_OPENING) and not tags & set(_CLOSING):
            raise ReportError("REPORT_MALFORMED", "statement ends without closing balance :62F:/:62M: (truncated?)",
                              st.tags[-1].line)


def _library_text(st: _Statement) -> tuple[str, list[_Tag]]:
    """The statement as text for the library, without statement-level :86: (it would join the last line)."""
    out: list[str] = []
    lines61: list[_Tag] = []
    owner: _Tag | None = None  # the :61: a following :86: belongs to (an :NS: may come between)
    for t in st.tags:
        if t.tag == "86" and owner is None:
            continue
        owner = t if t.tag == "61" else owner if t.tag == "NS" else None
        if t.tag == "61":
            lines61.append(t)
        out.append(f":{t.tag}:" + "\n".join(t.lines))
    return "\n".join(out), lines61


def _parse(st: _Statement) -> tuple[mt940.models.Transactions, list[_Tag]]:
    """Library parse of one statement; a failure is located by parsing ever longer prefixes."""
    text, lines61 = _library_text(st)

    def run(txt: str) -> mt940.models.Transactions:
        trs = mt940.models.Transactions(processors={"post_transaction_details": []}, options=_OPTIONS)
        trs.parse(txt)
        return trs

    log = logging.getLogger("mt940")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)  # a failure becomes a quarantine record; the search would log it again
    try:
        try:
            trs = run(text)
        except Exception as exc:  # noqa: BLE001 - the library raises RuntimeError, ValueError, InvalidOperation
            lo, hi = 1, len(st.tags)  # smallest failing prefix length: its last field is the broken one
            while lo < hi:
                mid = (lo + hi) // 2
                try:
                    run(_library_text(_Statement(st.tags[:mid]))[0])
                    lo = mid + 1
                except Exception:  # noqa: BLE001
                    hi = mid
            bad = st.tags[lo - 1]
            why = "does not match its SWIFT layout" if isinstance(exc, RuntimeError) else str(exc)[:120]
            raise ReportError("REPORT_MALFORMED", f"field :{bad.tag}: {bad.value[:40]!r} cannot be read: {why}",
                              bad.line) from None
    finally:
        log.setLevel(level)
    if len(trs) != len(lines61):
        raise ReportError("REPORT_MALFORMED", f"{len(lines61)} statement lines :61:, {len(trs)} read",
                          st.tags[0].line)
    return trs, lines61


def _ref(value: Any) -> str | None:
    """A reference, or None for empty and placeholder values."""
    s = str(value or "").strip()
    return None if s.upper() in _NO_REF else s


def _details(raw: str, ctx: mt940.models.Transactions) -> dict[str, str | None]:
    """References in a :86: field: German ?-structured, Dutch /KEY/, free-text KEY+, or nothing."""
    joined = "".join(x.strip("\r") for x in raw.split("\n"))
    out: dict[str, str | None] = {}
    if re.match(r"^\d{3}\?\d{2}", joined):
        d = mt940_processors.transaction_details_post_processor(
            ctx, None, {"transaction_details": raw}, {"transaction_details": raw})
        out = {"eref": d.get("end_to_end_reference"), "kref": d.get("customer_reference"),
               "iban": d.get("gvc_applicant_iban") or d.get("applicant_iban"), "name": d.get("applicant_name"),
               "remi": d.get("purpose"), "gvc": d.get("transaction_code")}
    elif _SLASH_RE.match(joined):
        keys: dict[str, str] = {}
        found = list(_SLASH_RE.finditer(joined))
        for i, m in enumerate(found):
            end = found[i + 1].start() if i + 1 < len(found) else len(joined)
            keys.setdefault(m[1], joined[m.end():end].strip().rstrip("/"))
        remi = re.sub(r"^(USTD|STRD)/[^/]*/+", "", keys.get("REMI", ""))
        cntp = keys.get("CNTP", "").split("/")
        out = {"eref": keys.get("EREF"), "kref": keys.get("PREF"), "pref": keys.get("PREF"), "nrtx": keys.get("NRTX"),
               "iban": keys.get("IBAN") or cntp[0], "name": keys.get("NAME") or keys.get("BENM")
               or (cntp[2] if len(cntp) > 2 else None), "remi": remi,
               "rtrn": keys.get("RTRN", "").split("/")[0] if "RTRN" in keys else None}
    elif _GVC_RE.search(joined):
        parts = _GVC_RE.split(joined)
        keys = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        out = {"eref": keys.get("EREF"), "kref": keys.get("KREF"), "iban": keys.get("IBAN"),
               "remi": keys.get("SVWZ")}
    return {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in out.items()}


def mt940_receipts(data: bytes, source: str, sha: str) -> tuple[list[Receipt], list[Flag]]:
    """MT940/MT942 bookings with their lines, so a statement that does not balance taints only its receipts."""
    text = _text(data)
    if not text.strip():
        raise ReportError("REPORT_EMPTY", "empty file", 1)
    stmts = _scan(text)
    if not stmts:
        raise ReportError("FORMAT_MISMATCH", "not an MT940 statement: no :20: transaction reference field", 1)
    _check(stmts)
    out: list[Receipt] = []
    flags: list[Flag] = []
    for st in stmts:
        trs, lines61 = _parse(st)
        account = next(t.value for t in st.tags if t.tag == "25")
        ccy = st.currency
        booking = BOOKED if any(t in st.balances for t in _OPENING) else PENDING  # MT942: interim, not booked
        seqs: list[int] = []
        totals = {"CRDT": [0, 0], "DBIT": [0, 0]}  # direction -> [count, sum]
        for tr, t61 in zip(trs, lines61, strict=True):
            d = tr.data
            mark = str(d.get("status") or "").upper()
            direction = "CRDT" if mark in ("C", "RD") else "DBIT"
            amount = st.amounts[t61.line]
            totals[direction][0] += 1
            totals[direction][1] += amount
            info = _details(str(d.get("transaction_details") or ""), trs)
            tx_type = str(d.get("id") or "").upper()
            rtrn = info.get("rtrn")
            returned = bool(rtrn) or info.get("gvc") in _RETURN_GVC
            value_date = d["date"].isoformat() if d.get("date") else None
            entry_date = d["entry_date"].isoformat() if d.get("entry_date") else None
            reason = info.get("remi")
            if returned:
                reason = f"returned{' ' + rtrn if rtrn else ''}{': ' + reason if reason else ''}"
            seqs.append(len(out))
            out.append(Receipt(
                provider="bank", format="mt940", kind=FEE if tx_type[1:] in _FEE_TYPES else BOOKING,
                level="BATCH" if info.get("pref") or info.get("nrtx") else "TX",
                provider_ref=_ref(d.get("customer_reference")), batch_ref=_ref(info.get("kref")),
                end_to_end_id=_ref(info.get("eref")), window_ref=None,
                payee_ref=_ref(info.get("iban")) or _ref(info.get("name")), amount_minor=amount, currency=ccy,
                fee_minor=0, direction=direction, status="RTRN" if rtrn else tx_type, reason=reason,
                booked_at=entry_date or value_date, source=f"{source}:{t61.line}", line=t61.line, seq=len(out),
                raw_sha256=sha, n_txs=int(info["nrtx"]) if (info.get("nrtx") or "").isdigit() else None,
                booking=booking, reversal=mark.startswith("R") or returned, return_code=rtrn,
                booking_date=entry_date, value_date=value_date, bank_ref=_ref(d.get("bank_reference")),
                account=account))
        flags += _balance_flags(st, totals, tuple(seqs))
    return out, flags


def _balance_flags(st: _Statement, totals: dict[str, list[int]], seqs: tuple[int, ...]) -> list[Flag]:
    """Opening + credits - debits must be the closing balance (MT942: the :90D:/:90C: counts and sums)."""
    by_tag = {t.tag: t for t in reversed(st.tags)}
    number = by_tag.get("28C") or by_tag.get("28")
    name = f"statement {by_tag['20'].value!r}" + (f" number {number.value}" if number else "")
    ccy = st.currency

    def fmt(v: int) -> str:
        return minor_to_decimal(v, ccy)

    cr, db = totals["CRDT"], totals["DBIT"]
    opening = next((st.balances[t] for t in _OPENING if t in st.balances), None)
    if opening is not None:
        (o_line, o_amt), (c_line, c_amt) = opening, next(st.balances[t] for t in _CLOSING if t in st.balances)
        if o_amt + cr[1] - db[1] == c_amt:
            return []
        return [Flag("STATEMENT_BALANCE_MISMATCH",
                     f"{name}: opening {fmt(o_amt)} (line {o_line}) + credits {fmt(cr[1])} - debits {fmt(db[1])} "
                     f"= {fmt(o_amt + cr[1] - db[1])} {ccy}, closing balance is {fmt(c_amt)} (line {c_line})",
                     c_line, seqs)]
    problems: list[tuple[int, str]] = []
    for tag, (count, total) in (("90D", db), ("90C", cr)):
        if tag not in st.sums:
            continue
        line, n, stated = st.sums[tag]
        if (n is not None and n != count) or stated != total:
            problems.append((line, f":{tag}: (line {line}) states {n if n is not None else '?'} entries "
                             f"{fmt(stated)}, the lines give {count} entries {fmt(total)} {ccy}"))
    if problems:
        return [Flag("STATEMENT_TOTALS_MISMATCH", f"{name}: " + "; ".join(p for _, p in problems), problems[0][0],
                     seqs)]
    return []
