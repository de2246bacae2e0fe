"""NACHA ACH files (originated entries, returns, notifications of change) into receipts, controls checked.

Fixed-width 94-character records: 1 file header, 5 batch header, 6 entry detail, 7 addenda (02 POS, 05 payment
related, 10-18 IAT, 98 notification of change, 99 return), 8 batch control, 9 file control, then `9999...` filler.
Seen from the originator (the platform paying out), one receipt per entry detail:
- a credit entry (22, 32, 42, 52) sends money out → DBIT; a debit entry (27, 37, 47, 55) pulls it in → CRDT;
- a return (entry with addenda 99; codes 21/26/31/36/...) → BOOKING, reversal=True, return_code Rxx, direction
  opposite of the original (a returned credit brings the money back → CRDT), status RTRN, reason with the
  original trace, original RDFI, date of death and addenda information;
- a notification of change (addenda 98) → NOTICE (no money), return_code Cxx, status COR, reason with the
  corrected data; prenotes (23, 28, ...) and zero-dollar remittance entries (24, 29, ...) → NOTICE;
- booking: INFO for NOTICE; BOOKED for returns and for entries of a batch the ACH operator has settled (batch
  header settlement date, positions 76-78, filled in); PENDING for an entry not yet settled (an origination file);
- amount: positions 30-39 in cents (USD); booking_date: effective entry date (YYMMDD); value_date: settlement date;
- end_to_end_id: Individual Identification Number (positions 40-54; IAT: addenda 15 receiver identification);
- payee_ref: "<routing>/<account>" of the receiver's bank account: RDFI routing (positions 4-12) and DFI account
  number (13-29); for a return or NOC the original RDFI (addenda, with its check digit computed); for IAT the
  receiving DFI of addenda 14 and the foreign receiver's account (40-74);
- bank_ref and provider_ref: the entry's trace number (80-94);
- batch_ref: "<company identification>/<batch number>" of the batch header (positions 41-50 and 88-94), which
  together name the originator's batch.
Controls: every batch control must agree with its entries (count of entries and addenda, entry hash = sum of the
8-digit RDFI routing numbers mod 10^10, total debit and credit amounts, and the header's service class, company
id, ODFI and batch number), the file control with the whole file (batch count, block count, counts, hash,
totals); a disagreement is a NACHA_CONTROL_MISMATCH flag on that batch's receipts (file control: all receipts).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from connectors.psp.receipts import BOOKED, BOOKING, INFO, NOTICE, PENDING, Flag, Receipt, ReportError

RECORD_LENGTH = 94
_TX_CODES = {21, 22, 23, 24, 26, 27, 28, 29, 31, 32, 33, 34, 36, 37, 38, 39, 41, 42, 43, 44, 46, 47, 48, 49,
             51, 52, 53, 54, 55, 56}
_PRENOTE_OR_ZERO = {23, 24, 28, 29, 33, 34, 38, 39, 43, 44, 48, 49, 53, 54}
_ADDENDA_TYPES = {"02", "05", "10", "11", "12", "13", "14", "15", "16", "17", "18", "98", "99"}
_HEADER_RE = re.compile(r"^1\d{2}[ \d]\d{9}")
RETURN_REASONS = {
    "R01": "Insufficient funds", "R02": "Account closed", "R03": "No account / unable to locate account",
    "R04": "Invalid account number", "R05": "Unauthorized debit to consumer account using corporate SEC code",
    "R06": "Returned per ODFI's request", "R07": "Authorization revoked by customer", "R08": "Payment stopped",
    "R09": "Uncollected funds", "R10": "Customer advises originator is not known or not authorized",
    "R11": "Customer advises entry not in accordance with the authorization", "R12": "Account sold to another DFI",
    "R13": "Invalid ACH routing number", "R14": "Representative payee deceased", "R15": "Beneficiary or account "
    "holder deceased", "R16": "Account frozen / returned per OFAC instruction", "R17": "File record edit criteria",
    "R18": "Improper effective entry date", "R19": "Amount field error", "R20": "Non-transaction account",
    "R21": "Invalid company identification", "R22": "Invalid individual ID number", "R23": "Credit entry refused by "
    "receiver", "R24": "Duplicate entry", "R29": "Corporate customer advises not authorized",
    "R31": "Permissible return entry", "R33": "Return of XCK entry", "R61": "Misrouted return",
    "R67": "Duplicate return", "R68": "Untimely return", "R69": "Field error(s)",
    "R70": "Permissible return entry not accepted / return not requested by ODFI",
}
CHANGE_CODES = {
    "C01": "Incorrect DFI account number", "C02": "Incorrect routing number",
    "C03": "Incorrect routing number and DFI account number", "C04": "Incorrect individual name / receiving company "
    "name", "C05": "Incorrect transaction code", "C06": "Incorrect DFI account number and transaction code",
    "C07": "Incorrect routing number, DFI account number and transaction code",
    "C08": "Incorrect receiving DFI identification (IAT)", "C09": "Incorrect individual identification number",
    "C13": "Addenda format error", "C14": "Incorrect SEC code for outbound international payment",
}


@dataclass
class _Entry:
    line: int
    rec: str
    code: int
    addenda: list[tuple[int, str]] = field(default_factory=list)

    def addendum(self, kind: str) -> tuple[int, str] | None:
        """Line and record of the first addenda of a type ('99', '98', '15', ...)."""
        return next(((n, r) for n, r in self.addenda if r[1:3] == kind), None)


@dataclass
class _Batch:
    line: int
    rec: str
    entries: list[_Entry] = field(default_factory=list)
    control: tuple[int, str] = (0, "")  # line and record of its batch control (8), set by _structure


def _records(data: bytes) -> list[tuple[int, str]]:
    """(line, record) pairs; a file without line breaks is cut into 94-character records (line = record no.)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # one character per byte: record lengths stay exact
    lines = re.split(r"\r\n|\r|\n", text)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ReportError("REPORT_EMPTY", "empty file", 1)
    if len(lines) == 1 and len(lines[0]) > RECORD_LENGTH and len(lines[0]) % RECORD_LENGTH == 0:
        lines = [lines[0][i:i + RECORD_LENGTH] for i in range(0, len(lines[0]), RECORD_LENGTH)]
    return list(enumerate(lines, 1))


