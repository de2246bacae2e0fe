"""provider_report_sensor on a folder and on S3 (moto server), and the daily recon schedule."""

from __future__ import annotations

import datetime as dt
import os

import boto3
import pytest
from dagster import (
    AssetMaterialization,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from connectors.psp.camt054 import camt054_for_batch
from tests.conftest import FIXTURES
from tests.dagster_ext.conftest import WINDOW
from tests.recon.demo import debtor, demo_batch
from vgos.storage import open_store
from vgos_assets.recon import daily_recon_schedule, provider_report_sensor, recon_windows
from vgos_assets.resources import DropZoneResource


def camt(**variant) -> bytes:
    """A camt.054 for the seed window's demo batch (variants change amounts, hence the bytes)."""
    batch = demo_batch()
    return camt054_for_batch(batch, debtor_iban=debtor()["iban"], booked_on=batch.execution_date,
                             created_at=f"{batch.execution_date}T08:00:00Z", **variant)


_BATCHED: list = []  # the instance of the running `exercise`, whose payout_batch of WINDOW is materialized


def tick(root: str, cursor: str | None, instance=None) -> tuple[list[RunRequest], str | None]:
    """One sensor evaluation in a fresh context (as after a restart), returning requests and the saved cursor."""
    ctx = build_sensor_context(cursor=cursor, resources={"drop_zone": DropZoneResource(root=root)},
                               instance=instance or _BATCHED[-1])
    out = provider_report_sensor(ctx)
    if isinstance(out, SkipReason):
        return [], ctx.cursor
    return list(out), ctx.cursor


def exercise(root: str) -> None:
    with instance_for_test() as instance:
        instance.report_runless_asset_event(AssetMaterialization("payout_batch", partition=WINDOW))
        _BATCHED.append(instance)
        try:
            _exercise(root)
        finally:
            _BATCHED.pop()


def _exercise(root: str) -> None:
    store = open_store(root)
    a, b = camt(), camt(amount_overrides={demo_batch().items[0].end_to_end_id: 1})
    store.put("reports/camt054/a.xml", a)
    first, cursor1 = tick(root, None)
    assert [(r.partition_key, r.job_name) for r in first] == [(WINDOW, None)]
    assert first[0].run_key.startswith("provider-report-") and first[0].run_key.endswith(f":{WINDOW}")
    assert tick(root, cursor1)[0] == []  # restart with the saved cursor: nothing repeated
    store.put("reports/camt054/copy-of-a.xml", a)  # duplicate drop under another name
    store.put("reports/camt054/b.xml", b)
    store.put("reports/camt054/unrelated.xml",
              (FIXTURES / "iso20022" / "genkgo-camt__camt054.v8.xml").read_bytes())
    second, cursor2 = tick(root, cursor1)
    assert len(second) == 1 and second[0].tags["vgos/report"].endswith("b.xml")  # nothing lost, a not again
    assert second[0].run_key != first[0].run_key
    store.put("reports/camt054/a.xml", a, write_once=False)  # rewritten with the same bytes
    assert tick(root, cursor2)[0] == []
    assert tick(root, cursor2)[0] == []


def test_report_sensor_on_a_local_folder(tmp_path, vgos_home) -> None:
    exercise(str(tmp_path / "drop"))


@pytest.fixture
def moto_s3(moto_server: str) -> str:
    """moto S3 with the `drops` bucket."""
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket="drops")
    return moto_server


def test_report_sensor_on_s3(moto_s3: str, vgos_home) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == moto_s3
    exercise("s3://drops/zone")


def test_daily_recon_schedule_requests_recently_batched_windows() -> None:
    assert recon_windows(dt.datetime(2025, 9, 25, 6, tzinfo=dt.UTC), {WINDOW, "2025-09-01"}) == [WINDOW]
    with instance_for_test() as instance:
        ctx = build_schedule_context(instance=instance,
                                     scheduled_execution_time=dt.datetime(2025, 9, 25, 6, tzinfo=dt.UTC))
        assert isinstance(daily_recon_schedule(ctx), SkipReason)
        instance.report_runless_asset_event(AssetMaterialization("payout_batch", partition=WINDOW))
        requests = daily_recon_schedule(ctx)
    assert [(r.partition_key, r.run_key) for r in requests] == [(WINDOW, f"daily-recon:2025-09-25:{WINDOW}")]


def test_report_for_a_window_without_payout_batch_starts_no_run(tmp_path, vgos_home) -> None:
    """E.g. a report dropped before the release: a run could only fail on the missing payout_batch input."""
    root = str(tmp_path / "drop")
    open_store(root).put("reports/camt054/a.xml", camt())
    with instance_for_test() as instance:
        reqs, cursor = tick(root, None, instance)
        assert reqs == []
        instance.report_runless_asset_event(AssetMaterialization("payout_batch", partition=WINDOW))
        assert tick(root, cursor, instance)[0] == []  # the report is seen; the daily recon ingests it
        assert [r.partition_key for r in tick(root, None, instance)[0]] == [WINDOW]
