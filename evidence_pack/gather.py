"""Everything the evidence pack shows about one window, read once, as plain data for the renderer."""

from __future__ import annotations

import datetime as dt
from typing import Any


def gather(window_id: str, tenant_id: str = "default", *, verify: bool = True, dagster: bool = True
           ) -> dict[str, Any]:
    """Read the window through the public read functions; InputError (exit 2) when nothing was published."""
    from evidence_pack.dagster_links import load_dagster
    from evidence_pack.gate_runs import load_gate
    from evidence_pack.money_path import load_money_path
    from evidence_pack.settlement import load_settlement

    settlement = load_settlement(window_id, tenant_id, verify=verify)
    return {"generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "settlement": settlement, "gate": load_gate(window_id, tenant_id),
            "money": load_money_path(window_id, tenant_id, settlement["output_digest"]),
            "dagster": load_dagster(window_id) if dagster else None}
