"""Placeholder: being written."""

from __future__ import annotations

from connectors.psp.receipts import Receipt, ReportError


def mt940_receipts(data: bytes, source: str, sha: str) -> list[Receipt]:
    """Not implemented yet."""
    raise ReportError("FORMAT_UNSUPPORTED", "reader not implemented yet", None)
