"""Reconciliation: receipts against sealed allocations and batches, discrepancy taxonomy, SPV proofs.

Entry points: `match.reconcile`, `spv.spv_proofs`, `drops.scan_report_drops`, `service.*` (CLI/Dagster/demo).
"""
