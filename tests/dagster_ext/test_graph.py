"""The whole window graph for the demo partition: settlement, then NetSuite, GL, batch, receipts, recon, ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, Failure

from tests.dagster_ext.conftest import WINDOW, as_of_config, check_figures, checks, materialization, meta
from vgos_assets.definitions import defs

NEW_ASSETS = ["netsuite_bills", "gl_journal", "payout_items", "payout_batch", "provider_receipts", "recon_results",
              "ledger_postings", "settlement_evidence", "settlement_acceptance", "settlement_gate", "evidence_pack"]
DISBURSEMENT = {"payout_items", "payout_batch", "netsuite_bills", "gl_journal"}
RECON = {"provider_receipts", "recon_results", "settlement_evidence", "settlement_acceptance", "settlement_gate",
         "ledger_postings", "evidence_pack"}


def test_definitions_load_with_every_asset_job_sensor_and_schedule() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(NEW_ASSETS) <= keys and "authorization" in keys
    nodes = {j: {n.name for n in defs.resolve_job_def(j).graph.node_defs}
             for j in ("disbursement_window", "window_recon", "acceptance_window")}
    assert nodes == {"disbursement_window": DISBURSEMENT, "window_recon": RECON,
                     "acceptance_window": {"acceptance_bundle", "authorization"}}
    assert defs.resolve_job_def("settlement_window") is not None
    assert defs.resolve_sensor_def("provider_report_sensor").job_name == "window_recon"
    assert defs.resolve_sensor_def("proof_drop_sensor").job_name == "acceptance_window"
    assert defs.resolve_schedule_def("daily_recon_schedule").job_name == "window_recon"
    check_keys = {k.name for k in graph.asset_check_keys}
    assert {"netsuite_drift", "gl_journal_balanced", "ledger_balanced", "recon_completeness"} <= check_keys


def test_the_spv_loop_is_lineage_without_a_cycle() -> None:
    """recon → SPV evidence → acceptance seen with it → gate again → evidence pack; acceptance stays upstream."""
    from dagster import AssetKey

    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in graph.get_all_asset_keys()}
    assert parents["settlement_evidence"] == {"recon_results"}
    assert parents["settlement_acceptance"] == {"settlement_evidence", "transcript"}
    assert parents["settlement_gate"] == {"settlement_acceptance"}
    assert {"settlement_gate", "ledger_postings", "netsuite_bills"} <= parents["evidence_pack"]
    # toposort raises on a cycle; acceptance_bundle comes before the money and the SPV loop after it
    order = [k.to_user_string() for level in graph.toposorted_asset_keys_by_level for k in level]
    assert order.index("acceptance_bundle") < order.index("payout_batch") < order.index("settlement_evidence") \
        < order.index("settlement_acceptance") < order.index("settlement_gate") < order.index("evidence_pack")
    for name in ("settlement_evidence", "settlement_acceptance", "settlement_gate", "evidence_pack"):
        cond = graph.get(AssetKey(name)).automation_condition
        assert cond is not None and "latest_time_window" not in str(cond.get_label() or "")
    sensor = defs.resolve_sensor_def("evidence_automation")
    assert sensor.default_status.value == "RUNNING"


class Runs:
    """The events of several execution results, read like one result by the conftest helpers."""

    def __init__(self, *results) -> None:
        self.all_events = [e for r in results for e in r.all_events]


def run_graph(instance: DagsterInstance, home: Path):
    """settlement_window, disbursement_window, the bank's camt.054 dropped, provider_report_sensor → window_recon."""
    from vgos.storage import open_store
    from vgos_app.demo import demo_bank_report, tick_sensor

    first = defs.resolve_job_def("settlement_window").execute_in_process(partition_key=WINDOW, instance=instance)
    assert first.success
    assert meta(materialization(first, "authorization"), "allow") == 2
    paid = defs.resolve_job_def("disbursement_window").execute_in_process(partition_key=WINDOW, instance=instance)
    assert paid.success
    batch = paid.output_for_node("payout_batch")
    demo_bank_report(batch, open_store(str(home / "drop")))
    recon, cursor, _ = tick_sensor(instance, "provider_report_sensor")
    assert len(recon) == 1 and recon[0].success and recon[0].job_def.name == "window_recon"
    assert tick_sensor(instance, "provider_report_sensor", cursor)[0] == []  # the cursor: nothing twice
    return Runs(paid, recon[0]), batch["provider_batch_id"]


