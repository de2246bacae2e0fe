"""The whole window graph for the demo partition: settlement, then NetSuite, GL, batch, receipts, recon, ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, Failure

from connectors.psp.camt054 import camt054_for_batch
from recon.service import load_window
from tests.dagster_ext.conftest import WINDOW, as_of_config, check_figures, checks, materialization, meta
from tests.recon.demo import debtor, demo_batch
from vgos_assets.definitions import defs

NEW_ASSETS = ["netsuite_bills", "gl_journal", "payout_items", "payout_batch", "provider_receipts", "recon_results",
              "ledger_postings"]
SETTLEMENT_CONFIG: dict = {}  # evaluated at the run's time: the evidence was issued a minute ago
DISBURSEMENT_CONFIG = as_of_config("provider_receipts", "recon_results")


def test_definitions_load_with_every_asset_job_sensor_and_schedule() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(NEW_ASSETS) <= keys and "authorization" in keys
    job = defs.resolve_job_def("disbursement_window")
    assert {n.name for n in job.graph.node_defs} == set(NEW_ASSETS)
    assert defs.resolve_job_def("settlement_window") is not None
    assert defs.resolve_sensor_def("provider_report_sensor").job_name == "window_recon"
    assert defs.resolve_schedule_def("daily_recon_schedule").job_name == "window_recon"
    check_keys = {k.name for k in graph.asset_check_keys}
    assert {"netsuite_drift", "gl_journal_balanced", "ledger_balanced"} <= check_keys


def drop_camt054_for_the_batch(home: Path) -> str:
    """A camt.054 the debtor's bank would send for the window's pain.001 batch, in <drop>/reports/camt054/."""
    state = load_window(WINDOW)
    batch = demo_batch(decisions=state.decisions, digest=state.output_digest)
    camt = camt054_for_batch(batch, debtor_iban=debtor()["iban"], booked_on=batch.execution_date,
                             created_at=f"{batch.execution_date}T08:00:00Z")
    path = home / "drop" / "reports" / "camt054" / f"{WINDOW}-{batch.provider_batch_id}.xml"
    path.parent.mkdir(parents=True)
    path.write_bytes(camt)
    return batch.provider_batch_id


def run_graph(instance: DagsterInstance, home: Path):
    """settlement_window, the bank's report for the batch, then disbursement_window; returns the second result."""
    first = defs.resolve_job_def("settlement_window").execute_in_process(
        partition_key=WINDOW, instance=instance, run_config=SETTLEMENT_CONFIG)
    assert first.success
    assert meta(materialization(first, "authorization"), "allow") == 2
    batch_id = drop_camt054_for_the_batch(home)
    result = defs.resolve_job_def("disbursement_window").execute_in_process(
        partition_key=WINDOW, instance=instance, run_config=DISBURSEMENT_CONFIG)
    assert result.success
    return result, batch_id


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
    # matched receipts become a signed SPV proof in the acceptance bundle, bound to the digest
    assert meta(recon, "spv_submitted") == [{"accepted": True, "reason": None, "duplicate": False}]
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
            partition_key=WINDOW, instance=instance, run_config=DISBURSEMENT_CONFIG)
        assert again.success
        rerun = materialization(again, "payout_batch")
        assert meta(rerun, "new_batch") is False and meta(rerun, "provider_batch_id") == batch_id
        assert "ALREADY_PAID" in meta(rerun, "refused")
        assert meta(materialization(again, "netsuite_bills"), "unchanged") == 3
        assert meta(materialization(again, "provider_receipts"), "already_seen") == 1
        assert meta(materialization(again, "ledger_postings"), "expense_minor") == 1111
        assert meta(materialization(again, "recon_results"), "changed") is False
        recon = defs.resolve_job_def("window_recon").execute_in_process(  # what the sensor and schedule run
            partition_key=WINDOW, instance=instance, run_config=DISBURSEMENT_CONFIG)
    assert recon.success and meta(materialization(recon, "recon_results"), "fully_reconciled") is True


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
