"""Jobs over the window graph."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from vgos_assets.partitions import window_partitions

settlement_job = define_asset_job(
    "settlement_window", selection=AssetSelection.groups("settlement", "acceptance"),
    partitions_def=window_partitions, description="intake → fold → seal → transcript → acceptance → authorization",
)
