"""Two `vgos proof ingest` and two `vgos recon run` of one window, all four at once and held at the same point: each
exits 0 without a traceback, and the store holds one row per proof and one recon run (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from tests.store.race import VGOS, assert_clean, finish, kill, pg_table_gate, sqlite_write_gate, start

WINDOW = "2025-09-23"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, vgos_home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(name, database URL) with VGOS_DATABASE_URL set for the test and the processes it starts."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("VGOS_DATABASE_URL", url)
    else:
        url = f"sqlite:///{vgos_home / 'vgos.db'}"
    return request.param, url


def _count(url: str, sql: str) -> int:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        eng.dispose()


def _authorized_window(vgos_home: Path, tmp_path: Path, now: dt.datetime) -> None:
    """The seed window sealed, accepted, authorized, paid in one pain.001 batch, the bank's camt.054 ingested."""
    from connectors.psp.camt054 import camt054_for_batch
    from recon.service import ingest_report, load_window, read_debtor
    from tests.recon.demo import demo_batch
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.cli import main
    from vgos_app.cli_acceptance import demo_acceptance
    from vgos_app.demo import seed_events_path

    demo_acceptance(WINDOW, fold_files([seed_events_path()], WINDOW, load_policy()), as_of=now)
    assert main(["batch", "create", WINDOW, "--rail", "pain001", "--out", str(tmp_path / "batch.xml")]) == 0
    state = load_window(WINDOW)
    batch = demo_batch(decisions=state.decisions, digest=state.output_digest)
    ingest_report(camt054_for_batch(batch, debtor_iban=read_debtor(None)["iban"], booked_on=batch.execution_date,
                                    created_at=f"{batch.execution_date}T08:00:00Z"), "camt054.xml")


@pytest.mark.slow  # several processes or a PostgreSQL Dagster instance: CI runs it (make test stays < 3 min)
def test_concurrent_proof_ingest_and_recon_run(backend: tuple[str, str], vgos_home: Path, tmp_path: Path) -> None:
    from vgos.transcript import current_transcript
    from vgos_app.cli_acceptance import demo_proofs

    name, url = backend
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _authorized_window(vgos_home, tmp_path, now)
    # newer evidence in the drop zone (other bytes than the proofs already recorded)
    drop = vgos_home / "drop" / "proofs"
    drop.mkdir(parents=True)
    proofs = demo_proofs(WINDOW, "default", current_transcript(WINDOW).output_digest,
                         issued=now - dt.timedelta(seconds=30))
    for n, p in enumerate(proofs):
        (drop / f"p{n}.json").write_bytes(orjson.dumps(p))
    before = _count(url, "SELECT count(*) FROM acceptance_proofs")

    ingest, recon = [VGOS, "proof", "ingest"], [VGOS, "recon", "run", WINDOW]
    procs: list = []
    try:
        # all four wait at the proofs' / recon runs' tables (PostgreSQL) or at their first write (SQLite), then go
        # at once: each pair reads "not there yet" and writes the same unique row
        if name == "postgres":
            with pg_table_gate(url, ["acceptance_proofs", "recon_runs"]) as release:
                procs = start(ingest, ingest, recon, recon)
                release(procs)
                runs = finish(procs)
        else:
            with sqlite_write_gate(Path(sa.make_url(url).database)) as release:
                procs = start(ingest, ingest, recon, recon)
                release(procs)
                runs = finish(procs)
    finally:
        kill(procs)

    assert_clean(runs)
    for _code, out, _err in runs[:2]:
        assert out.count("ACCEPTED") == len(proofs), out
    for _code, out, _err in runs[2:]:
        assert "fully reconciled: True" in out, out
    assert _count(url, "SELECT count(*) FROM acceptance_proofs") == before + len(proofs)
    assert _count(url, "SELECT count(*) FROM acceptance_quarantine") == 0
    assert _count(url, "SELECT count(*) FROM recon_runs") == 1
    assert _count(url, "SELECT max(revision) FROM recon_runs") == 1
