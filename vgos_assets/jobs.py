"""Jobs over the window graph."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

settlement_job = define_asset_job(
    "settlement_window", selection=AssetSelection.groups("settlement", "acceptance"),
    description="intake → fold → seal → transcript → acceptance → authorization",
)

disbursement_job = define_asset_job(
    "disbursement_window", selection=AssetSelection.groups("finance", "payouts", "ledger"),
    description="after authorization: NetSuite bills, GL journal, payout batch, receipts, recon, ledger postings",
)

recon_job = define_asset_job(
    "window_recon", selection=AssetSelection.assets("provider_receipts", "recon_results", "ledger_postings"),
    description="provider reports in → receipts → reconciliation → ledger (sensor- and schedule-triggered)",
)
