"""Jobs over the window graph."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

settlement_job = define_asset_job(
    "settlement_window", selection=AssetSelection.groups("settlement", "acceptance"),
    description="intake → fold → seal → transcript → acceptance → authorization",
)
