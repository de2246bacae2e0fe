"""PayPal SFTP reports into receipts: Settlement report (STL) and Transaction Detail report (TRR).

Both files are CSV rows tagged in their first field: RH report header, FH file header, SH section header, CH
column names, SB one transaction, SF section totals per currency, SC section row count, RF report totals per
currency, RC report row count, FF file row count. Per PayPal's specifications money amounts are unsigned
integers with two implied decimals in every currency ("100,00 yen and $100.00 USD are both represented as
10000"); the direction comes from "Transaction Debit or Credit" / "Fee Debit or Credit". SF/RF rows give
Total Gross Amount Credit, Total Gross Amount Debit, Total Fee Amount Credit, Total Fee Amount Debit (fields 3-6)
and then balances; a footer that disagrees with the SB rows it sums flags the whole file PAYPAL_FOOTER_MISMATCH.

Transaction event codes (T-codes, developer.paypal.com/docs/reports/reference/tcodes): T00 payments (T0001
MassPay / Payouts item: what VGOS sends, connectors/psp/paypal.py), T01 fees, T02 currency conversion, T04 bank
withdrawal, T11 reversals (T1106 reversal by PayPal, T1107 refund, T1108/T1109 fee reversal and refund, T1114 and
T1115 MassPay reversal and refund: a returned or unclaimed payout), T12 adjustments (T1201 chargeback, T1202
chargeback reversal), T13 authorizations, T15 and T21 holds and reserves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from connectors.psp.psp_reports import csv_rows, hundredths_to_minor, iso_stamp, to_currency
from connectors.psp.receipts import BOOKED, BOOKING, FEE, INFO, NOTICE, PENDING, STATUS, Flag, Receipt, ReportError

TAGS = ("RH", "FH", "SH", "CH", "SB", "SF", "SC", "RF", "RC", "FF")
NEED = ("Transaction ID", "Transaction Event Code", "Transaction Debit or Credit", "Gross Transaction Amount",
        "Gross Transaction Currency")
TRR_STATUS = ("Transactional Status", "Transaction Status")  # only the TRR has it
FOOTER_FIELDS = ("Total Gross Amount Credit", "Total Gross Amount Debit", "Total Fee Amount Credit",
                 "Total Fee Amount Debit")
HOLDS = frozenset({"T1105", "T1110", "T1111"})  # hold released / placed / cancelled: no money left the account
NOT_REVERSAL_T11 = HOLDS | {"T1113"}  # T1113 non-reference credit payment
REVERSAL_T12 = frozenset({"T1201", "T1202", "T1205", "T1207", "T1208"})  # chargeback and its reversals
PAYOUT_CODES = frozenset({"T0001", "T0104", "T1114", "T1115", "T1503"})  # Payouts item, batch fee, returns, hold
_TCODE = re.compile(r"^T\d{4}$")


@dataclass
class _Totals:
    """Unsigned sums of SB rows per currency in PayPal's hundredths, the way SF/RF rows state them."""

    sums: dict[str, list[int]] = field(default_factory=dict)
    count: int = 0

    def add(self, ccy: str, gross: int, gross_dc: str, fee: int, fee_dc: str) -> None:
        """Count one SB row on the side of the footer it belongs to."""
        s = self.sums.setdefault(ccy, [0, 0, 0, 0])
        s[0 if gross_dc == "CR" else 1] += gross
        if fee:
            s[2 if fee_dc == "CR" else 3] += fee
        self.count += 1


def paypal_report_kind(data: bytes) -> str | None:
    """'paypal-trr' or 'paypal-stl' for a PayPal SFTP report (the CH row names a status column only in TRR)."""
    head = data[:65536].decode("utf-8-sig", "replace").lstrip()
    if not head[:5].replace('"', "").startswith(("RH,", "FH,", "SH,", "CH,")):
        return None
    for line in head.splitlines():
        if line.replace('"', "").startswith("CH,"):
            cols = {c.strip().strip('"') for c in line.split(",")}
            return "paypal-trr" if cols & set(TRR_STATUS) else "paypal-stl"
    return "paypal-stl"


