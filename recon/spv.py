"""SPV proofs: a batch whose receipts reconcile becomes settlement evidence bound to the output_digest."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from recon.match import DISCREPANCY_TYPES, ReconResult


def _ts(t: dt.datetime) -> str:
    from vgos.acceptance import fmt_ts

    return fmt_ts(t)


def batch_reason(result: ReconResult, batch_id: str) -> str:
    """Why a batch is not confirmed: its own discrepancy counts by type, else its recon status (PENDING, …)."""
    counts = Counter(d.type for d in result.open_discrepancies(batch_id))
    order = {t: i for i, t in enumerate(DISCREPANCY_TYPES)}
    types = sorted(counts, key=lambda t: (order.get(t, len(order)), t))
    return "; ".join(f"{t}={counts[t]}" for t in types) or f"batch {result.batches.get(batch_id, 'UNKNOWN')}"


def spv_proofs(result: ReconResult, *, issued_at: dt.datetime, ttl_s: int = 7 * 86400, issuer: str = "recon",
               tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Unsigned SPV proof bodies, one per provider batch, so one batch's outcome never stands for another's.

    CONFIRMED when the batch MATCHED and no open discrepancy names it; else MISMATCH with the batch's own reason.
    """
    if issued_at.tzinfo is None:
        raise ValueError("issued_at: a time zone is required")
    out = []
    for bid, status in sorted(result.batches.items()):
        confirmed = status == "MATCHED" and not result.open_discrepancies(bid)
        body: dict[str, Any] = {
            "window_id": result.window_id, "kind": "SPV", "subject_id": bid,
            "status": "CONFIRMED" if confirmed else "MISMATCH",
            "issued_at": _ts(issued_at), "expires_at": _ts(issued_at + dt.timedelta(seconds=ttl_s)),
            "output_digest": result.output_digest, "issuer": issuer,
        }
        if tenant_id and tenant_id != "default":
            body["tenant_id"] = tenant_id
        if not confirmed:
            body["reason"] = batch_reason(result, bid)
        out.append(body)
    return out


def sign_spv_proofs(bodies: list[dict[str, Any]], issuer_key: Any) -> list[dict[str, Any]]:
    """Sign proof bodies with vgos.acceptance.sign_proof (Ed25519 key or HMAC secret bytes)."""
    from vgos.acceptance import sign_proof

    return [sign_proof(b, issuer_key) for b in bodies]


def recon_issuer_key() -> Any:
    """The recon service's Ed25519 issuer key: `VGOS_RECON_ISSUER_KEY`, else VGOS_HOME/issuer_keys/recon.pem.

    None when there is no key file; a key file readable by group or others is refused.
    """
    import os
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization

    from vgos import config
    from vgos.errors import InputError

    path = Path(os.environ.get("VGOS_RECON_ISSUER_KEY") or config.vgos_home() / "issuer_keys" / "recon.pem")
    if not path.is_file():
        return None
    if path.stat().st_mode & 0o077:
        raise InputError(f"{path}: issuer key must not be readable by group or others (chmod 600)")
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def submit_spv(result: ReconResult, *, as_of: dt.datetime, tenant_id: str = "default",
               db_url: str | None = None) -> list[Any] | None:
    """Sign the window's SPV proofs with the recon issuer key and submit them to the acceptance bundle.

    Returns the submit results, or None when no recon issuer key is configured (nothing is submitted).
    """
    from vgos.acceptance import submit_proof

    key = recon_issuer_key()
    if key is None:
        return None
    proofs = sign_spv_proofs(spv_proofs(result, issued_at=as_of, tenant_id=tenant_id), key)
    return [submit_proof(p, as_of=as_of, source="recon", db_url=db_url) for p in proofs]
