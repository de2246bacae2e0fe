"""What the database itself refuses, on SQLite and PostgreSQL, when the application is bypassed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.ledger.helpers import SEED_CLOSE, SEED_DIGEST, SEED_WINDOW, raw, seed_decisions
from vgos import audit, ledger

ENTRY_SQL = (
    "INSERT INTO ledger_entries (seq, entry_id, window_id, output_digest, entry_type, effective_at, source, "
    "source_event_id, prev_hash, hash) VALUES (:seq, :eid, 'w', 'd', 'ADJUSTMENT', '2025-01-01T00:00:00Z', "
    ":src, :sev, :prev, :hash)"
)
LINE_SQL = (
    "INSERT INTO ledger_lines (entry_id, line_no, account, currency, debit_minor, credit_minor) "
    "VALUES (:eid, :no, :acct, 'USD', :d, :c)"
)


def _posted(url: str) -> None:
    ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE, url=url)
    audit.record(
        "alice", "user", "proof.submit", "window/2025-09-23", "c-1", "2025-09-23T20:00:00Z", {"proofs": 1}, url=url
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_lines SET credit_minor = credit_minor + 1",
        "DELETE FROM ledger_lines",
        "UPDATE ledger_entries SET effective_at = '2030-01-01T00:00:00Z'",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_head_signatures SET signature_b64 = 'AA=='",
        "DELETE FROM ledger_head_signatures",
        "UPDATE audit_log SET actor_id = 'mallory'",
        "DELETE FROM audit_log",
    ],
)
def test_update_and_delete_are_refused_by_triggers(store_url: str, statement: str) -> None:
    _posted(store_url)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        raw(store_url, statement)
    assert ledger.verify_chain(url=store_url)["entries"] == 2
    assert len(audit.query("2025-09-23", url=store_url)) == 2  # the posting's record and alice's


def test_truncate_is_refused_on_postgresql(postgres_url: str) -> None:
    _posted(postgres_url)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        raw(postgres_url, "TRUNCATE ledger_lines, ledger_entries")


def _entry(seq: int, eid: str) -> dict:
    return {"seq": seq, "eid": eid, "src": "manual", "sev": eid, "prev": "0" * 64, "hash": f"{seq:064d}"}


def test_database_refuses_an_unbalanced_entry(store_url: str) -> None:
    with pytest.raises(sa.exc.DatabaseError, match="not balanced"):
        raw(
            store_url,
            LINE_SQL,
            ENTRY_SQL,
            params={**_entry(1, "x1"), "no": 1, "acct": "expense:payouts", "d": 100, "c": 0},
        )
    eng = sa.create_engine(store_url)
    try:
        with pytest.raises(sa.exc.DatabaseError, match="not balanced"), eng.begin() as conn:
            conn.execute(sa.text(LINE_SQL), {"eid": "x2", "no": 1, "acct": "a", "d": 100, "c": 0})
            conn.execute(sa.text(LINE_SQL), {"eid": "x2", "no": 2, "acct": "b", "d": 0, "c": 99})
            conn.execute(sa.text(ENTRY_SQL), _entry(1, "x2"))
        with pytest.raises(sa.exc.DatabaseError, match="no lines"), eng.begin() as conn:
            conn.execute(sa.text(ENTRY_SQL), _entry(1, "x3"))
    finally:
        eng.dispose()
    assert raw(store_url, "SELECT COUNT(*) FROM ledger_lines")[0][0] == 0


def test_database_refuses_lines_added_to_a_posted_entry_and_two_sided_lines(store_url: str) -> None:
    res = ledger.post_authorization(
        SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE, url=store_url
    )
    eid = res.posted[0]
    with pytest.raises(sa.exc.DatabaseError, match="sealed"):
        raw(store_url, LINE_SQL, params={"eid": eid, "no": 9, "acct": "a", "d": 1, "c": 0})
    with pytest.raises(sa.exc.IntegrityError):
        raw(store_url, LINE_SQL, params={"eid": "new", "no": 1, "acct": "a", "d": 1, "c": 1})


def test_database_refuses_a_second_entry_for_one_source_event(store_url: str) -> None:
    res = ledger.post_authorization(
        SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE, url=store_url
    )
    source_event = ledger.get_entry(res.posted[0], url=store_url)["source_event_id"]
    params = {**_entry(10, "dup"), "src": "authorization", "sev": source_event}
    with pytest.raises(sa.exc.IntegrityError):
        raw(
            store_url,
            LINE_SQL.replace(":no", "1").replace(":acct", "'a'").replace(":d", "5").replace(":c", "0"),
            LINE_SQL.replace(":no", "2").replace(":acct", "'b'").replace(":d", "0").replace(":c", "5"),
            ENTRY_SQL,
            params=params,
        )


def test_migration_downgrades_to_0002_and_upgrades_again(
    store_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command
    from alembic.config import Config

    from vgos.store.db import MIGRATIONS, get_engine

    _posted(store_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    eng = get_engine(store_url)
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert not sa.inspect(eng).has_table("ledger_entries")
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    # the downgrade wiped the journal: its anchor outside the database says so
    from vgos.errors import VerificationError

    with pytest.raises(VerificationError, match="LEDGER_TRUNCATED"):
        ledger.verify_chain(url=store_url)
    monkeypatch.setenv("VGOS_ARTIFACTS", str(tmp_path / "fresh-artifacts"))  # a new ledger starts a new store
    assert ledger.verify_chain(url=store_url)["entries"] == 0
    _posted(store_url)  # the triggers are back too
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        raw(store_url, "DELETE FROM audit_log")
