"""Two `vgos batch create` processes for one window at once: exactly one batch, a clean refusal for the other."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.payouts.conftest import VGOS, WINDOW


def _race(tmp_path: Path) -> list[subprocess.CompletedProcess]:
    outs = [tmp_path / "a.csv", tmp_path / "b.json"]
    procs = [subprocess.Popen([VGOS, "batch", "create", WINDOW, "--rail", rail, "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
             for rail, out in (("csv", outs[0]), ("stripe", outs[1]))]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def _assert_one_batch(results: list[subprocess.CompletedProcess], tmp_path: Path, db_url: str | None) -> None:
    from recon.persist import load_batches
    from vgos import payouts

    codes = sorted(r.returncode for r in results)
    assert codes == [0, 2], [(r.returncode, r.stderr) for r in results]
    loser = next(r for r in results if r.returncode == 2)
    assert "Traceback" not in loser.stderr and len(loser.stderr.strip().splitlines()) == 1
    assert "ALREADY_BATCHED" in loser.stderr
    assert len([p for p in tmp_path.iterdir() if p.suffix in (".csv", ".json")]) == 1
    assert not list(tmp_path.glob(".*.tmp"))
    [batch] = load_batches(WINDOW, db_url=db_url)
    assert batch["n_items"] == 2
    hist = payouts.history(WINDOW, db_url=db_url)
    assert sorted(h["principal_id"] for h in hist if h["to_state"] == "BATCHED") == ["CRE-0001", "CRE-0003"]
    assert payouts.ledger_check(WINDOW, db_url=db_url)["passed"]


@pytest.mark.postgres
def test_two_batch_creates_at_once_on_postgresql(vgos_home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,
                                                  request, tmp_path: Path) -> None:
    monkeypatch.setenv("VGOS_DATABASE_URL", pg_url)  # after vgos_home, which clears it
    request.getfixturevalue("window")
    assert not (vgos_home / "vgos.db").exists()
    _assert_one_batch(_race(tmp_path), tmp_path, pg_url)


def test_two_batch_creates_at_once_on_sqlite(window, tmp_path: Path) -> None:
    _assert_one_batch(_race(tmp_path), tmp_path, None)