def paypal_stl_receipts(data: bytes, source: str, sha: str) -> tuple[list[Receipt], list[Flag]]:
    """Settlement report (STL); a TRR handed in under this name is read as the TRR it is (format paypal-trr)."""
    return _parse(data, source, sha, "paypal-stl")


def paypal_trr_receipts(data: bytes, source: str, sha: str) -> tuple[list[Receipt], list[Flag]]:
    """Transaction Detail report (TRR): also pending, denied and reversed transactions, by Transactional Status."""
    return _parse(data, source, sha, "paypal-trr")


def _classify(tcode: str) -> tuple[str, str, str, bool]:
    """(kind, level, booking, reversal) of a T-code."""
    group = tcode[:3]
    if group == "T01":
        return FEE, "TX", BOOKED, False
    if tcode in ("T1108", "T1109"):
        return FEE, "TX", BOOKED, True
    if group == "T04":
        return BOOKING, "BATCH", BOOKED, False  # a withdrawal of the balance to the merchant's bank
    if group in ("T15", "T21") or tcode in HOLDS:
        return BOOKING, "TX", INFO, False  # holds and reserves move money between balances, not off the account
    if group in ("T13", "T98"):
        return NOTICE, "TX", INFO, False  # authorizations, display-only rows
    if group == "T11" and tcode not in NOT_REVERSAL_T11:
        return BOOKING, "TX", BOOKED, True
    return BOOKING, "TX", BOOKED, tcode in REVERSAL_T12


def _hundredths(text: str, line: int, name: str, *, required: bool) -> int:
    """An unsigned integer amount field; a sign, decimal point or other text is AMOUNT_INVALID."""
    t = text.strip()
    if not t and not required:
        return 0
    if not t.isdigit() or not t.isascii():
        raise ReportError("AMOUNT_INVALID", f"field {name}: {t!r} is not an unsigned integer amount "
                                            f"(PayPal writes amounts without sign or decimal point)", line)
    return int(t)


