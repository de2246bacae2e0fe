"""Provider report intake: `parse_report(format, path)` → receipts, or the whole file quarantined."""

from __future__ import annotations

import hashlib
from pathlib import Path

from connectors.psp import iso_reports, psp_reports
from connectors.psp.receipts import FORMATS, ParseResult, Quarantine, ReportError

# Files in ../shared/fixtures that are deliberately not provider-report formats of this module:
# pain.001 (our own outbound message; read back with connectors.psp.pain001.read_pain001),
# Checkout.com payouts CSV and Adyen "payments accounting" CSV (no parser: quarantined FORMAT_MISMATCH).
UNSUPPORTED = {"pain001": "outbound initiation message, read with connectors.psp.pain001.read_pain001",
               "checkout-payouts": "Checkout.com payouts CSV: not supported",
               "adyen-accounting": "Adyen payments accounting report: not supported (use settlement details)"}


def parse_bytes(fmt: str, data: bytes, name: str) -> ParseResult:
    """Parse report bytes; any error quarantines the whole file with reason code and line."""
    sha = hashlib.sha256(data).hexdigest()
    res = ParseResult(path=name, format=fmt, raw_sha256=sha)
    try:
        if fmt not in FORMATS:
            raise ReportError("FORMAT_UNSUPPORTED", f"unknown format {fmt!r} (expected {', '.join(FORMATS)})",
                              None)
        if fmt in ("camt052", "camt053", "camt054"):
            res.receipts = iso_reports.camt_receipts(data, fmt, name, sha)
        elif fmt == "pain002":
            res.receipts = iso_reports.pain002_receipts(data, name, sha)
        else:
            res.receipts = psp_reports.CSV_PARSERS[fmt](data, name, sha)
    except ReportError as exc:
        res.receipts = []
        res.quarantined = [Quarantine(name, fmt, sha, exc.reason_code, exc.reason, exc.line)]
    return res


def parse_report(fmt: str, path: str | Path) -> ParseResult:
    """Parse a provider report file (formats: see connectors.psp.receipts.FORMATS)."""
    p = Path(path)
    return parse_bytes(fmt, p.read_bytes(), p.name)


def detect_format(data: bytes) -> str | None:
    """Guess a report's format from its content (used for drop-zone files); None when unknown."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        try:
            kind = iso_reports.message_kind(iso_reports.parse_xml(data))
        except ReportError:
            return None
        return kind if kind in FORMATS else None
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    if first.startswith(('"RH"', '"FH"', '"SH"', '"CH"', "RH,", "FH,", "SH,", "CH,")):
        return "paypal-stl"
    cols = {c.strip().strip('"') for c in first.split(",")}
    if {"currency", "gross", "fee", "net", "reporting_category"} <= cols:
        return "stripe"
    if {"Psp Reference", "Type", "Net Currency", "Batch Number"} <= cols:
        return "adyen-settlement"
    return None
