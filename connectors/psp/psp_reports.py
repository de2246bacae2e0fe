"""Stripe, PayPal STL and Adyen settlement CSV readers into receipts (exact decimal → minor conversion)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from connectors.psp.receipts import Receipt, ReportError
from vgos.money import MoneyError, decimal_to_minor, exponent, minor_to_decimal


def _rows(data: bytes) -> list[tuple[int, list[str]]]:
    """CSV rows with the 1-based line each starts on; undecodable bytes are REPORT_MALFORMED."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReportError("REPORT_MALFORMED", f"not UTF-8 ({exc.reason})", line) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            out.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ReportError("REPORT_MALFORMED", f"CSV error: {exc}", start) from None
    return out


def _minor(text: str, ccy: str, line: int, field: str) -> int:
    try:
        return decimal_to_minor(text, ccy)
    except MoneyError as exc:
        raise ReportError("AMOUNT_INVALID", f"field {field}: {exc}", line) from None


def _ccy(text: str, line: int, field: str) -> str:
    c = (text or "").strip().upper()
    try:
        exponent(c)
    except MoneyError as exc:
        raise ReportError("CURRENCY_INVALID", f"field {field}: {exc}", line) from None
    return c


def _table(data: bytes, required: tuple[str, ...], fmt: str) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    rows = [(n, r) for n, r in _rows(data) if any(c.strip() for c in r)]
    if not rows:
        raise ReportError("REPORT_EMPTY", "no header row", 1)
    hline, header = rows[0]
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise ReportError("FORMAT_MISMATCH", f"not a {fmt} report: missing columns {', '.join(missing)}", hline)
    for n, r in rows[1:]:
        if len(r) != len(header):
            raise ReportError("REPORT_MALFORMED", f"{len(r)} fields, header has {len(header)}", n)
    return hline, header, rows[1:]


def stripe_receipts(data: bytes, source: str, sha: str) -> list[Receipt]:
    """Stripe itemized balance / payout reconciliation CSV (gross, fee, net in major units)."""
    _, header, rows = _table(data, ("currency", "gross", "fee", "net", "reporting_category"), "stripe")
    idx = {h: i for i, h in enumerate(header)}
    ref_col = "balance_transaction_id" if "balance_transaction_id" in idx else "id"

    def get(r: list[str], *names: str) -> str | None:
        for name in names:
            for col, i in idx.items():
                if (col == name or col.endswith(f"metadata[{name}]")) and r[i].strip():
                    return r[i].strip()
        return None

    out: list[Receipt] = []
    for n, r in rows:
        ccy = _ccy(r[idx["currency"]], n, "currency")
        gross = _minor(r[idx["gross"]], ccy, n, "gross")
        fee = _minor(r[idx["fee"]] or "0", ccy, n, "fee")
        out.append(Receipt(
            provider="stripe", format="stripe", kind="BOOKING", level="TX",
            provider_ref=get(r, ref_col), batch_ref=get(r, "provider_batch_id", "automatic_payout_id",
                                                        "payout_id"),
            end_to_end_id=get(r, "end_to_end_id"), window_ref=get(r, "window_id", "transfer_group"),
            payee_ref=get(r, "connected_account", "destination_id", "destination"),
            amount_minor=abs(gross), currency=ccy, fee_minor=abs(fee), direction="DBIT" if gross < 0 else "CRDT",
            status=(get(r, "reporting_category") or "").upper(), reason=None,
            booked_at=get(r, "created_utc", "created"), source=f"{source}:{n}", line=n, seq=len(out),
            raw_sha256=sha))
    return out


_PP_DATE = re.compile(r"^(\d{4})/(\d{2})/(\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$")


def _pp_date(text: str) -> str | None:
    m = _PP_DATE.match(text.strip())
    if not m:
        return text.strip() or None
    y, mo, d, t, oh, om = m.groups()
    return f"{y}-{mo}-{d}T{t}{oh}:{om}"


def _pp_minor(text: str, ccy: str, line: int, field: str) -> int:
    """PayPal report amounts carry two implied decimals ('5200' AUD = 52.00); converted exactly."""
    t = (text or "0").strip() or "0"
    if not re.fullmatch(r"-?\d+", t):
        raise ReportError("AMOUNT_INVALID", f"field {field}: not an integer amount: {t!r}", line)
    return _minor(minor_to_decimal(int(t), "USD"), ccy, line, field)