def assert_disbursed(result, batch_id: str, home: Path) -> None:
    """Bills stamped without drift, CtrlSum 8.36, full reconciliation, balanced GL journal and ledger."""
    bills = materialization(result, "netsuite_bills")
    assert (meta(bills, "created"), meta(bills, "failed"), meta(bills, "drift")) == (3, 0, 0)
    assert meta(bills, "missing_vendor") == 0 and meta(bills, "missing_vendor_principals") == ""
    # the read-back (drift 0) compares every stamped field, provider_batch_id included
    assert meta(bills, "provider_batch_id") == batch_id
    journal = materialization(result, "gl_journal")
    assert meta(journal, "balanced") is True and meta(journal, "debit_minor") == meta(journal, "credit_minor")
    batch = materialization(result, "payout_batch")
    assert meta(batch, "provider_batch_id") == batch_id
    assert (meta(batch, "items"), meta(batch, "ctrl_sum"), meta(batch, "excluded")) == (2, "8.36 USD", 1)
    pain001 = Path(meta(batch, "batch_url")).read_text()
    assert pain001.startswith("<?xml") and pain001.count("<CtrlSum>8.36</CtrlSum>") >= 1
    receipts = materialization(result, "provider_receipts")
    assert (meta(receipts, "processed"), meta(receipts, "quarantined")) == (1, 0)
    recon = materialization(result, "recon_results")
    assert meta(recon, "fully_reconciled") is True and meta(recon, "matched_share") == "100.0000%"
    assert not any(meta(recon, "discrepancies_by_type").values())
    # matched receipts become a signed SPV proof (settlement_evidence), bound to the digest, which the acceptance
    # matrix downstream of it sees and the gate is re-evaluated on
    evidence = materialization(result, "settlement_evidence")
    assert (meta(evidence, "confirmed"), meta(evidence, "mismatch"), meta(evidence, "accepted")) == (1, 0, 1)
    assert meta(materialization(result, "settlement_acceptance"), "rows_by_kind")["SPV"] == {"OK": 2}
    gate = materialization(result, "settlement_gate")
    assert (meta(gate, "allow"), meta(gate, "hold")) == (2, 1)
    pack = materialization(result, "evidence_pack")
    assert Path(meta(pack, "location")).is_file() and meta(pack, "transcript_verified") is True
    assert meta(pack, "fully_reconciled") is True and meta(pack, "netsuite_stamped") is True
    assert batch_id in Path(meta(pack, "location")).read_text()
    from vgos.acceptance import load_proofs

    spv = [p for p in load_proofs(WINDOW, "default") if p["kind"] == "SPV"]
    assert [(p["subject_id"], p["status"], p["output_digest"]) for p in spv] == \
        [(batch_id, "CONFIRMED", meta(recon, "output_digest"))]
    items = materialization(result, "payout_items")
    assert (meta(items, "items"), meta(items, "created")) == (3, 3)  # accruals for every sealed payout, held too
    ledger = materialization(result, "ledger_postings")
    assert meta(ledger, "balanced") is True and meta(ledger, "expense_minor") == 1111
    assert meta(ledger, "settled_minor") == 836
    assert meta(ledger, "items_by_state") == {"AUTHORIZED": {"items": 1, "amount_minor": 275},
                                              "SETTLED": {"items": 2, "amount_minor": 836}}
    assert "balanced" in meta(ledger, "trial_balance")
    assert checks(result) == {"netsuite_drift": True, "gl_journal_balanced": True, "ledger_balanced": True,
                              "recon_completeness": True}
    # each check shows the figures it compared
    figures = check_figures(result)
    assert {k: figures["recon_completeness"][k] for k in ("expected", "matched", "matched_ppm", "pending",
                                                          "open_discrepancies", "outcome_settled")} == {
        "expected": 2, "matched": 2, "matched_ppm": 1_000_000, "pending": 0, "open_discrepancies": 0,
        "outcome_settled": 2}
    ledger_fig = figures["ledger_balanced"]
    assert ledger_fig["debit_minor"] == ledger_fig["credit_minor"] > 0 and ledger_fig["difference_minor"] == 0
    assert (ledger_fig["expense_minor"], ledger_fig["sealed_payout_minor"]) == (1111, 1111)
    assert (figures["netsuite_drift"]["bills_written"], figures["netsuite_drift"]["checked"],
            figures["netsuite_drift"]["drift"]) == (3, 3, 0)
    assert figures["gl_journal_balanced"]["difference_minor"] == 0


def test_full_graph_materializes_for_the_demo_partition(window_home: Path, netsuite_sandbox: str) -> None:
    with DagsterInstance.ephemeral() as instance:
        result, batch_id = run_graph(instance, window_home)
        assert_disbursed(result, batch_id, window_home)
        # a rerun pays nothing again: no new batch, bills unchanged, the same books
        again = defs.resolve_job_def("disbursement_window").execute_in_process(
            partition_key=WINDOW, instance=instance)
        assert again.success
        rerun = materialization(again, "payout_batch")
        assert meta(rerun, "new_batch") is False and meta(rerun, "provider_batch_id") == batch_id
        assert "ALREADY_PAID" in meta(rerun, "refused")
        assert meta(materialization(again, "netsuite_bills"), "unchanged") == 3
        recon = defs.resolve_job_def("window_recon").execute_in_process(  # what the daily schedule runs
            partition_key=WINDOW, instance=instance, run_config=as_of_config("provider_receipts", "recon_results"))
    assert recon.success and meta(materialization(recon, "recon_results"), "fully_reconciled") is True
    assert meta(materialization(recon, "provider_receipts"), "already_seen") == 1
    assert meta(materialization(recon, "ledger_postings"), "expense_minor") == 1111
    assert meta(materialization(recon, "recon_results"), "changed") is False


@pytest.mark.slow  # several processes or a PostgreSQL Dagster instance: CI runs it (make test stays < 3 min)
def test_full_graph_on_postgresql(window_home: Path, netsuite_sandbox: str, pg_url: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VGOS_DATABASE_URL", pg_url)
    with DagsterInstance.ephemeral() as instance:
        result, batch_id = run_graph(instance, window_home)
    assert_disbursed(result, batch_id, window_home)
    from vgos.ledger import trial_balance

    assert {r["account"] for r in trial_balance(WINDOW, url=pg_url)} >= {"expense:payouts", "asset:bank"}
    assert not list(window_home.rglob("*.db")) and not list(window_home.rglob("*.sqlite*"))


def test_netsuite_not_configured_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from vgos_assets.finance import CREDENTIAL_VARS, NetSuiteResource

    for var in (*CREDENTIAL_VARS, "NETSUITE_BASE_URL", "VGOS_NETSUITE_VENDOR_MAP"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(Failure) as err:
        NetSuiteResource().client_config()
    message = str(err.value.description)
    assert all(v in message for v in (*CREDENTIAL_VARS, "VGOS_NETSUITE_VENDOR_MAP", "NETSUITE_BASE_URL"))
