"""The money half of a window: payout items, batches, reconciliation, ledger, NetSuite stamping and the audit log.

Each part is read on its own; one that cannot be read is reported on the page with its cause (an evidence pack
shows what is there), never a traceback and never a write to the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _guarded(read: Callable[[], Any]) -> dict[str, Any]:
    """{'value': ...} or {'error': one line}: a part that fails to load leaves the rest of the page intact."""
    try:
        return {"value": read()}
    except Exception as exc:  # noqa: BLE001 - shown on the page, e.g. a broken ledger chain
        text = (str(exc).strip().splitlines() or [""])[0]
        return {"error": f"{type(exc).__name__}: {text}" if text else type(exc).__name__}


def _items(window_id: str, tenant_id: str) -> dict[str, Any]:
    from vgos import payouts

    its = payouts.items(window_id, tenant_id)
    return {"items": [i.to_dict() | {"live": i.live} for i in its],
            "summary": payouts.summary([i for i in its if i.live]),
            "transitions": len(payouts.history(window_id, tenant_id))}


def _recon(window_id: str, tenant_id: str, digest: str) -> dict[str, Any] | None:
    from recon.persist import list_cases, load_result

    result = load_result(window_id, digest, tenant_id=tenant_id)
    if result is None:
        return None
    result["cases"] = list_cases(window_id, tenant_id=tenant_id)
    return result


def _ledger(window_id: str) -> dict[str, Any]:
    from vgos import ledger

    chain = _guarded(lambda: ledger.verify_chain(catch_up=False))
    return {"trial_balance": ledger.trial_balance(window_id), "chain": chain}


def _netsuite(audit_rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last recorded NetSuite sync of the window (the audit log is where stamping is recorded), or None."""
    syncs = [r for r in audit_rows if r["action"].startswith("netsuite.")]
    return syncs[-1] if syncs else None


def load_money_path(window_id: str, tenant_id: str, digest: str) -> dict[str, Any]:
    """Items, batches, recon, ledger, NetSuite status and the audit log of the window (each part guarded)."""
    from recon.persist import load_batches
    from vgos import audit

    resource = f"window/{tenant_id}/{window_id}"
    audit_part = _guarded(lambda: [r for r in audit.query(window_id) if r["resource"] in (resource, "")
                                   or r["resource"].startswith(resource + "/")])
    rows = audit_part.get("value") or []
    return {"payouts": _guarded(lambda: _items(window_id, tenant_id)),
            "batches": _guarded(lambda: load_batches(window_id, tenant_id=tenant_id)),
            "recon": _guarded(lambda: _recon(window_id, tenant_id, digest)),
            "ledger": _guarded(lambda: _ledger(window_id)),
            "netsuite": _netsuite(rows), "audit": audit_part}