def _num(rec: str, a: int, b: int, line: int, what: str, code: str = "REPORT_MALFORMED") -> int:
    """Numeric field at 1-based positions a..b inclusive."""
    s = rec[a - 1:b]
    if not (s.isascii() and s.isdigit()):
        raise ReportError(code, f"{what} (positions {a}-{b}) is not numeric: {s!r}", line)
    return int(s)


def _date(yymmdd: str, line: int, what: str) -> str | None:
    """YYMMDD as YYYY-MM-DD (20YY); None when blank or zeros (e.g. in NOC batches)."""
    s = yymmdd.strip()
    if not s or s.strip("0") == "":
        return None
    try:
        return dt.date(2000 + int(s[:2]), int(s[2:4]), int(s[4:6])).isoformat()
    except ValueError:
        raise ReportError("REPORT_MALFORMED", f"{what} {yymmdd!r} is not a date (YYMMDD)", line) from None


def _routing(eight: str) -> str:
    """A 9-digit ABA routing number from its 8-digit identification (check digit computed)."""
    d = [int(c) for c in eight]
    return eight + str(-(3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5]) % 10)


def _structure(records: list[tuple[int, str]]) -> tuple[str, list[_Batch], tuple[int, str], int]:
    """File header, batches and file control, in the order NACHA requires; the number of records incl. filler."""
    first_line, first = records[0]
    if not _HEADER_RE.match(first):
        raise ReportError("FORMAT_MISMATCH", "not a NACHA file: the first record is not a file header "
                          "(record type 1, priority code, immediate destination)", first_line)
    batches: list[_Batch] = []
    batch: _Batch | None = None
    control: tuple[int, str] | None = None
    for line, rec in records:
        if len(rec) != RECORD_LENGTH:
            raise ReportError("REPORT_MALFORMED", f"record is {len(rec)} characters, NACHA records are "
                              f"{RECORD_LENGTH}", line)
        kind = rec[0]
        if control is not None:
            if set(rec) != {"9"}:
                raise ReportError("REPORT_MALFORMED", "record after the file control (9) that is not filler", line)
            continue
        if kind == "1":
            if line != first_line:
                raise ReportError("REPORT_MALFORMED", "second file header (1)", line)
        elif kind == "5":
            if batch is not None:
                raise ReportError("REPORT_MALFORMED", f"batch header (5) before the control of the batch at line "
                                  f"{batch.line}", line)
            batch = _Batch(line, rec)
            batches.append(batch)
        elif kind == "6":
            if batch is None:
                raise ReportError("REPORT_MALFORMED", "entry detail (6) outside a batch", line)
            code = _num(rec, 2, 3, line, "transaction code")
            if code not in _TX_CODES:
                raise ReportError("REPORT_SCHEMA", f"unknown transaction code {code:02d}", line)
            batch.entries.append(_Entry(line, rec, code))
        elif kind == "7":
            if batch is None or not batch.entries:
                raise ReportError("REPORT_MALFORMED", "addenda (7) without an entry detail before it", line)
            if rec[1:3] not in _ADDENDA_TYPES:
                raise ReportError("REPORT_SCHEMA", f"unknown addenda type code {rec[1:3]!r}", line)
            batch.entries[-1].addenda.append((line, rec))
        elif kind == "8":
            if batch is None:
                raise ReportError("REPORT_MALFORMED", "batch control (8) without a batch header", line)
            batch.control, batch = (line, rec), None
        elif kind == "9":
            if set(rec) == {"9"}:
                raise ReportError("REPORT_MALFORMED", "filler record before the file control (9)", line)
            if batch is not None:
                raise ReportError("REPORT_MALFORMED", f"file control (9) inside the batch at line {batch.line}",
                                  line)
            control = (line, rec)
        else:
            raise ReportError("REPORT_SCHEMA", f"unknown record type {kind!r}", line)
    last = records[-1][0]
    if batch is not None:
        raise ReportError("REPORT_MALFORMED", f"file ends inside the batch at line {batch.line} (no batch control; "
                          "truncated?)", last)
    if control is None:
        raise ReportError("REPORT_MALFORMED", "file ends without a file control record (9) (truncated?)", last)
    return first, batches, control, len(records)


