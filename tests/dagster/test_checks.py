"""A failing Great Expectations check blocks the downstream assets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

import vgos_assets.settlement as settlement
from tests.dagster.conftest import WINDOW, materializations
from vgos_assets.definitions import defs


def test_failing_expectations_block_downstream(instance, monkeypatch: pytest.MonkeyPatch) -> None:
    real = settlement.intake_files

    def corrupt(*args, **kwargs):
        intake = real(*args, **kwargs)
        return replace(intake, kept=pl.concat([intake.kept, intake.kept.head(1)]))  # duplicate event_id

    monkeypatch.setattr(settlement, "intake_files", corrupt)
    res = defs.resolve_job_def("settlement_window").execute_in_process(
        partition_key=WINDOW, instance=instance, raise_on_error=False)
    assert not res.success
    checks = [e.event_specific_data for e in res.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert [(c.check_name, c.passed) for c in checks] == [("raw_intake_quality", True),
                                                           ("normalized_log_expectations", False)]
    failures = checks[1].metadata["failures"].value
    assert (checks[1].metadata["rows"].value, checks[1].metadata["distinct_event_ids"].value) == (4, 3)
    assert {"expectation": "expect_column_values_to_be_unique", "column": "event_id", "unexpected_count": 2} \
        in failures
    for downstream in ("allocations", "transcript", "authorization"):
        assert materializations(res, downstream) == []


def test_conservation_check_finds_inconsistent_totals() -> None:
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.demo import seed_events_path

    r = fold_files([seed_events_path()], WINDOW, load_policy())
    assert settlement.conservation_problems(r) == []
    r.seal["totals"]["payout_minor"] += 1
    assert settlement.conservation_problems(r) == ["totals.payout_minor = 1112 but rows sum to 1111"]


def _check(res, name: str):
    """The evaluation of one asset check in an execution result."""
    [found] = [e.event_specific_data for e in res.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
               and e.event_specific_data.check_name == name]
    return found


def test_all_rejected_window_fails_the_raw_check_and_never_seals(vgos_home: Path) -> None:
    """Every record schema-invalid: the raw GX check fails (ERROR, blocking) with its figures; nothing is sealed."""
    from dagster import AssetCheckSeverity, DagsterInstance

    from vgos.transcript import current_transcript

    folder = vgos_home / "drop" / "events" / WINDOW
    folder.mkdir(parents=True)
    (folder / "bad.jsonl").write_text("\n".join(
        f'{{"event_id":"b{i}","ts_occurred":"not a time","principal_id":"CRE-0001","amount_minor":"x",'
        f'"source_type":"earning","currency":"USD"}}' for i in range(4)) + "\n")
    with DagsterInstance.ephemeral() as inst:
        res = defs.resolve_job_def("settlement_window").execute_in_process(
            partition_key=WINDOW, instance=inst, raise_on_error=False)
        # the instance records the window's failed check, and the blocking check stopped the run there
        from dagster import AssetCheckKey, AssetKey
        from dagster._core.event_api import PartitionKeyFilter

        key = AssetCheckKey(AssetKey("normalized_log"), "raw_intake_quality")
        latest = inst.event_log_storage.get_latest_asset_check_execution_by_key(
            [key], partition_filter=PartitionKeyFilter(key=WINDOW))[key]
        assert latest.status.value == "FAILED" and latest.partition == WINDOW
        assert inst.get_materialized_partitions(AssetKey("allocations")) == set()
        assert inst.get_materialized_partitions(AssetKey("normalized_log")) == {WINDOW}  # materialized, then checked
    assert not res.success
    failed_steps = {e.step_key for e in res.all_events if e.event_type_value == "STEP_FAILURE"}
    assert failed_steps == {"normalized_log"}  # a blocking check fails the step that produced the asset
    ran = {e.step_key for e in res.all_events if e.event_type_value == "STEP_START"}
    assert not ran & {"allocations", "transcript", "acceptance_bundle", "authorization"}
    raw = _check(res, "raw_intake_quality")
    assert raw.passed is False and raw.severity == AssetCheckSeverity.ERROR
    figures = {k: v.value for k, v in raw.metadata.items() if k != "failures"}
    assert {k: figures[k] for k in ("records", "kept_records", "schema_invalid_records", "schema_invalid_share_ppm",
                                    "schema_invalid_threshold_ppm")} == \
        {"records": 4, "kept_records": 0, "schema_invalid_records": 4, "schema_invalid_share_ppm": 1_000_000,
         "schema_invalid_threshold_ppm": 10_000}
    failed = {(f["expectation"], f.get("group")) for f in raw.metadata["failures"].value}
    assert ("expect_column_values_to_not_be_in_set", "schema_invalid") in failed
    assert ("expect_column_sum_to_be_between", None) in failed  # nothing kept
    assert "0 of 4 records kept" in raw.description
    for downstream in ("allocations", "transcript", "acceptance_bundle", "authorization"):
        assert materializations(res, downstream) == [], downstream
    assert current_transcript(WINDOW, "default") is None


def test_thresholds_come_from_config_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import Failure

    from vgos_assets.quality import IntakeThresholds
    from vgos_assets.resources import IntakeQualityResource

    assert IntakeQualityResource().thresholds() == IntakeThresholds()
    monkeypatch.setenv("VGOS_QUALITY_MAX_LATE_PPM", "5000")
    monkeypatch.setenv("VGOS_QUALITY_MIN_KEPT_RECORDS", "0")
    assert IntakeQualityResource(max_duplicate_ppm=7).thresholds() == \
        IntakeThresholds(max_duplicate_ppm=7, max_late_ppm=5000, min_kept_records=0)
    monkeypatch.setenv("VGOS_QUALITY_MAX_LATE_PPM", "2000000")
    with pytest.raises(Failure, match=r"^VGOS_QUALITY_MAX_LATE_PPM='2000000': expected an integer 0..1000000$"):
        IntakeQualityResource().thresholds()


def test_raw_suite_compares_shares_with_thresholds_exactly() -> None:
    """The seed window has 1 duplicate and 1 late record in 5 (200,000 ppm each): equal passes, one ppm less fails."""
    from vgos.fold import intake_files
    from vgos.policy import load_policy
    from vgos_app.demo import seed_events_path
    from vgos_assets.quality import IntakeThresholds, validate_raw_intake

    intake = intake_files([seed_events_path()], WINDOW, load_policy())
    ok = validate_raw_intake(intake, IntakeThresholds(max_duplicate_ppm=200_000, max_late_ppm=200_000))
    assert ok.success and ok.figures["duplicate_share_ppm"] == ok.figures["late_share_ppm"] == 200_000
    bad = validate_raw_intake(intake, IntakeThresholds(max_duplicate_ppm=199_999))
    assert not bad.success and [f["group"] for f in bad.failures] == ["duplicate"]
    assert (bad.figures["duplicate_records"], bad.figures["records"]) == (1, 5)


def test_importing_the_code_location_does_not_import_great_expectations() -> None:
    """GX costs seconds to import: only the check imports it, never the code location."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import vgos_assets.definitions"],
                         capture_output=True, text=True, check=True)
    modules = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "vgos_assets.definitions" in modules and "dagster" in modules
    assert not {m for m in modules if m.split(".")[0] == "great_expectations"}