def paypal_receipts(data: bytes, source: str, sha: str) -> list[Receipt]:
    """PayPal Settlement (STL) report: CH column header, SB body rows (also reads TRR with the same layout)."""
    header: list[str] | None = None
    out: list[Receipt] = []
    rows = _rows(data)
    if not rows or not rows[0][1] or rows[0][1][0] not in ("RH", "FH", "SH", "CH"):
        raise ReportError("FORMAT_MISMATCH", "not a PayPal STL report: first field must be RH/FH/SH/CH", 1)
    for n, r in rows:
        if not r:
            continue
        tag = r[0]
        if tag == "CH":
            header = [h.strip() for h in r[1:]]
            need = ("Transaction ID", "Transaction Debit or Credit", "Gross Transaction Amount",
                    "Gross Transaction Currency")
            missing = [c for c in need if c not in header]
            if missing:
                raise ReportError("FORMAT_MISMATCH", f"CH row lacks {', '.join(missing)}", n)
        elif tag == "SB":
            if header is None:
                raise ReportError("REPORT_SCHEMA", "SB row before the CH column header", n)
            if len(r) - 1 != len(header):
                raise ReportError("REPORT_MALFORMED", f"{len(r) - 1} fields, CH has {len(header)}", n)
            row = dict(zip(header, (c.strip() for c in r[1:]), strict=True))
            ccy = _ccy(row["Gross Transaction Currency"], n, "Gross Transaction Currency")
            amt = _pp_minor(row["Gross Transaction Amount"], ccy, n, "Gross Transaction Amount")
            fee = 0
            if row.get("Fee Amount") and row.get("Fee Currency", ccy).upper() in (ccy, ""):
                fee = _pp_minor(row["Fee Amount"], ccy, n, "Fee Amount")
            e2e = next((row[c] for c in ("Invoice ID", "Custom Field") if row.get(c)), None)
            out.append(Receipt(
                provider="paypal", format="paypal-stl", kind="BOOKING", level="TX",
                provider_ref=row["Transaction ID"] or None, batch_ref=row.get("PayPal Reference ID") or None,
                end_to_end_id=e2e, window_ref=None, payee_ref=row.get("Consumer ID") or None,
                amount_minor=abs(amt), currency=ccy, fee_minor=abs(fee),
                direction="DBIT" if row["Transaction Debit or Credit"] == "DR" else "CRDT",
                status=row.get("Transaction Event Code") or "UNKNOWN", reason=None,
                booked_at=_pp_date(row.get("Transaction Completion Date") or
                                   row.get("Transaction Initiation Date") or ""),
                source=f"{source}:{n}", line=n, seq=len(out), raw_sha256=sha))
        elif tag not in ("RH", "FH", "SH", "SF", "SC", "RF", "RC", "FF"):
            raise ReportError("REPORT_SCHEMA", f"unknown PayPal row type {tag!r}", n)
    if header is None:
        raise ReportError("REPORT_SCHEMA", "no CH column header row", len(rows))
    return out


_ADYEN_FEES = ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Fees (NC)")


def adyen_receipts(data: bytes, source: str, sha: str) -> list[Receipt]:
    """Adyen Settlement details report (Net Debit/Credit in the net currency, fees summed per row)."""
    _, header, rows = _table(data, ("Psp Reference", "Type", "Net Currency", "Net Debit (NC)",
                                    "Net Credit (NC)", "Batch Number"), "adyen-settlement")
    idx = {h: i for i, h in enumerate(header)}
    out: list[Receipt] = []
    for n, r in rows:
        row = {h: r[i].strip() for h, i in idx.items()}
        ccy = _ccy(row["Net Currency"], n, "Net Currency")
        debit = _minor(row["Net Debit (NC)"] or "0", ccy, n, "Net Debit (NC)")
        credit = _minor(row["Net Credit (NC)"] or "0", ccy, n, "Net Credit (NC)")
        fee = sum(_minor(row[c] or "0", ccy, n, c) for c in _ADYEN_FEES if c in row)
        typ = row["Type"]
        tz = row.get("TimeZone") or ""
        out.append(Receipt(
            provider="adyen", format="adyen-settlement", kind="BOOKING",
            level="BATCH" if typ == "MerchantPayout" else "TX",
            provider_ref=row["Psp Reference"] or row.get("Modification Reference") or None,
            batch_ref=row["Batch Number"] or None,
            end_to_end_id=row.get("Merchant Reference") or row.get("Modification Merchant Reference") or None,
            window_ref=None, payee_ref=None, amount_minor=abs(credit - debit), currency=ccy, fee_minor=abs(fee),
            direction="DBIT" if debit > credit else "CRDT", status=typ, reason=None,
            booked_at=(f"{row.get('Creation Date')} {tz}".strip() or None), source=f"{source}:{n}", line=n,
            seq=len(out), raw_sha256=sha))
    return out


CSV_PARSERS: dict[str, Callable[[bytes, str, str], list[Receipt]]] = {
    "stripe": stripe_receipts, "paypal-stl": paypal_receipts, "adyen-settlement": adyen_receipts}
