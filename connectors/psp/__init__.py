"""Payout rails out (pain.001.001.09, CSV, Stripe Connect, PayPal Payouts) and provider reports in (receipts).

Entry points: `batch.build_batch`, `reports.parse_report`, `camt054.camt054_for_batch`; its
commands live in `vgos_app.cli_rails`.
"""