def _is_credit(code: int) -> bool:
    """Credit-side transaction code (second digit 0-4), as batch and file totals count it."""
    return code % 10 < 5


def _receipt(e: _Entry, b: _Batch, seq: int, source: str, sha: str) -> Receipt:
    """The receipt of one entry detail and its addenda."""
    rec, hdr, line = e.rec, b.rec, e.line
    iat = hdr[50:53] == "IAT"
    amount = _num(rec, 30, 39, line, "amount", "AMOUNT_INVALID")
    trace = rec[79:94].strip() or None
    ret, noc = e.addendum("99"), e.addendum("98")
    credit = _is_credit(e.code)
    account = (rec[39:74] if iat else rec[12:29]).strip()
    rdfi = rec[3:12]
    a14, a15 = e.addendum("14"), e.addendum("15")
    if iat and a14 and a14[1][40:74].strip():
        rdfi = a14[1][40:74].strip()
    end_to_end = (a15[1][3:18] if iat and a15 else "" if iat else rec[39:54]).strip() or None
    kind, booking, reversal, code, status, reason = BOOKING, BOOKED, False, None, f"{e.code:02d}", None
    found = ret or noc
    if found is not None:
        add_line, add = found
        code = add[3:6].strip()
        if not re.fullmatch(r"[RC]\d{2}", code) or code[0] != ("R" if ret else "C"):
            raise ReportError("REPORT_SCHEMA", f"addenda {add[1:3]}: {code!r} is not a "
                              f"{'return reason (Rnn)' if ret else 'change code (Cnn)'}", add_line)
        orig_rdfi = add[27:35]
        if orig_rdfi.isdigit():
            rdfi = _routing(orig_rdfi)
        parts = [f"{code} {(RETURN_REASONS if ret else CHANGE_CODES).get(code, 'return' if ret else 'change')}"]
        if noc:
            parts.append(f"corrected data {add[35:64].strip()!r}")
        parts += [f"original trace {add[6:21].strip()}", f"original RDFI {orig_rdfi.strip()}"]
        if ret:
            if add[21:27].strip():
                parts.append(f"date of death {add[21:27]}")
            if add[35:79].strip():
                parts.append(add[35:79].strip())
            reversal, status, direction = True, "RTRN", "CRDT" if credit else "DBIT"
        else:
            kind, booking, status, direction = NOTICE, INFO, "COR", "DBIT" if credit else "CRDT"
        reason = "; ".join(parts)
    else:
        direction = "DBIT" if credit else "CRDT"
        if e.code in _PRENOTE_OR_ZERO:
            kind, booking = NOTICE, INFO
        elif not hdr[75:78].strip().strip("0"):
            booking = PENDING
        info = [r[3:83].strip() for _, r in e.addenda if r[1:3] == "05" and r[3:83].strip()]
        reason = " ".join(info) or None
    booking_date = _date(hdr[69:75], b.line, "effective entry date")
    value_date = None
    julian = hdr[75:78].strip()
    if julian.isdigit() and 1 <= int(julian) <= 366 and booking_date:
        eff = dt.date.fromisoformat(booking_date)
        year = eff.year + (1 if int(julian) < eff.timetuple().tm_yday - 180 else 0)
        value_date = (dt.date(year, 1, 1) + dt.timedelta(days=int(julian) - 1)).isoformat()
    return Receipt(
        provider="bank", format="nacha", kind=kind, level="TX", provider_ref=trace,
        batch_ref=f"{hdr[40:50].strip()}/{hdr[87:94]}", end_to_end_id=end_to_end, window_ref=None,
        payee_ref=f"{rdfi}/{account}" if account else None, amount_minor=amount, currency="USD", fee_minor=0,
        direction=direction, status=status, reason=reason, booked_at=booking_date, source=f"{source}:{line}",
        line=line, seq=seq, raw_sha256=sha, booking=booking, reversal=reversal, return_code=code,
        booking_date=booking_date, value_date=value_date, bank_ref=trace)


