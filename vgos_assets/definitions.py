"""The Dagster code location: a thin Definitions over the window graph (loaded from workspace.yaml)."""

from __future__ import annotations

import os

from dagster import Definitions, in_process_executor

from vgos_assets.acceptance import acceptance_bundle, authorization
from vgos_assets.audit import evidence_pack
from vgos_assets.evidence import evidence_automation, settlement_acceptance, settlement_evidence, settlement_gate
from vgos_assets.finance import NetSuiteResource, gl_journal, netsuite_bills
from vgos_assets.io_manager import ArtifactIOManager
from vgos_assets.jobs import acceptance_job, disbursement_job, recon_job, settlement_job
from vgos_assets.ledger import ledger_postings
from vgos_assets.recon import (
    daily_recon_schedule,
    payout_batch,
    payout_items,
    provider_receipts,
    provider_report_sensor,
    recon_results,
)
from vgos_assets.resources import (
    ArtifactStoreResource,
    DropZoneResource,
    IntakeQualityResource,
    VgosSettingsResource,
)
from vgos_assets.schedules import window_close_schedule
from vgos_assets.sensors import event_drop_sensor, proof_drop_sensor
from vgos_assets.settlement import allocations, normalized_log, raw_events, transcript

TENANT = os.environ.get("VGOS_TENANT", "default")

defs = Definitions(
    assets=[raw_events, normalized_log, allocations, transcript, acceptance_bundle, authorization,
            netsuite_bills, gl_journal, payout_items, payout_batch, provider_receipts, recon_results, ledger_postings,
            settlement_evidence, settlement_acceptance, settlement_gate, evidence_pack],
    jobs=[settlement_job, acceptance_job, disbursement_job, recon_job],
    sensors=[event_drop_sensor, proof_drop_sensor, provider_report_sensor, evidence_automation],
    schedules=[window_close_schedule, daily_recon_schedule],
    resources={
        "drop_zone": DropZoneResource(),
        "artifacts": ArtifactStoreResource(),
        "settings": VgosSettingsResource(tenant_id=TENANT),
        "netsuite": NetSuiteResource(),
        "quality": IntakeQualityResource(),
        "io_manager": ArtifactIOManager(tenant_id=TENANT),
    },
    # one window's steps form a chain, and the embedded SQLite stores (instance and OLTP) lock under parallel
    # steps; deployments on PostgreSQL scale out by shards and run launchers, not by steps of one window
    executor=in_process_executor,
)
