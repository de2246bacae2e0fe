"""Every asset of the chain materializes for the demo partition; the digest equals `vgos fold`; reseals are kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.dagster.conftest import WINDOW, materializations, meta
from vgos.storage import open_store
from vgos_assets.definitions import defs

CHAIN = ["raw_events", "normalized_log", "allocations", "transcript", "acceptance_bundle", "authorization"]


def _run(instance):
    return defs.resolve_job_def("settlement_window").execute_in_process(partition_key=WINDOW, instance=instance)


def test_chain_materializes_and_digest_equals_cli_fold(instance, seeded_home: Path, tmp_path: Path) -> None:
    result = _run(instance)
    assert result.success
    for asset in CHAIN:
        assert len(materializations(result, asset)) == 1, asset
    evals = {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events
             if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert {k: v.passed for k, v in evals.items()} == {
        "raw_intake_quality": True, "normalized_log_expectations": True, "allocations_conservation": True,
        "transcript_replay": True}
    # each check shows the figures it compared, not only its problems
    figures = {name: {k: v.value for k, v in e.metadata.items()} for name, e in evals.items()}
    raw = figures["raw_intake_quality"]
    assert {k: raw[k] for k in ("records", "kept_records", "duplicate_records", "duplicate_share_ppm",
                                "duplicate_threshold_ppm", "late_share_ppm", "schema_invalid_share_ppm")} == {
        "records": 5, "kept_records": 3, "duplicate_records": 1, "duplicate_share_ppm": 200_000,
        "duplicate_threshold_ppm": 250_000, "late_share_ppm": 200_000, "schema_invalid_share_ppm": 0}
    cons = figures["allocations_conservation"]
    assert (cons["sealed_payout_minor"], cons["rows_payout_minor"], cons["rows_principals"]) == (1111, 1111, 3)
    replay = figures["transcript_replay"]
    assert replay["replay_digest"] == replay["sealed_digest"] == replay["expected_digest"]
    assert replay["digests_equal"] is True
    digest = meta(materializations(result, "transcript")[0], "output_digest")
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "vgos_app.cli", "fold", "--events",
                    str(seeded_home / "drop" / "events" / WINDOW / "seed_events.jsonl"), "--window-id", WINDOW,
                    "--out", str(out)], check=True, capture_output=True)
    assert digest == (out / "output_digest").read_text().strip()
    norm = materializations(result, "normalized_log")[0]
    assert meta(norm, "rejects_by_reason") == {"AFTER_CUTOFF": 1, "DUPLICATE_EVENT": 1}
    # the UI lists the rejected records themselves (id, reason, field, file:line), not only their counts
    listed = meta(norm, "rejected_events")
    assert "| DUPLICATE_EVENT |" in listed and "| AFTER_CUTOFF |" in listed and "seed_events.jsonl:" in listed
    # the transcript's location is a link an operator can open (file:// on the embedded defaults)
    link = meta(materializations(result, "transcript")[0], "transcript_link")
    assert link.startswith("file://") and link.endswith(digest)
    alloc = materializations(result, "allocations")[0]
    assert (meta(alloc, "payout_minor"), meta(alloc, "carry_minor")) == (1111, 1)
    assert "CRE-0003 | 1 | 415 | 41 | 0 | 456" in meta(alloc, "largest_allocations")
    # seal stored as its exact bytes, never pickled
    store = open_store(str(seeded_home / "artifacts"))
    seal = store.get(f"dagster/allocations/{WINDOW}/seal.json")
    import hashlib

    assert hashlib.sha256(seal).hexdigest() == digest
    assert not [k for k in store.list("dagster") if k.endswith(".pkl") or "pickle" in k]


def test_new_file_for_sealed_window_reseals_and_keeps_old_transcript(instance, seeded_home: Path) -> None:
    first = _run(instance)
    old = materializations(first, "transcript")[0]
    old_digest, old_url = meta(old, "output_digest"), meta(old, "transcript_url")
    old_files = {k: open_store(old_url).get(k) for k in open_store(old_url).list()}
    extra = seeded_home / "drop" / "events" / WINDOW / "late.csv"
    extra.write_text("event_id,ts_occurred,principal_id,amount_minor,source_type\n"
                     "e9,2025-09-23T12:00:00Z,CRE-0004,1000,earning\n")
    second = _run(instance)
    new = materializations(second, "transcript")[0]
    assert meta(new, "resealed") is True
    assert meta(new, "previous_output_digest") == old_digest
    assert meta(new, "output_digest") != old_digest
    assert "old transcript stays" in meta(new, "reseal_note")
    assert {k: open_store(old_url).get(k) for k in open_store(old_url).list()} == old_files
    tags = instance.get_run_by_id(second.run_id).tags
    assert tags.get("vgos/resealed") == "true" and tags.get("vgos/previous_output_digest") == old_digest


def test_missing_drop_fails_with_a_clear_message(vgos_home: Path) -> None:
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as inst:
        res = defs.resolve_job_def("settlement_window").execute_in_process(
            partition_key=WINDOW, instance=inst, raise_on_error=False)
    assert not res.success
    failure = [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert f"no event files for window {WINDOW}" in failure.event_specific_data.error.message

