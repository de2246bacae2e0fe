"""The code location loads, keys partitions by window_id, and wires the chain in one lineage."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import AssetKey

from vgos_assets.definitions import defs
from vgos_assets.partitions import window_partitions_def


def test_definitions_load_with_the_window_chain() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw_events", "normalized_log", "allocations", "transcript", "acceptance_bundle",
            "authorization"} <= keys
    assert graph.get(AssetKey("allocations")).parent_keys == {AssetKey("normalized_log")}
    assert graph.get(AssetKey("transcript")).parent_keys == {AssetKey("normalized_log"), AssetKey("allocations")}
    assert defs.resolve_job_def("settlement_window") is not None
    assert defs.resolve_sensor_def("event_drop_sensor") is not None
    assert defs.resolve_schedule_def("window_close_schedule") is not None
    checks = {c.name for c in graph.asset_check_keys}
    assert {"normalized_log_expectations", "allocations_conservation", "transcript_replay"} <= checks


def test_partition_keys_are_window_ids_from_a_configurable_start() -> None:
    p = window_partitions_def("2025-09-20")
    keys = p.get_partition_keys()
    assert keys[:4] == ["2025-09-20", "2025-09-21", "2025-09-22", "2025-09-23"]


def test_sensors_and_schedules_default_to_running() -> None:
    """Under `make ui` the daemon ticks them without anyone switching them on."""
    from dagster import DefaultScheduleStatus, DefaultSensorStatus

    sensors = {s.name: s.default_status for s in defs.sensors}
    schedules = {s.name: s.default_status for s in defs.schedules}
    assert sensors == {"event_drop_sensor": DefaultSensorStatus.RUNNING,
                       "proof_drop_sensor": DefaultSensorStatus.RUNNING,
                       "provider_report_sensor": DefaultSensorStatus.RUNNING,
                       "evidence_automation": DefaultSensorStatus.RUNNING}
    assert schedules == {"window_close_schedule": DefaultScheduleStatus.RUNNING,
                         "daily_recon_schedule": DefaultScheduleStatus.RUNNING}


def test_make_ui_runs_the_webserver_and_the_daemon() -> None:
    """`dagster dev` starts both: runs launched from the UI leave the queue, sensors and schedules tick."""
    from tests.conftest import REPO

    lines = (REPO / "Makefile").read_text().split("\nui:", 1)[1].split("\n\n", 1)[0].splitlines()
    recipe = [line.strip() for line in lines[1:] if line.startswith("\t")]
    assert recipe == ["$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000"]
    assert "dagster-daemon" in (REPO / "README.md").read_text()


def test_default_partitions_are_the_demo_month(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VGOS_PARTITIONS_START", raising=False)
    monkeypatch.delenv("VGOS_PARTITIONS_END", raising=False)
    keys = window_partitions_def().get_partition_keys()
    assert (len(keys), keys[0], keys[-1]) == (30, "2025-09-01", "2025-09-30") and "2025-09-23" in keys


def test_configured_start_runs_through_todays_window(monkeypatch: pytest.MonkeyPatch) -> None:
    today = dt.datetime.now(dt.UTC).date()
    start = (today - dt.timedelta(days=9)).isoformat()
    monkeypatch.setenv("VGOS_PARTITIONS_START", start)
    monkeypatch.delenv("VGOS_PARTITIONS_END", raising=False)
    keys = window_partitions_def().get_partition_keys()
    assert keys[0] == start and keys[-1] in {today.isoformat(), (today + dt.timedelta(days=1)).isoformat()}
    monkeypatch.setenv("VGOS_PARTITIONS_END", (today - dt.timedelta(days=5)).isoformat())
    assert len(window_partitions_def().get_partition_keys()) == 5


@pytest.mark.parametrize(("env", "message"), [
    ({"VGOS_PARTITIONS_START": "2025-9-1"}, "VGOS_PARTITIONS_START='2025-9-1': expected a calendar date YYYY-MM-DD"),
    ({"VGOS_PARTITIONS_START": "2025-02-30"},
     "VGOS_PARTITIONS_START='2025-02-30': expected a calendar date YYYY-MM-DD"),
    ({"VGOS_PARTITIONS_START": "2025-09-10", "VGOS_PARTITIONS_END": "2025-09-09"},
     "VGOS_PARTITIONS_END='2025-09-09' is before VGOS_PARTITIONS_START='2025-09-10'"),
])
def test_bad_partition_dates_fail_in_one_line(monkeypatch: pytest.MonkeyPatch, env: dict, message: str) -> None:
    from vgos.errors import InputError

    monkeypatch.delenv("VGOS_PARTITIONS_END", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(InputError) as err:
        window_partitions_def()
    assert str(err.value) == message


def test_close_schedule_skips_a_window_outside_the_partitions() -> None:
    """Today's close with the default (demo month) partitions: a skip that says what to set, not a failed tick."""
    from dagster import DagsterInstance, SkipReason, build_schedule_context

    from vgos_assets.schedules import window_close_schedule

    tick = dt.datetime(2026, 1, 15, 21, 10, tzinfo=dt.UTC)
    with DagsterInstance.ephemeral() as inst:
        out = window_close_schedule.evaluate_tick(build_schedule_context(
            instance=inst, scheduled_execution_time=tick, repository_def=defs.get_repository_def()))
    assert out.run_requests == [] and "VGOS_PARTITIONS_START" in (out.skip_message or "")
    assert isinstance(window_close_schedule(build_schedule_context(scheduled_execution_time=tick)), SkipReason)
