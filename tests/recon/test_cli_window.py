"""`vgos batch create`, `vgos recon ingest` and `vgos recon run` as an operator runs them on an authorized window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connectors.psp.camt054 import camt054_for_batch
from connectors.psp.pain001 import read_pain001
from recon.persist import load_batches
from recon.service import read_debtor
from vgos.fold import fold_files
from vgos.policy import load_policy
from vgos_app.cli import main
from vgos_app.cli_acceptance import demo_acceptance
from vgos_app.demo import SEED_WINDOW, seed_events_path


def test_batch_ingest_recon_from_the_cli(vgos_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = fold_files([seed_events_path()], SEED_WINDOW, load_policy())
    demo_acceptance(SEED_WINDOW, result, as_of=dt.datetime.now(dt.UTC).replace(microsecond=0))
    out = tmp_path / "batch.xml"
    assert main(["batch", "create", SEED_WINDOW, "--rail", "pain001", "--out", str(out)]) == 0
    transfers = read_pain001(out)
    assert len(transfers) == 2 and "<CtrlSum>8.36</CtrlSum>" in out.read_text()
    [batch] = load_batches(SEED_WINDOW, result.output_digest)
    assert len(batch["items"]) == 2
    # the window is paid: a second batch is refused, on any rail; the bank's camt.054 reconciles the window
    capsys.readouterr()
    assert main(["batch", "create", SEED_WINDOW, "--rail", "csv", "--out", str(tmp_path / "again.csv")]) == 2
    assert f"ALREADY_BATCHED in batch {batch['provider_batch_id']}" in capsys.readouterr().err
    assert not (tmp_path / "again.csv").exists()
    from recon.service import load_window
    from tests.recon.demo import demo_batch

    state = load_window(SEED_WINDOW)
    rebuilt = demo_batch(decisions=state.decisions, digest=state.output_digest)  # the bank sees the same ids
    assert rebuilt.provider_batch_id == batch["provider_batch_id"]
    debtor = read_debtor(None)
    camt = tmp_path / "camt054.xml"
    camt.write_bytes(camt054_for_batch(rebuilt, debtor_iban=debtor["iban"], booked_on=rebuilt.execution_date,
                                       created_at=f"{rebuilt.execution_date}T08:00:00Z"))
    assert main(["recon", "ingest", str(camt), "--format", "camt054"]) == 0
    capsys.readouterr()
    assert main(["recon", "run", SEED_WINDOW]) == 0
    assert "fully reconciled: True" in capsys.readouterr().out
