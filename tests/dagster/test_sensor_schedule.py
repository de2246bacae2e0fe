"""event_drop_sensor on a local folder and on S3 (moto server on loopback); window_close_schedule ticks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import orjson
import pytest
from dagster import DagsterInstance, build_schedule_context, build_sensor_context

from vgos.policy import policy_from_manifest
from vgos_app.demo import seed_events_path
from vgos_assets.definitions import defs
from vgos_assets.resources import DropZoneResource
from vgos_assets.schedules import build_window_close_schedule, close_cron, window_for_tick
from vgos_assets.sensors import event_drop_sensor

SEED = seed_events_path().read_bytes()


def _tick(zone_root: str, cursor: str | None, instance: DagsterInstance):
    ctx = build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                               resources={"drop_zone": DropZoneResource(root=zone_root)})
    result = event_drop_sensor.evaluate_tick(ctx)
    return result.run_requests or [], result.cursor


def _exercise(put, zone_root: str) -> None:
    """new files → requests; same bytes again → none; restart from the saved cursor → nothing lost or repeated."""
    with DagsterInstance.ephemeral() as inst:
        put("events/2025-09-23/a.jsonl", SEED)
        put("events/2025-09-24/b.csv", b"event_id,ts_occurred,principal_id,amount_minor,source_type\n")
        put("events/not-a-date/c.jsonl", SEED)
        put("events/2025-09-23/notes.txt", b"ignored")
        reqs, cursor = _tick(zone_root, None, inst)
        assert sorted(r.partition_key for r in reqs) == ["2025-09-23", "2025-09-24"]
        keys = {r.partition_key: r.run_key for r in reqs}
        assert all(k.startswith(f"events/{w}:") for w, k in keys.items())
        # the same bytes dropped again (even re-written) start nothing
        put("events/2025-09-23/a.jsonl", SEED)
        reqs2, cursor2 = _tick(zone_root, cursor, inst)
        assert reqs2 == []
        # "restart": a fresh evaluation from the persisted cursor string; a file arrives meanwhile
        put("events/2025-09-23/late.jsonl", SEED.replace(b'"e1"', b'"e100"'))
        reqs3, cursor3 = _tick(zone_root, orjson.dumps(orjson.loads(cursor2)).decode(), inst)
        assert [r.partition_key for r in reqs3] == ["2025-09-23"]
        assert reqs3[0].run_key not in keys.values()
        assert sorted(orjson.loads(cursor3)) == ["events/2025-09-23/a.jsonl", "events/2025-09-23/late.jsonl",
                                                 "events/2025-09-24/b.csv"]
        reqs4, _ = _tick(zone_root, cursor3, inst)
        assert reqs4 == []
        # changed bytes under the same name are new content: a new run key
        put("events/2025-09-23/a.jsonl", SEED + b"\n")
        reqs5, _ = _tick(zone_root, cursor3, inst)
        assert len(reqs5) == 1 and reqs5[0].run_key != keys["2025-09-23"]


def test_event_drop_sensor_local_folder(tmp_path: Path) -> None:
    root = tmp_path / "zone"

    def put(key: str, data: bytes) -> None:
        p = root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    _exercise(put, str(root))


@pytest.fixture
def moto_s3(moto_server: str):
    """An S3 client on the shared moto server."""
    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


def test_event_drop_sensor_s3(moto_s3) -> None:
    moto_s3.create_bucket(Bucket="drops")

    def put(key: str, data: bytes) -> None:
        moto_s3.put_object(Bucket="drops", Key=f"zone/{key}", Body=data)

    _exercise(put, "s3://drops/zone")


def test_window_close_schedule_requests_the_window_that_closed() -> None:
    policy = policy_from_manifest({})
    assert close_cron(policy) == "10 21 * * *"
    sched = build_window_close_schedule(policy)
    tick = dt.datetime(2025, 9, 23, 21, 10, tzinfo=dt.UTC)
    with DagsterInstance.ephemeral() as inst:
        data = sched.evaluate_tick(build_schedule_context(instance=inst, scheduled_execution_time=tick,
                                                                repository_def=defs.get_repository_def()))
    [req] = data.run_requests
    assert req.partition_key == "2025-09-23" and req.run_key == "window-close:2025-09-23"
    assert defs.resolve_schedule_def("window_close_schedule").cron_schedule == "10 21 * * *"


def test_close_schedule_across_midnight() -> None:
    policy = policy_from_manifest({"close_time_utc": "23:55:00", "close_grace_s": 900})
    assert close_cron(policy) == "10 0 * * *"
    assert window_for_tick(dt.datetime(2025, 9, 24, 0, 10, tzinfo=dt.UTC), policy) == "2025-09-23"


def test_drop_already_materialized_starts_no_run(instance, seeded_home) -> None:
    """After `make demo`, the daemon's first tick finds the demo's files already sealed: no second run."""
    zone = str(seeded_home / "drop")
    reqs, _ = _tick(zone, None, instance)
    assert [r.partition_key for r in reqs] == ["2025-09-23"]
    assert defs.resolve_job_def("settlement_window").execute_in_process(
        partition_key="2025-09-23", instance=instance).success
    assert _tick(zone, None, instance)[0] == []
    (seeded_home / "drop" / "events" / "2025-09-23" / "more.jsonl").write_bytes(SEED.replace(b'"e1"', b'"e100"'))
    reqs, _ = _tick(zone, None, instance)
    assert [r.partition_key for r in reqs] == ["2025-09-23"]  # new bytes: a run
