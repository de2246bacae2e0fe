"""Sensors: event drops start a window's run; content-based run keys; cursors survive restarts."""


import orjson
from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from vgos.dropzone import scan_event_drops
from vgos_assets.jobs import settlement_job
from vgos_assets.partitions import window_partitions
from vgos_assets.resources import DropZoneResource


@sensor(job=settlement_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED,
        description="files under <drop zone>/events/<window_id>/ start a run for that window")
def event_drop_sensor(context: SensorEvaluationContext, drop_zone: DropZoneResource):
    """One run per window with new bytes; the same file dropped twice starts nothing new."""
    cursor = orjson.loads(context.cursor) if context.cursor else {}
    drops, new_cursor = scan_event_drops(drop_zone.store(), cursor)
    keys = set(window_partitions.get_partition_keys())
    requests = []
    for d in drops:
        if d.window_id not in keys:
            context.log.warning(f"ignoring {len(d.files)} file(s) for {d.window_id}: outside the window partitions")
            continue
        requests.append(RunRequest(
            run_key=d.run_key, partition_key=d.window_id,
            tags={"vgos/trigger": "event_drop", "vgos/files": ",".join(k.rsplit("/", 1)[-1] for k, _ in d.files)[:200]},
        ))
    context.update_cursor(orjson.dumps(new_cursor).decode())
    return requests or SkipReason("no new event files")
