"""A payment made under an ALLOW still reconciles after a later gate run holds the window (stale ACK)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.psp.camt054 import camt054_for_batch
from recon.service import create_window_batch, ingest_report, load_window, read_debtor, run_window_recon
from vgos.fold import fold_files
from vgos.gate import authorize
from vgos.policy import load_policy
from vgos_app.cli_acceptance import demo_acceptance
from vgos_app.demo import SEED_WINDOW, seed_events_path


def test_later_hold_does_not_turn_a_paid_batch_into_a_discrepancy(vgos_home: Path, tmp_path: Path) -> None:
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    result = fold_files([seed_events_path()], SEED_WINDOW, load_policy())
    gate = demo_acceptance(SEED_WINDOW, result, as_of=t0)
    assert [d["decision"] for d in gate.decisions] == ["ALLOW", "HOLD", "ALLOW"]
    batch = create_window_batch(SEED_WINDOW, "pain001", tmp_path / "b.xml").batch
    debtor = read_debtor(None)
    camt = camt054_for_batch(batch, debtor_iban=debtor["iban"], booked_on=batch.execution_date,
                             created_at=f"{batch.execution_date}T08:00:00Z")
    ingest_report(camt, "camt054-demo.xml", "camt054", now=t0)
    first, _, _ = run_window_recon(load_window(SEED_WINDOW), as_of=t0)
    assert first.fully_reconciled
    later = authorize(SEED_WINDOW, as_of=t0 + dt.timedelta(hours=2))
    assert {(d["decision"], d["reason_code"]) for d in later.decisions} == {("HOLD", "STALE_PROOF")}
    again, _, _ = run_window_recon(load_window(SEED_WINDOW), as_of=t0 + dt.timedelta(hours=2))
    assert again.fully_reconciled and again.by_type().get("AMOUNT_MISMATCH", 0) == 0
    assert again.n_matched == 2
