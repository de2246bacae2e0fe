"""Provider CSV reports into receipts: shared CSV helpers and `CSV_PARSERS` (format -> parser).

The readers live in `stripe_report` (Stripe balance / payout reconciliation), `paypal_report` (PayPal Settlement
STL and Transaction Detail TRR) and `adyen_report` (Adyen Settlement details). Each returns `(receipts, flags)`
and raises `ReportError` to quarantine the whole file; amounts are exact integer minor units.
"""

from __future__ import annotations

import csv
import importlib
import io
import re
from collections.abc import Callable

from connectors.psp.receipts import Flag, Receipt, ReportError
from vgos.money import MoneyError, decimal_to_minor, exponent, is_iso4217

ParseOutput = list[Receipt] | tuple[list[Receipt], list[Flag]]
CsvParser = Callable[[bytes, str, str], ParseOutput]


def csv_rows(data: bytes) -> list[tuple[int, list[str]]]:
    """CSV rows with the 1-based line each starts on, so a quarantine points at the broken row."""
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


def csv_table(data: bytes, required: tuple[str, ...], fmt: str,
              hint: Callable[[list[str]], str | None] | None = None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and rows of a one-header CSV, refusing a foreign layout or a short row before any row is read."""
    rows = [(n, r) for n, r in csv_rows(data) if any(c.strip() for c in r)]
    if not rows:
        raise ReportError("REPORT_EMPTY", "no header row", 1)
    hline, header = rows[0]
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        what = (hint(header) if hint else None) or "unknown layout"
        raise ReportError("FORMAT_MISMATCH", f"not in the {fmt} format ({what}): missing columns {', '.join(missing)}",
                          hline)
    for n, r in rows[1:]:
        if len(r) != len(header):
            raise ReportError("REPORT_MALFORMED", f"{len(r)} fields, the header has {len(header)}", n)
    return header, rows[1:]


def to_currency(text: str | None, line: int, field: str) -> str:
    """An active ISO 4217 code (upper-cased), else CURRENCY_INVALID: made-up codes must not become money."""
    code = (text or "").strip().upper()
    if not is_iso4217(code):
        raise ReportError("CURRENCY_INVALID", f"field {field}: {code!r} is not an active ISO 4217 currency", line)
    return code


def to_minor(text: str, currency: str, line: int, field: str, *, unsigned: bool = False) -> int:
    """Exact minor units of a decimal amount; `unsigned` refuses a sign where the format puts direction elsewhere."""
    t = (text or "").strip()
    if unsigned and t[:1] in ("-", "+"):
        raise ReportError("AMOUNT_INVALID", f"field {field}: signed amount {t!r} where the format has none", line)
    try:
        return decimal_to_minor(t, currency)
    except MoneyError as exc:
        raise ReportError("AMOUNT_INVALID", f"field {field}: {exc}", line) from None


def hundredths_to_minor(hundredths: int, currency: str, line: int, field: str) -> int:
    """Minor units of an amount written in hundredths of the major unit (PayPal), exact or AMOUNT_INVALID."""
    exp = exponent(currency)
    scaled = hundredths * 10**exp
    if scaled % 100:
        raise ReportError("AMOUNT_INVALID", f"field {field}: {hundredths} hundredths of {currency} is not a whole "
                                            f"number of minor units ({exp} decimals)", line)
    return scaled // 100


_STAMP = re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?))?\s*(Z|[+-]\d{2}:?\d{2})?$")


def iso_stamp(text: str | None, offset: str | None = None) -> tuple[str | None, str | None]:
    """(ISO timestamp, date) of '2026/01/06 00:00:30 -0800', with `offset` from a separate zone column if given."""
    m = _STAMP.match((text or "").strip())
    if not m:
        return None, None
    y, mo, d, t, off = m.groups()
    day = f"{y}-{mo}-{d}"
    if t is None:
        return day, day
    off = off or offset or ""
    if len(off) == 5 and off[0] in "+-":
        off = f"{off[:3]}:{off[3:]}"
    return f"{day}T{t}{off}", day


def _lazy(module: str, func: str, doc: str) -> CsvParser:
    """A parser that imports its reader module on first use (the readers import these helpers)."""

    def parse(data: bytes, source: str, sha: str) -> ParseOutput:
        return getattr(importlib.import_module(f"connectors.psp.{module}"), func)(data, source, sha)

    parse.__name__ = parse.__qualname__ = func
    parse.__doc__ = doc
    return parse


stripe_receipts = _lazy("stripe_report", "stripe_receipts",
                        "Stripe itemized balance / payout reconciliation report (see stripe_report).")
paypal_stl_receipts = _lazy("paypal_report", "paypal_stl_receipts",
                            "PayPal Settlement report STL (see paypal_report).")
paypal_trr_receipts = _lazy("paypal_report", "paypal_trr_receipts",
                            "PayPal Transaction Detail report TRR (see paypal_report).")
adyen_receipts = _lazy("adyen_report", "adyen_receipts", "Adyen Settlement details report (see adyen_report).")
paypal_receipts = paypal_stl_receipts  # the name the first reader had


def paypal_report_kind(data: bytes) -> str | None:
    """'paypal-trr' or 'paypal-stl' for a PayPal SFTP report, else None: for format detection of dropped files."""
    return importlib.import_module("connectors.psp.paypal_report").paypal_report_kind(data)


CSV_PARSERS: dict[str, CsvParser] = {
    "stripe": stripe_receipts, "paypal-stl": paypal_stl_receipts, "paypal-trr": paypal_trr_receipts,
    "adyen-settlement": adyen_receipts}
