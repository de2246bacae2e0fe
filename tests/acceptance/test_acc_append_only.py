"""Stored gate decisions, proofs and the transcript index cannot be changed or deleted, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from vgos.fold import fold_files
from vgos.policy import load_policy
from vgos.store.db import get_engine
from vgos_app.cli_acceptance import demo_acceptance
from vgos_app.demo import SEED_WINDOW, seed_events_path

STATEMENTS = [
    "UPDATE gate_decisions SET decision = 'ALLOW'",
    "DELETE FROM gate_decisions",
    "UPDATE gate_runs SET decisions_digest = 'x'",
    "DELETE FROM acceptance_proofs",
    "UPDATE acceptance_proofs SET status = 'CLEAR'",
    "UPDATE transcript_index SET output_digest = 'x'",
]


def _exercise(url: str) -> None:
    result = fold_files([seed_events_path()], SEED_WINDOW, load_policy())
    as_of = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
    gate = demo_acceptance(SEED_WINDOW, result, as_of=as_of, db_url=url)
    assert [d["decision"] for d in gate.decisions] == ["ALLOW", "HOLD", "ALLOW"]
    engine = get_engine(url)
    for stmt in STATEMENTS:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(stmt))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select principal_id, decision from gate_decisions order by id")).all()
    assert [tuple(r) for r in rows] == [("CRE-0001", "ALLOW"), ("CRE-0002", "HOLD"), ("CRE-0003", "ALLOW")]


def test_append_only_on_sqlite(vgos_home) -> None:
    _exercise(f"sqlite:///{vgos_home / 'store.db'}")


def test_append_only_on_postgres(vgos_home, pg_url: str) -> None:
    _exercise(pg_url)
