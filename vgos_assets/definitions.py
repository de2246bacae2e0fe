"""The Dagster code location: a thin Definitions over the window graph (loaded from workspace.yaml)."""

from __future__ import annotations

import os

from dagster import Definitions

from vgos_assets.acceptance import acceptance_bundle, authorization
from vgos_assets.io_manager import ArtifactIOManager
from vgos_assets.jobs import settlement_job
from vgos_assets.resources import ArtifactStoreResource, DropZoneResource, VgosSettingsResource
from vgos_assets.schedules import window_close_schedule
from vgos_assets.sensors import event_drop_sensor
from vgos_assets.settlement import allocations, normalized_log, raw_events, transcript

TENANT = os.environ.get("VGOS_TENANT", "default")

defs = Definitions(
    assets=[raw_events, normalized_log, allocations, transcript, acceptance_bundle, authorization],
    jobs=[settlement_job],
    sensors=[event_drop_sensor],
    schedules=[window_close_schedule],
    resources={
        "drop_zone": DropZoneResource(),
        "artifacts": ArtifactStoreResource(),
        "settings": VgosSettingsResource(tenant_id=TENANT),
        "io_manager": ArtifactIOManager(tenant_id=TENANT),
    },
)
