"""Store: the 0001 migration and the gate flow on SQLite and on PostgreSQL; models match the migration."""

from __future__ import annotations

import sqlalchemy as sa

from tests.acceptance.helpers import SEED_WINDOW, T0
from vgos.acceptance import load_proofs, quarantine_list, submit_proof
from vgos.gate import authorize, latest_decisions
from vgos.transcript import current_seal, current_transcript, publish_transcript

TABLES = {"acceptance_proofs", "acceptance_quarantine", "gate_runs", "gate_decisions", "transcript_index"}


def _flow(url, seed_result, proofs):
    ref = publish_transcript(seed_result, db_url=url)
    assert current_transcript(SEED_WINDOW, db_url=url) == ref
    assert current_seal(SEED_WINDOW, db_url=url)["totals"]["payout_minor"] == 1111
    for p in (proofs.ack(), proofs.ct("CRE-0001"), proofs.ct("CRE-0002", "HOLD"), proofs.ct("CRE-0003")):
        assert submit_proof(p, db_url=url, as_of=T0).accepted
    assert not submit_proof({"kind": "ACK"}, db_url=url, as_of=T0).accepted
    res = authorize(SEED_WINDOW, as_of=T0, db_url=url)
    assert [(d["principal_id"], d["decision"], d["reason_code"]) for d in res.decisions] == [
        ("CRE-0001", "ALLOW", None), ("CRE-0002", "HOLD", "CT_HOLD"), ("CRE-0003", "ALLOW", None)]
    assert latest_decisions(SEED_WINDOW, db_url=url) == res.decisions
    assert len(load_proofs(SEED_WINDOW, db_url=url)) == 4
    assert [q["reason_code"] for q in quarantine_list(url)] == ["UNSIGNED_PROOF"]
    # payout amounts round-trip as exact integers
    big = 2**53 - 1
    from vgos.store.acceptance import GateDecision
    from vgos.store.db import session

    with session(url) as s, s.begin():
        s.add(GateDecision(run_id=0, tenant_id="t", window_id="w", principal_id="p", payout_minor=big,
                           decision="HOLD", reason_code="X", output_digest="0" * 64, as_of="x"))
    with session(url) as s:
        assert s.scalar(sa.select(GateDecision.payout_minor).where(GateDecision.tenant_id == "t")) == big


def _tables(url):
    from vgos.store.db import get_engine

    return set(sa.inspect(get_engine(url)).get_table_names())


def test_store_on_sqlite(vgos_home, db_url, seed_result, proofs):
    _flow(db_url, seed_result, proofs)
    assert TABLES <= _tables(db_url)


def test_store_on_postgresql(vgos_home, pg_url, seed_result, proofs):
    _flow(pg_url, seed_result, proofs)
    assert TABLES <= _tables(pg_url)


def test_models_match_migration(vgos_home, db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import vgos.store.acceptance  # noqa: F401  (registers the models)
    from vgos.store.base import Base
    from vgos.store.db import get_engine

    with get_engine(db_url).connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    def table_of(d):
        if isinstance(d, list):  # column modifications: (op, schema, table, column, ...)
            return d[0][2]
        op, obj = d[0], d[1]
        if op in ("add_column", "remove_column"):
            return d[2]
        return obj.name if op.endswith("_table") else obj.table.name

    mine = [d for d in diffs if table_of(d) in TABLES]
    assert mine == []