def _dec(hundredths: int) -> str:
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _parse(data: bytes, source: str, sha: str, fmt: str) -> tuple[list[Receipt], list[Flag]]:
    """Receipts of the SB rows, and one flag per footer (SF/SC/RF/RC/FF) that its rows do not add up to."""
    rows = [(n, [c.strip() for c in r]) for n, r in csv_rows(data) if any(c.strip() for c in r)]
    if not rows or rows[0][1][0] not in ("RH", "FH", "SH", "CH"):
        raise ReportError("FORMAT_MISMATCH", f"not a PayPal {fmt[7:].upper()} report: the first field must be "
                                             f"RH/FH/SH/CH", rows[0][0] if rows else 1)
    header: list[str] | None = None
    layout: str | None = None
    account: str | None = None
    out: list[Receipt] = []
    problems: list[tuple[int, str]] = []
    conv_refs: dict[int, str] = {}
    file_tot, report_tot = _Totals(), _Totals()
    sec_tot, sec_known = _Totals(), True
    sec_footers: set[str] = set()
    rf_footers: set[str] = set()
    report_known = True

    def footer(n: int, r: list[str], tot: _Totals, scope: str) -> str:
        if len(r) < 6:
            raise ReportError("REPORT_MALFORMED", f"{r[0]} row has {len(r)} fields, needs at least 6", n)
        ccy = to_currency(r[1], n, f"{r[0]} currency")
        said = [_hundredths(v, n, f"{r[0]} {name}", required=True) for v, name in zip(r[2:6], FOOTER_FIELDS,
                                                                                     strict=True)]
        body = tot.sums.get(ccy, [0, 0, 0, 0])
        diffs = [f"{name} {s} ({_dec(s)} {ccy}) but the SB rows sum to {b} ({_dec(b)} {ccy})"
                 for name, s, b in zip(FOOTER_FIELDS, said, body, strict=True) if s != b]
        if diffs:
            problems.append((n, f"{r[0]} {ccy} (line {n}, {scope}): " + "; ".join(diffs)))
        return ccy

    def count(n: int, r: list[str], got: int, scope: str) -> None:
        said = _hundredths(r[1] if len(r) > 1 else "", n, f"{r[0]} record count", required=True)
        if said != got:
            problems.append((n, f"{r[0]} (line {n}, {scope}): record count {said} but there are {got} SB rows"))

    def unfooted(n: int, tot: _Totals, seen: set[str], tag: str) -> None:
        if seen:
            for ccy in sorted(set(tot.sums) - seen):
                body = ", ".join(f"{name} {v}" for name, v in zip(FOOTER_FIELDS, tot.sums[ccy], strict=True))
                problems.append((n, f"no {tag} row for {ccy}, which the SB rows hold ({body})"))

    for n, r in rows:
        tag = r[0]
        if tag == "RH":
            account = r[3] if len(r) > 3 and r[3] else account
        elif tag == "FH":
            seq_no = r[1] if len(r) > 1 else ""
            if seq_no.isdigit() and int(seq_no) > 1:  # a continuation file: earlier files hold the rest
                report_known = sec_known = False
        elif tag == "SH":
            unfooted(n, sec_tot, sec_footers, "SF")
            sec_tot, sec_known, sec_footers = _Totals(), True, set()
            account = r[3] if len(r) > 3 and r[3] else account
        elif tag == "CH":
            header = r[1:]
            missing = [c for c in NEED if c not in header]
            if missing:
                raise ReportError("FORMAT_MISMATCH", f"CH row lacks {', '.join(missing)}", n)
            this = "paypal-trr" if set(header) & set(TRR_STATUS) else "paypal-stl"
            if fmt == "paypal-trr" and this == "paypal-stl":
                raise ReportError("FORMAT_MISMATCH", "a Settlement report (STL, no Transactional Status column): "
                                                     "parse it as paypal-stl", n)
            if layout not in (None, this):
                raise ReportError("REPORT_SCHEMA", "CH rows of STL and TRR layouts in one file", n)
            layout = this
        elif tag == "SB":
            if header is None:
                raise ReportError("REPORT_SCHEMA", "SB row before the CH column header", n)
            if len(r) - 1 != len(header):
                raise ReportError("REPORT_MALFORMED", f"{len(r) - 1} fields, the CH row has {len(header)}", n)
            row = dict(zip(header, r[1:], strict=True))
            rec, gross, fee = _receipt(row, n, len(out), layout or fmt, source, sha, account)
            out.append(rec)
            if rec.status.startswith("T02") and row.get("PayPal Reference ID"):
                conv_refs[rec.seq] = row["PayPal Reference ID"]
            for t in (file_tot, report_tot, sec_tot):
                t.add(rec.currency or "", gross, row["Transaction Debit or Credit"], fee,
                      row.get("Fee Debit or Credit", ""))
        elif tag == "SF":
            if sec_known:
                sec_footers.add(footer(n, r, sec_tot, "section"))
        elif tag == "SC":
            if sec_known:
                count(n, r, sec_tot.count, "section")
                unfooted(n, sec_tot, sec_footers, "SF")
            sec_tot, sec_known, sec_footers = _Totals(), True, set()
        elif tag == "RF":
            if report_known:
                rf_footers.add(footer(n, r, report_tot, "report"))
        elif tag == "RC":
            if report_known:
                count(n, r, report_tot.count, "report")
        elif tag == "FF":
            count(n, r, file_tot.count, "file")
        else:
            raise ReportError("REPORT_SCHEMA", f"unknown PayPal row type {tag!r} (expected {'/'.join(TAGS)})", n)
    if header is None:
        raise ReportError("REPORT_SCHEMA", "no CH column header row", rows[-1][0])
    end = rows[-1][0]
    if sec_known:
        unfooted(end, sec_tot, sec_footers, "SF")
    if report_known:
        unfooted(end, report_tot, rf_footers, "RF")
    flags = [Flag("PAYPAL_FOOTER_MISMATCH", detail, n, None) for n, detail in problems]
    return _pair_conversions(out, conv_refs), flags


