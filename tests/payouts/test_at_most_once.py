"""Money moves at most once, through the installed `vgos` command: rails, retries, --out, deltas, recoveries."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.payouts.conftest import WINDOW, ack, batch_id, event, fold, vgos, vgos_process


def states(**filters) -> dict[str, str]:
    from vgos import payouts

    return {i.principal_id: i.state for i in payouts.items(WINDOW) if i.live}


@pytest.mark.parametrize("second", ["csv", "stripe", "paypal", "pain001"])
def test_a_second_batch_on_any_rail_is_refused_naming_the_first(window, tmp_path: Path, second: str) -> None:
    first = vgos("batch", "create", WINDOW, "--rail", "pain001", "--out", tmp_path / "first.xml")
    assert first.returncode == 0, first.stderr
    bid = batch_id(first.stdout)
    out = tmp_path / f"second-{second}.out"
    run = vgos_process if second == "stripe" else vgos  # once through the installed command itself
    again = run("batch", "create", WINDOW, "--rail", second, "--out", out)
    assert again.returncode == 2
    assert f"ALREADY_BATCHED in batch {bid}" in again.stderr and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".second*"))  # nothing written, no temp file left
    from recon.persist import load_batches

    assert [b["provider_batch_id"] for b in load_batches(WINDOW)] == [bid]
    assert states() == {"CRE-0001": "BATCHED", "CRE-0002": "AUTHORIZED", "CRE-0003": "BATCHED"}


def test_an_existing_out_file_is_never_overwritten_and_nothing_is_released(window, tmp_path: Path) -> None:
    out = tmp_path / "payouts.csv"
    out.write_text("an earlier file\n")
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", out)
    assert r.returncode == 2 and "already exists" in r.stderr and "Traceback" not in r.stderr
    assert out.read_text() == "an earlier file\n"
    from vgos import payouts

    assert not any(i.state == "BATCHED" for i in payouts.items(WINDOW))


def test_a_refused_batch_writes_nothing_at_out(window, tmp_path: Path) -> None:
    changed_debtor = tmp_path / "debtor.json"
    changed_debtor.write_text('{"name": "Other", "iban": "DE02120300000000202051", "bic": "BYLADEM1001"}')
    assert vgos("batch", "create", WINDOW, "--rail", "pain001", "--out", tmp_path / "a.xml").returncode == 0
    out = tmp_path / "b.xml"
    r = vgos("batch", "create", WINDOW, "--rail", "pain001", "--out", out, "--debtor", changed_debtor,
             "--execution-date", "2025-10-01")
    assert r.returncode == 2 and not out.exists()


def _fail_all(batch: str, tmp_path: Path) -> None:
    """The bank rejects every line of the batch (pain.002 RJCT), ingested and reconciled through the CLI."""
    from recon.persist import load_batches
    from tests.recon.demo import pain002_for

    b = next(x for x in load_batches(WINDOW) if x["provider_batch_id"] == batch)

    class _B:  # pain002_for needs the ids only
        provider_batch_id, payment_info_id = b["provider_batch_id"], b["payment_info_id"]

    report = tmp_path / f"pain002-{batch}.xml"
    report.write_bytes(pain002_for(_B, {i["end_to_end_id"]: ("RJCT", "AC04") for i in b["items"]}))
    assert vgos("recon", "ingest", report).returncode == 0
    vgos("recon", "run", WINDOW)


def test_after_the_bank_rejects_the_items_a_new_batch_pays_them_once_more(window, tmp_path: Path) -> None:
    first = vgos("batch", "create", WINDOW, "--rail", "pain001", "--out", tmp_path / "a.xml")
    assert first.returncode == 0
    _fail_all(batch_id(first.stdout), tmp_path)
    assert states() == {"CRE-0001": "FAILED", "CRE-0002": "AUTHORIZED", "CRE-0003": "FAILED"}
    retry = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "b.csv")
    assert retry.returncode == 0, retry.stderr
    assert batch_id(retry.stdout) != batch_id(first.stdout) and "total 8.36 USD" in retry.stdout
    assert states() == {"CRE-0001": "BATCHED", "CRE-0002": "AUTHORIZED", "CRE-0003": "BATCHED"}
    third = vgos("batch", "create", WINDOW, "--rail", "stripe", "--out", tmp_path / "c.json")
    assert third.returncode == 2 and batch_id(retry.stdout) in third.stderr
    from vgos import payouts

    assert payouts.ledger_check(WINDOW)["passed"]


def test_a_cancelled_batch_can_be_released_again_but_not_one_that_was_sent(window, tmp_path: Path) -> None:
    first = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "a.csv")
    bid = batch_id(first.stdout)
    assert vgos("batch", "cancel", bid, "--reason", "wrong file").returncode == 0
    assert states()["CRE-0001"] == "CANCELLED"
    second = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "b.csv")
    assert second.returncode == 0, second.stderr
    bid2 = batch_id(second.stdout)
    assert vgos("batch", "sent", bid2).returncode == 0
    assert states()["CRE-0003"] == "SENT"
    refused = vgos("batch", "cancel", bid2, "--reason", "too late")
    assert refused.returncode == 2 and "SENT" in refused.stderr
    assert vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "c.csv").returncode == 2


def test_a_reseal_after_payment_pays_only_the_delta_and_a_decrease_is_a_recovery(window, tmp_path: Path) -> None:
    from vgos import payouts
    from vgos.transcript import publish_transcript

    first = vgos("batch", "create", WINDOW, "--rail", "pain001", "--out", tmp_path / "a.xml")
    assert first.returncode == 0 and "total 8.36 USD" in first.stdout
    # a late event raises CRE-0001's payout: only the difference is owed
    late = fold(tmp_path, [event("e5", "CRE-0001", 100)], "late")
    publish_transcript(late)
    ack(late.output_digest)  # the CT table is about the payees and stands across the re-seal
    raised = {a.principal_id: a.payout_minor for a in late.allocations}
    delta = raised["CRE-0001"] - 380
    second = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "b.csv")
    assert second.returncode == 0, second.stderr
    assert f"1 payouts, total {delta // 100}.{delta % 100:02d} USD" in second.stdout
    content = (tmp_path / "b.csv").read_text()
    assert "CRE-0001" in content and "CRE-0003" not in content
    # a refund lowers CRE-0003 below what it was paid: a RECOVERY, never a negative payment
    lower = fold(tmp_path, [event("e5", "CRE-0001", 100), event("e6", "CRE-0003", -200, kind="refund")], "lower")
    publish_transcript(lower)
    ack(lower.output_digest)
    lowered = {a.principal_id: a.payout_minor for a in lower.allocations}
    third = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "c.csv")
    assert third.returncode == 2 and "RECOVERY" in third.stderr and not (tmp_path / "c.csv").exists()
    items = {i.principal_id: i for i in payouts.items(WINDOW) if i.live and i.state == "RECOVERY"}
    assert items["CRE-0003"].amount_minor == 456 - lowered["CRE-0003"]
    pos = payouts.position(payouts.items(WINDOW), "CRE-0001")
    assert pos["out_minor"] == lowered["CRE-0001"] and pos["open_minor"] == 0
    check = payouts.ledger_check(WINDOW)
    assert check["passed"], check["mismatches"]
    assert check["expense_minor"] == sum(lowered.values())
    shown = vgos("payouts", "show", WINDOW)
    assert shown.returncode == 0 and "RECOVERY" in shown.stdout and "2.20" in shown.stdout


def test_payouts_show_names_states_and_history_records_who_and_why(window, tmp_path: Path) -> None:
    vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "a.csv")
    shown = vgos("payouts", "show", WINDOW)
    assert shown.returncode == 0
    assert "BATCHED" in shown.stdout and "AUTHORIZED" in shown.stdout and "3.80" in shown.stdout
    hist = vgos("payouts", "history", WINDOW)
    assert hist.returncode == 0 and "BATCH_CREATED" in hist.stdout and "SEALED" in hist.stdout
    bad = vgos("payouts", "show", "2031-01-01")
    assert bad.returncode == 2 and "no published transcript" in bad.stderr


def test_tenants_are_paid_independently(window, tmp_path: Path) -> None:
    import datetime as dt

    from tests.payouts.conftest import now
    from vgos.acceptance import submit_proof
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos.transcript import publish_transcript
    from vgos_app.cli_acceptance import demo_proofs
    from vgos_app.demo import seed_events_path

    acme = fold_files([seed_events_path()], WINDOW, load_policy(None), "acme")
    publish_transcript(acme)
    for p in demo_proofs(WINDOW, "acme", acme.output_digest, issued=now() - dt.timedelta(seconds=60)):
        assert submit_proof(p).accepted
    assert vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "default.csv").returncode == 0
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "acme.csv", "--tenant", "acme")
    assert r.returncode == 0, r.stderr
    assert "total 8.36 USD" in r.stdout
    again = vgos("batch", "create", WINDOW, "--rail", "stripe", "--out", tmp_path / "a2.json", "--tenant", "acme")
    assert again.returncode == 2 and batch_id(r.stdout) in again.stderr
    from vgos import payouts

    assert payouts.ledger_check(WINDOW, "acme")["passed"] and payouts.ledger_check(WINDOW)["passed"]


def test_a_cancelled_batch_the_bank_booked_anyway_is_flagged_critical(window, tmp_path: Path) -> None:
    from connectors.psp.camt054 import camt054_for_batch
    from recon.service import create_window_batch, ingest_report, load_window, read_debtor, run_window_recon
    from tests.payouts.conftest import now

    def camt(batch) -> bytes:
        return camt054_for_batch(batch, debtor_iban=read_debtor(None)["iban"], booked_on=batch.execution_date,
                                 created_at=f"{batch.execution_date}T08:00:00Z")

    first = create_window_batch(WINDOW, "pain001", tmp_path / "a.xml").batch
    assert vgos("batch", "cancel", first.provider_batch_id, "--reason", "wrong debtor").returncode == 0
    second = create_window_batch(WINDOW, "pain001", tmp_path / "b.xml").batch
    ingest_report(camt(second), "camt-second.xml", "camt054")
    clean, _, _ = run_window_recon(load_window(WINDOW), as_of=now())
    assert clean.fully_reconciled and not clean.discrepancies  # the voided lines are not expected
    ingest_report(camt(first), "camt-first.xml", "camt054")  # ...but the bank booked the cancelled file too
    result, _, _ = run_window_recon(load_window(WINDOW), as_of=now())
    assert not result.fully_reconciled
    flagged = [d for d in result.discrepancies if d.type == "PAID_AFTER_VOID"]
    assert sorted(d.principal_id for d in flagged) == ["CRE-0001", "CRE-0003"]
    assert all(d.severity == "CRITICAL" and first.provider_batch_id in d.detail for d in flagged)
    assert {d.batch_id for d in flagged} == {first.provider_batch_id}  # the SPV of that batch says so
    assert states() == {"CRE-0001": "SETTLED", "CRE-0002": "AUTHORIZED", "CRE-0003": "SETTLED"}
