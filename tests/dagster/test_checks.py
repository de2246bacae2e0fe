"""A failing Great Expectations check blocks the downstream assets."""

from __future__ import annotations

from dataclasses import replace

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
    assert [(c.check_name, c.passed) for c in checks] == [("normalized_log_expectations", False)]
    failures = checks[0].metadata["failures"].value
    assert {"expectation": "expect_column_values_to_be_unique", "column": "event_id", "unexpected_count": 2} \
        in failures
    for downstream in ("allocations", "transcript", "authorization"):
        assert materializations(res, downstream) == []


def test_conservation_check_finds_inconsistent_totals() -> None:
    from vgos.demo import seed_events_path
    from vgos.fold import fold_files
    from vgos.policy import load_policy

    r = fold_files([seed_events_path()], WINDOW, load_policy())
    assert settlement.conservation_problems(r) == []
    r.seal["totals"]["payout_minor"] += 1
    assert settlement.conservation_problems(r) == ["totals.payout_minor = 1112 but rows sum to 1111"]