def _receipt(row: dict[str, str], n: int, seq: int, fmt: str, source: str, sha: str,
             account: str | None) -> tuple[Receipt, int, int]:
    """One SB row: the receipt, and its gross and fee in hundredths for the footer totals."""
    txn = row["Transaction ID"]
    if not txn:
        raise ReportError("REPORT_SCHEMA", "field Transaction ID: empty", n)
    tcode = row["Transaction Event Code"].upper()
    if not _TCODE.match(tcode):
        raise ReportError("REPORT_SCHEMA", f"field Transaction Event Code: {tcode!r} is not a T-code", n)
    dc = row["Transaction Debit or Credit"]
    if dc not in ("CR", "DR"):
        raise ReportError("REPORT_SCHEMA", f"field Transaction Debit or Credit: {dc!r} (CR or DR)", n)
    ccy = to_currency(row["Gross Transaction Currency"], n, "Gross Transaction Currency")
    gross = _hundredths(row["Gross Transaction Amount"], n, "Gross Transaction Amount", required=True)
    fee = _hundredths(row.get("Fee Amount", ""), n, "Fee Amount", required=False)
    fee_dc = row.get("Fee Debit or Credit", "")
    if fee:
        fee_ccy = to_currency(row.get("Fee Currency") or ccy, n, "Fee Currency")
        if fee_ccy != ccy:
            raise ReportError("REPORT_SCHEMA", f"field Fee Currency: {fee_ccy} fee on a {ccy} transaction", n)
        if fee_dc not in ("CR", "DR"):
            raise ReportError("REPORT_SCHEMA", f"field Fee Debit or Credit: {fee_dc!r} (CR or DR)", n)
    kind, level, booking, reversal = _classify(tcode)
    return_code = tcode if reversal else None
    reason = None
    if fmt == "paypal-trr":
        st = next((row[c] for c in TRR_STATUS if row.get(c)), "").upper()
        if st and st != "S":
            reason = f"Transactional Status {st}"
        if st == "P" and booking == BOOKED:
            booking = PENDING
        elif st == "V":
            reversal, return_code = True, return_code or "V"
        elif st == "D":
            kind, reversal, return_code = STATUS, True, return_code or "D"
    ref, ref_type = row.get("PayPal Reference ID") or None, row.get("PayPal Reference ID Type", "").upper()
    if tcode[:3] == "T04":
        batch_ref = row.get("Bank Reference ID") or None  # the reference of the transfer on the bank statement
    else:
        batch_ref = ref if tcode in PAYOUT_CODES and ref_type != "TXN" else None
    direction = "DBIT" if dc == "DR" else "CRDT"
    counterpart = row.get("Consumer ID") or row.get("Payer's Account ID") or None
    stamp, day = iso_stamp(row.get("Transaction Completion Date") or row.get("Transaction Initiation Date"))
    rec = Receipt(
        provider="paypal", format=fmt, kind=kind, level=level, provider_ref=txn, batch_ref=batch_ref,
        end_to_end_id=row.get("Invoice ID") or row.get("Custom Field") or None, window_ref=None,
        payee_ref=counterpart if direction == "DBIT" or reversal else None,
        amount_minor=hundredths_to_minor(gross, ccy, n, "Gross Transaction Amount"), currency=ccy,
        fee_minor=hundredths_to_minor(fee, ccy, n, "Fee Amount"), direction=direction, status=tcode,
        reason=reason, booked_at=stamp, source=f"{source}:{n}", line=n, seq=seq, raw_sha256=sha, booking=booking,
        reversal=reversal, return_code=return_code, booking_date=day, bank_ref=txn, account=account)
    return rec, gross, fee


def _pair_conversions(out: list[Receipt], refs: dict[int, str]) -> list[Receipt]:
    """Each leg of a currency conversion (two T02xx rows naming each other) carries the other leg's amount."""
    legs = {r.provider_ref: r for r in out if r.seq in refs}
    res = []
    for r in out:
        other = legs.get(refs.get(r.seq, ""))
        if other is not None and other is not r and other.currency != r.currency and \
                refs.get(other.seq) == r.provider_ref:
            r = replace(r, instructed_minor=other.amount_minor, instructed_currency=other.currency)
        res.append(r)
    return res
