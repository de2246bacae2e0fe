"""Jobs over the window graph: one per way a window moves forward (drop, proof, release, bank report)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

settlement_job = define_asset_job(
    "settlement_window", selection=AssetSelection.groups("settlement", "acceptance"),
    description="intake → fold → seal → transcript → acceptance → authorization (event drops, window close)",
)

acceptance_job = define_asset_job(
    "acceptance_window", selection=AssetSelection.groups("acceptance"),
    description="proofs in → acceptance matrix → gate (proof drops)",
)

disbursement_job = define_asset_job(
    "disbursement_window", selection=AssetSelection.groups("finance", "payouts")
    - AssetSelection.assets("provider_receipts", "recon_results"),
    description="after authorization: payout items, the batch released at the gate, NetSuite bills, GL journal",
)

recon_job = define_asset_job(
    "window_recon",
    selection=AssetSelection.assets("provider_receipts", "recon_results", "ledger_postings")
    | AssetSelection.groups("evidence", "audit"),
    description="provider reports in → receipts → reconciliation → SPV evidence → acceptance and gate again → "
                "ledger → evidence pack (sensor- and schedule-triggered)",
)
