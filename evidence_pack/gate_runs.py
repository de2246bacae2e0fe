"""The gate's recorded runs of a window: decisions, reasons and the acceptance matrix as it stood at decision time.

Read from the append-only gate tables (what was decided and signed then), never re-evaluated now.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson


def _signature_ok(run: Any) -> bool:
    """The run's signed response verifies under its recorded key, and that key is one the verifier trusts."""
    from vgos.canonical import jcs_bytes
    from vgos.signing import verify_signature
    from vgos.trust import find_trusted

    try:
        good = verify_signature(run.algorithm, run.public_key_pem.encode(),
                                jcs_bytes(orjson.loads(run.response_json)), base64.b64decode(run.signature))
        return good and find_trusted(public_key_pem=run.public_key_pem.encode()) is not None
    except Exception:  # noqa: BLE001 - a malformed row is shown as not verified
        return False


def load_gate(window_id: str, tenant_id: str) -> dict[str, Any]:
    """Every gate run of the window (oldest first) and the decisive one: the last release, else the last standing."""
    from sqlalchemy import select

    from vgos.store.acceptance import GateDecision, GateRun
    from vgos.store.db import session

    with session() as s:
        runs = list(s.scalars(select(GateRun).where(GateRun.tenant_id == tenant_id, GateRun.window_id == window_id)
                              .order_by(GateRun.id)))
        decisions = {r.id: [] for r in runs}
        for d in s.scalars(select(GateDecision).where(GateDecision.tenant_id == tenant_id,
                                                      GateDecision.window_id == window_id).order_by(GateDecision.id)):
            decisions.setdefault(d.run_id, []).append(
                {"principal_id": d.principal_id, "payout_minor": d.payout_minor, "decision": d.decision,
                 "reason_code": d.reason_code, "output_digest": d.output_digest})
    rows = []
    for r in runs:
        ds = decisions.get(r.id, [])
        allow = sum(1 for d in ds if d["decision"] == "ALLOW")
        rows.append({"run_id": r.id, "purpose": r.purpose, "as_of": r.as_of, "created_at": r.created_at,
                     "output_digest": r.output_digest, "decisions_digest": r.decisions_digest, "key_id": r.key_id,
                     "allow": allow, "hold": len(ds) - allow, "signature_ok": _signature_ok(r),
                     "matrix": orjson.loads(r.inputs_json).get("matrix"), "decisions": ds})
    releases = [r for r in rows if r["purpose"] == "release"]
    standing = [r for r in rows if r["purpose"] != "what-if"]
    decisive = (releases or standing or [None])[-1]
    return {"runs": rows, "decisive": decisive}
