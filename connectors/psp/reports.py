"""Provider report intake: `parse_report(format, path)` → receipts, or the whole file quarantined."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from connectors.psp import iso_reports, psp_reports
from connectors.psp.receipts import FORMATS, Flag, ParseResult, Quarantine, Receipt, ReportError

# A parser reads a whole file: (bytes, file name, sha256) -> receipts, or (receipts, flags) when the file
# contradicts itself; it raises ReportError to quarantine the whole file.
Parser = Callable[[bytes, str, str], "list[Receipt] | tuple[list[Receipt], list[Flag]]"]


def _parsers() -> dict[str, Parser]:
    """Format -> parser (imported lazily so one broken optional reader never blocks the others)."""
    from connectors.psp import mt940_report, nacha_report

    return {
        "camt052": lambda d, n, s: iso_reports.camt_receipts(d, "camt052", n, s),
        "camt053": lambda d, n, s: iso_reports.camt_receipts(d, "camt053", n, s),
        "camt054": lambda d, n, s: iso_reports.camt_receipts(d, "camt054", n, s),
        "pain002": iso_reports.pain002_receipts,
        "mt940": mt940_report.mt940_receipts,
        "nacha": nacha_report.nacha_receipts,
        **psp_reports.CSV_PARSERS,
    }

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
        out = _parsers()[fmt](data, name, sha)
        receipts, flags = out if isinstance(out, tuple) else (out, [])
        _check_magnitudes(receipts)
        res.receipts, res.flags = _apply_flags(receipts, flags), list(flags)
    except ReportError as exc:
        res.receipts, res.flags = [], []
        res.quarantined = [Quarantine(name, fmt, sha, exc.reason_code, exc.reason, exc.line)]
    except RecursionError:
        res.receipts, res.flags = [], []
        res.quarantined = [Quarantine(name, fmt, sha, "REPORT_MALFORMED", "nested too deeply", None)]
    return res


MAX_AMOUNT = 2**53 - 1  # beyond it an amount has no exact JSON form (result digests) and overflows int64 sums


def _check_magnitudes(receipts: list[Receipt]) -> None:
    """An amount no real booking can have is a broken file, not a receipt: it would overflow sums and digests."""
    for r in receipts:
        for field in ("amount_minor", "fee_minor", "instructed_minor", "n_txs"):
            v = getattr(r, field)
            if v is not None and not -MAX_AMOUNT <= v <= MAX_AMOUNT:
                raise ReportError("AMOUNT_INVALID", f"field {field}: {v} minor units is beyond ±(2^53−1)", r.line)


def _apply_flags(receipts: list[Receipt], flags: list[Flag]) -> list[Receipt]:
    """Mark the receipts each flag taints (all of them for a whole-file flag), first flag wins."""
    if not flags:
        return receipts
    from dataclasses import replace

    code: dict[int, str] = {}
    for f in flags:
        for r in receipts:
            if (f.seqs is None or r.seq in f.seqs) and r.seq not in code:
                code[r.seq] = f.reason_code
    return [replace(r, flagged=r.flagged or code[r.seq]) if r.seq in code else r for r in receipts]


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
    if first.startswith("101") and len(first.rstrip("\r")) in (94, 94 * (len(first.rstrip("\r")) // 94)):
        return "nacha"  # one record per line, or all records on one line (94 characters each)
    if re.search(rb"(?m)^:20:", head) and re.search(rb"(?m)^:(25|60[FM]):", head):
        return "mt940"  # tags at the start of a line (a CSV with times like 12:20:05 is not MT940)
    if first.startswith(('"RH"', '"FH"', '"SH"', '"CH"', "RH,", "FH,", "SH,", "CH,")):
        return psp_reports.paypal_report_kind(data)  # STL or TRR, by its CH column header
    cols = {c.strip().strip('"') for c in first.split(",")}
    if {"currency", "gross", "fee", "net", "reporting_category"} <= cols:
        return "stripe"
    if {"Psp Reference", "Type", "Net Currency", "Batch Number"} <= cols:
        return "adyen-settlement"
    return None
