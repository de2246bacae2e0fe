"""Dagster run ids and asset links of a window's partition, when a Dagster instance with history is configured.

Read only when DAGSTER_HOME holds an instance; anything else (no instance, another schema, an import error) omits
the section, because the pack must stay producible on a machine without the orchestrator.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

DEFAULT_UI = "http://127.0.0.1:3000"


def ui_base() -> str:
    """Base URL of the Dagster UI the links point at: VGOS_DAGSTER_URL, else the `make ui` address."""
    return (os.environ.get("VGOS_DAGSTER_URL") or DEFAULT_UI).rstrip("/")


def _instance_configured() -> bool:
    home = os.environ.get("DAGSTER_HOME")
    return bool(home) and ((Path(home) / "dagster.yaml").is_file() or (Path(home) / "history").is_dir())


def load_dagster(window_id: str) -> dict[str, Any] | None:
    """{'assets': [{asset, run_id, at, asset_url, run_url}], 'base': url} for the partition, or None when unknown."""
    if not _instance_configured():
        return None
    try:
        import warnings

        from dagster import DagsterInstance

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with DagsterInstance.get() as instance:
                return dagster_section(instance, window_id)
    except Exception:  # noqa: BLE001 - the orchestrator is optional: omit the section
        return None


def dagster_section(instance: Any, window_id: str) -> dict[str, Any] | None:
    """The same section read from an open instance (the `evidence_pack` asset passes its run's instance)."""
    from dagster import AssetRecordsFilter

    base = ui_base()
    rows = []
    for key in sorted(instance.get_asset_keys(), key=lambda k: k.to_user_string()):
        recs = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[window_id]), limit=1, ascending=False)
        for rec in recs.records:
            path = "/".join(quote(p, safe="") for p in key.path)
            rows.append({"asset": key.to_user_string(), "run_id": rec.run_id, "at": rec.timestamp,
                         "asset_url": f"{base}/assets/{path}?view=partitions&partition={quote(window_id)}",
                         "run_url": f"{base}/runs/{quote(rec.run_id)}"})
    return {"assets": rows, "base": base} if rows else None
