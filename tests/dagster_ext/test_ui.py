"""What an auditor and an operator see in the Dagster UI, asked through the webserver's GraphQL API.

1. After `vgos demo` in fresh homes, every asset of the code location has a materialization for the demo window and
   every asset check's latest execution for it passed, with the figures it compared.
2. Under `dagster dev` (webserver + daemon, the project's QueuedRunCoordinator), a run launched through GraphQL
   leaves the queue and succeeds.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.dagster_ext.conftest import WINDOW
from tests.dagster_ext.ui import BIN, gql, isolated_env, location_name, project_instance, serve
from vgos_app.demo import seed_events_path

ASSETS = """{ assetNodes { assetKey { path } } }"""
ASSET = """query ($key: AssetKeyInput!, $window: String!) { assetOrError(assetKey: $key) { ... on Asset {
  assetMaterializations(partitions: [$window], limit: 1) { partition runId
    metadataEntries { label ... on PathMetadataEntry { path } } } } } }"""
CHECKS = """{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name
  executionForLatestMaterialization { status partition evaluation { success partition
    metadataEntries { label ... on IntMetadataEntry { intValue } } } } } } } } }"""
# the figures each check that can fail on money must show (not only a list of problems)
FIGURES = {"netsuite_drift": {"bills_written", "checked", "drift", "bills_failed"},
           "recon_completeness": {"expected", "matched", "matched_ppm", "pending", "open_discrepancies"},
           "ledger_balanced": {"debit_minor", "credit_minor", "difference_minor", "expense_minor",
                               "sealed_payout_minor"},
           "gl_journal_balanced": {"debit_minor", "credit_minor", "difference_minor"},
           "raw_intake_quality": {"records", "kept_records", "duplicate_share_ppm", "duplicate_threshold_ppm"},
           "allocations_conservation": {"sealed_payout_minor", "rows_payout_minor"},
           "transcript_replay": {"payout_minor"}}


@pytest.mark.slow  # the demo as a process, then a webserver: CI runs it; `make test` stays in budget
def test_after_the_demo_every_asset_is_materialized_and_every_check_passed(tmp_path: Path) -> None:
    vh, dh = tmp_path / "vh", tmp_path / "dh"
    env = isolated_env(vh, dh)
    demo = subprocess.run([str(BIN / "vgos"), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    with serve([str(BIN / "dagster-webserver")], env, tmp_path / "webserver.log") as base:
        keys = [n["assetKey"]["path"] for n in gql(base, ASSETS)["assetNodes"]]
        assert len(keys) == 17 and ["evidence_pack"] in keys and ["settlement_evidence"] in keys
        for key in keys:
            mats = gql(base, ASSET, {"key": {"path": key}, "window": WINDOW})["assetOrError"]["assetMaterializations"]
            assert [m["partition"] for m in mats] == [WINDOW], key
            if key == ["evidence_pack"]:
                entries = {e["label"]: e.get("path") for e in mats[0]["metadataEntries"]}
                assert Path(entries["location"]).is_file()  # the page in the artifact store, shown as its location
        checks = {c["name"]: c for n in gql(base, CHECKS)["assetNodes"]
                  for c in (n["assetChecksOrError"] or {}).get("checks", [])}
    assert set(checks) == set(FIGURES) | {"normalized_log_expectations"}
    for name, c in checks.items():
        latest = c["executionForLatestMaterialization"]
        assert latest is not None, name
        assert (latest["status"], latest["partition"]) == ("SUCCEEDED", WINDOW), (name, latest)
        assert latest["evaluation"]["success"] is True and latest["evaluation"]["partition"] == WINDOW
        labels = {e["label"] for e in latest["evaluation"]["metadataEntries"]}
        assert FIGURES.get(name, set()) <= labels, (name, FIGURES[name] - labels)
    figures = {e["label"]: e.get("intValue") for e in
               checks["ledger_balanced"]["executionForLatestMaterialization"]["evaluation"]["metadataEntries"]}
    assert figures["debit_minor"] == figures["credit_minor"] > 0 and figures["expense_minor"] == 1111


LAUNCH = """mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message } ... on RunConfigValidationInvalid { errors { message } }
  ... on InvalidSubsetError { message } } }"""
RUN = """query ($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }"""
INSTANCE = """{ instance { runQueuingSupported runQueueConfig { maxConcurrentRuns }
  daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"""
RUN_TIMEOUT_S = 900  # generous (shared cores); the test asserts the outcome, never the speed


@pytest.mark.slow  # dagster dev (webserver + daemon) and a launched run: CI runs it
def test_a_run_launched_through_graphql_completes_under_dagster_dev(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    vh, dh = tmp_path / "vh", tmp_path / "dh"
    project_instance(dh)
    folder = vh / "drop" / "events" / WINDOW
    folder.mkdir(parents=True)
    shutil.copy(seed_events_path(), folder / "seed_events.jsonl")
    env = isolated_env(vh, dh)
    with serve([str(BIN / "dagster"), "dev"], env, tmp_path / "dev.log") as base:
        selector = {"repositoryLocationName": location_name(base), "repositoryName": "__repository__",
                    "jobName": "settlement_window"}
        launched = gql(base, LAUNCH, {"params": {
            "selector": selector, "runConfigData": {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": WINDOW}]}}})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        seen, deadline = [], time.monotonic() + RUN_TIMEOUT_S
        while True:
            run = gql(base, RUN, {"id": run_id})["runOrError"]
            if not seen or seen[-1] != run["status"]:
                seen.append(run["status"])
            if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") or time.monotonic() > deadline:
                break
            time.sleep(2)
        instance = gql(base, INSTANCE)["instance"]
    assert instance["runQueuingSupported"] and instance["runQueueConfig"]["maxConcurrentRuns"] == 1
    daemons = {d["daemonType"]: d["healthy"] for d in instance["daemonHealth"]["allDaemonStatuses"] if d["required"]}
    assert daemons.get("QUEUED_RUN_COORDINATOR") and daemons.get("SENSOR"), daemons  # `dagster dev` runs the daemon
    assert seen[-1] == "SUCCESS", (seen, (tmp_path / "dev.log").read_text()[-4000:])
    assert seen[0] in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "SUCCESS")  # the daemon dequeued it
    assert {"key": "dagster/partition", "value": WINDOW} in run["tags"]
    from vgos.transcript import current_transcript

    monkeypatch.setenv("VGOS_HOME", str(vh))  # the sealed window, read back from the store the run wrote
    assert current_transcript(WINDOW, "default") is not None
