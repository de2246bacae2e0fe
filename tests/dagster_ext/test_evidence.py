"""Evidence arriving after the window ran: proof drops start acceptance runs, and the SPV loop re-evaluates itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetMaterialization, DagsterInstance, evaluate_automation_conditions, instance_for_test

from tests.dagster_ext.conftest import WINDOW
from vgos_app.demo import tick_sensor
from vgos_assets.definitions import defs


def test_proof_drops_start_one_acceptance_run_per_window_and_never_twice(window_home: Path) -> None:
    """The fixture dropped ACK/CT before the window was sealed: no run then; the seal ingested them; a new proof
    (new bytes) for the sealed window starts `acceptance_window`; the same bytes again start nothing."""
    import datetime as dt

    import orjson

    from tests.dagster_ext.conftest import drop_proofs

    with DagsterInstance.ephemeral() as instance:
        requests, cursor, skip = tick_sensor(instance, "proof_drop_sensor")
        assert requests == [] and skip == "no new proofs"  # not sealed yet: the settlement run ingests them
        assert defs.resolve_job_def("settlement_window").execute_in_process(
            partition_key=WINDOW, instance=instance).success
        assert tick_sensor(instance, "proof_drop_sensor")[0] == []  # a fresh cursor: already in the store
        later = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=10)
        fresh = window_home / "fresh"
        fresh.mkdir()
        drop_proofs(fresh, issued=later)  # an ACK and the CT table issued later: other bytes
        for p in sorted((fresh / "drop" / "proofs").iterdir()):
            (window_home / "drop" / "proofs" / f"later-{p.name}").write_bytes(p.read_bytes())
        runs, cursor, _ = tick_sensor(instance, "proof_drop_sensor", cursor)
        assert [(r.job_def.name, r.success) for r in runs] == [("acceptance_window", True)]
        tags = instance.get_run_by_id(runs[0].run_id).tags
        assert tags["dagster/partition"] == WINDOW and tags["vgos/trigger"] == "proof_drop"
        assert tags["dagster/run_key"].startswith(f"proofs/{WINDOW}:")
        assert tick_sensor(instance, "proof_drop_sensor", cursor)[0] == []
        assert orjson.loads(cursor)  # restart-safe: the cursor names the files and their sha256


@pytest.mark.filterwarnings("ignore::dagster._utils.warnings.BetaWarning")  # Dagster's own tester selection
def test_evidence_arriving_re_evaluates_acceptance_the_gate_and_the_pack_for_that_window() -> None:
    """Automation conditions (what the daemon's `evidence_automation` sensor evaluates under `make ui`): a new
    recon result for a window requests, in one tick, its SPV evidence, the acceptance view with it, the gate and the
    evidence pack, for that window although it is not the latest partition; once they ran nothing is requested
    again; a later gate run (a proof arrived) requests the evidence pack again."""
    from vgos_assets.partitions import window_partitions

    assert window_partitions.get_last_partition_key() != WINDOW
    graph = defs.resolve_asset_graph()
    loop = {"settlement_evidence", "settlement_acceptance", "settlement_gate", "evidence_pack"}

    def tick(cursor):
        result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        return result.cursor, {k.to_user_string(): result.get_requested_partitions(k)
                               for k in graph.get_all_asset_keys() if result.get_num_requested(k)}

    def materialize(*names: str) -> None:
        for name in names:
            instance.report_runless_asset_event(AssetMaterialization(name, partition=WINDOW))

    with instance_for_test() as instance:
        materialize(*(k.to_user_string() for k in graph.get_all_asset_keys()))  # as the demo leaves the window
        cursor, _ = tick(None)
        cursor, requested = tick(cursor)
        assert requested == {}
        materialize("recon_results")  # the bank's report was reconciled
        cursor, requested = tick(cursor)
        assert requested == {name: {WINDOW} for name in loop}
        materialize(*sorted(loop))
        cursor, requested = tick(cursor)
        assert requested == {}
        materialize("acceptance_bundle", "authorization")  # a proof arrived: proof_drop_sensor's run
        cursor, requested = tick(cursor)
        assert requested == {"evidence_pack": {WINDOW}}
        materialize("evidence_pack")
        # a window_recon run (provider_report_sensor, daily schedule) already ran the loop: nothing is run twice
        materialize("provider_receipts", "recon_results", *sorted(loop), "ledger_postings")
        cursor, requested = tick(cursor)
        assert requested == {}