def _sums(entries: list[_Entry]) -> tuple[int, int, int, int]:
    """Entry/addenda count, entry hash (mod 10^10), total debit and total credit of entries."""
    count = hashed = debit = credit = 0
    for e in entries:
        count += 1 + len(e.addenda)
        hashed += _num(e.rec, 4, 11, e.line, "RDFI routing number")
        amount = _num(e.rec, 30, 39, e.line, "amount", "AMOUNT_INVALID")
        if _is_credit(e.code):
            credit += amount
        else:
            debit += amount
    return count, hashed % 10**10, debit, credit


def _compare(stated: dict[str, int | str], actual: dict[str, int | str]) -> list[str]:
    """What the control states against what the records add up to."""
    return [f"{k} {stated[k]} but records give {actual[k]}" for k in stated if stated[k] != actual[k]]


def nacha_receipts(data: bytes, source: str, sha: str) -> tuple[list[Receipt], list[Flag]]:
    """ACH entries, returns and NOCs with their lines, so controls that do not add up taint what they cover."""
    header, batches, (fc_line, fc), n_records = _structure(_records(data))
    out: list[Receipt] = []
    flags: list[Flag] = []
    all_entries: list[_Entry] = []
    for b in batches:
        seqs: list[int] = []
        for e in b.entries:
            seqs.append(len(out))
            out.append(_receipt(e, b, len(out), source, sha))
        all_entries += b.entries
        c_line, c = b.control
        count, hashed, debit, credit = _sums(b.entries)
        scc = b.rec[1:4]
        stated = {"service class": c[1:4], "entry/addenda count": _num(c, 5, 10, c_line, "entry/addenda count"),
                  "entry hash": _num(c, 11, 20, c_line, "entry hash"),
                  "total debit": _num(c, 21, 32, c_line, "total debit amount", "AMOUNT_INVALID"),
                  "total credit": _num(c, 33, 44, c_line, "total credit amount", "AMOUNT_INVALID"),
                  "company id": c[44:54].strip(), "ODFI": c[79:87], "batch number": c[87:94]}
        actual = {"service class": scc, "entry/addenda count": count, "entry hash": hashed, "total debit": debit,
                  "total credit": credit, "company id": b.rec[40:50].strip(), "ODFI": b.rec[79:87],
                  "batch number": b.rec[87:94]}
        problems = _compare(stated, actual)
        if scc == "220" and debit:
            problems.append("service class 220 (credits only) but the batch has debit entries")
        if scc == "225" and credit:
            problems.append("service class 225 (debits only) but the batch has credit entries")
        if problems:
            flags.append(Flag("NACHA_CONTROL_MISMATCH", f"batch {b.rec[87:94]} (header line {b.line}, control line "
                              f"{c_line}): " + "; ".join(problems), c_line, tuple(seqs)))
    count, hashed, debit, credit = _sums(all_entries)
    factor = _num(header, 38, 39, 1, "blocking factor") or 10
    # NACHA pads with 9... filler to whole blocks; files that are not padded count their last partial block
    blocks = {math.ceil(n_records / factor), math.ceil(fc_line / factor)}
    stated_blocks = _num(fc, 8, 13, fc_line, "block count")
    stated = {"batch count": _num(fc, 2, 7, fc_line, "batch count"),
              "entry/addenda count": _num(fc, 14, 21, fc_line, "entry/addenda count"),
              "entry hash": _num(fc, 22, 31, fc_line, "entry hash"),
              "total debit": _num(fc, 32, 43, fc_line, "total debit amount", "AMOUNT_INVALID"),
              "total credit": _num(fc, 44, 55, fc_line, "total credit amount", "AMOUNT_INVALID")}
    actual = {"batch count": len(batches), "entry/addenda count": count, "entry hash": hashed, "total debit": debit,
              "total credit": credit}
    problems = _compare(stated, actual)
    if stated_blocks not in blocks:
        problems.append(f"block count {stated_blocks} but records give {min(blocks)}")
    if problems:
        flags.append(Flag("NACHA_CONTROL_MISMATCH", f"file control (line {fc_line}): " + "; ".join(problems),
                          fc_line, None))
    return out, flags

