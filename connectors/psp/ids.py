"""Deterministic identifiers for payout batches, so the same window, digest and rail give the same ids."""

from __future__ import annotations

import hashlib
import re

_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")
RAILS = ("pain001", "csv", "stripe", "paypal")


def _h(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def window_tag(window_id: str) -> str:
    """Compact form of a window id used inside bank references (`2025-09-23` -> `20250923`)."""
    return _NON_ALNUM.sub("", window_id)[:12]


def _attempt(attempt: int) -> tuple[str, ...]:
    return () if attempt == 1 else (f"attempt {attempt}",)  # the first attempt keeps the original ids


def provider_batch_id(tenant_id: str, window_id: str, output_digest: str, rail: str, attempt: int = 1) -> str:
    """Batch id bound to (tenant, window, output_digest, rail, attempt); 35 characters at most (ISO MsgId)."""
    h = _h('batch', tenant_id, window_id, output_digest, rail, *_attempt(attempt))
    return f"VGB{window_tag(window_id)}-{h[:16]}"


def payment_info_id(tenant_id: str, window_id: str, output_digest: str, rail: str, attempt: int = 1) -> str:
    """ISO 20022 PmtInfId of the batch's single payment block (35 characters at most)."""
    h = _h('pmtinf', tenant_id, window_id, output_digest, rail, *_attempt(attempt))
    return f"VGP{window_tag(window_id)}-{h[:16]}"


def end_to_end_prefix(window_id: str) -> str:
    """Prefix shared by all EndToEndIds of a window, used to pick a window's receipts out of a report."""
    return f"VG{window_tag(window_id)}-"


def end_to_end_id(tenant_id: str, window_id: str, output_digest: str, principal_id: str, attempt: int = 1) -> str:
    """Per-payee EndToEndId bound to the digest and the batch attempt; at most 35 characters as ISO 20022 requires."""
    h = _h('e2e', tenant_id, window_id, output_digest, principal_id, *_attempt(attempt))
    return f"{end_to_end_prefix(window_id)}{h[:20]}"


def ach_individual_id(end_to_end_id: str) -> str:
    """The 15-character ACH Individual Identification Number that stands for an EndToEndId on NACHA files.

    NACHA's field is too short for the 31-character EndToEndId: `VG` + its last 13 hex digits (the hash part),
    unique in practice within a tenant's open payouts; recon maps it back."""
    return "VG" + end_to_end_id[-13:]
