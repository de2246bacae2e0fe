"""The sqlite3 path of short commands (`vgos.store.lite`): same audit rows and prior-window matches as the ORM path,
taken only on a current SQLite store, and never importing SQLAlchemy when taken."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from vgos import audit
from vgos.store import idempotency, lite
from vgos.store.db import MIGRATIONS, get_engine, make_engine

ARGS = ("ops@example.com", "user", "fold", "window/default/2025-09-23", "corr-1", "2025-09-23T21:00:00.5+02:00",
        {"output_digest": "ab" * 32, "events_kept": 3, "nested": {"z": 1, "a": [1, "x"]}, "ñ": "é"})


def _rows(url: str) -> list[dict]:
    with get_engine(url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM audit_log ORDER BY id"))]


def test_head_revision_is_alembics() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert lite.head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


def test_fast_audit_row_equals_the_orm_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    get_engine(url)  # migrated: the store is current
    assert lite.current_sqlite(url) == (tmp_path / "a.db").absolute()
    with get_engine(url).begin() as conn:
        audit.record_on(conn, *ARGS, window_id=None)  # the ORM path
    audit.record(*ARGS, url=url)  # the sqlite3 path
    audit.record(*ARGS[:6], "plain text summary", window_id="2025-09-22", url=url)
    with get_engine(url).begin() as conn:
        audit.record_on(conn, *ARGS[:6], "plain text summary", window_id="2025-09-22")
    orm, fast, fast2, orm2 = _rows(url)
    assert [r.pop("id") for r in (orm, fast, fast2, orm2)] == [1, 2, 3, 4]
    assert fast == orm and fast2 == orm2
    assert fast["window_id"] == "2025-09-23" and fast["at"] == "2025-09-23T19:00:00.500000Z"
    with pytest.raises(sa.exc.DBAPIError), get_engine(url).begin() as conn:  # still append-only
        conn.execute(sa.text("DELETE FROM audit_log"))


def test_fast_path_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    get_engine(url)
    code = ("import sys; from vgos.audit import record; from vgos.store.lite import prior_matches\n"
            f"record('a', 'user', 'fold', 'window/2025-09-23', None, '2025-09-23T00:00:00Z', {{}}, url={url!r})\n"
            f"assert prior_matches('default', '2025-09-23', ['e1'], {url!r}) == {{}}\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
    assert len(_rows(url)) == 1


def test_missing_and_older_stores_are_migrated(tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'new' / 'fresh.db'}"
    assert lite.current_sqlite(fresh) is None
    audit.record(*ARGS, url=fresh)  # creates and migrates, then appends
    assert len(_rows(fresh)) == 1 and lite.current_sqlite(fresh) is not None

    from alembic import command
    from alembic.config import Config

    old = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(old)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")  # one revision behind
    engine.dispose()
    assert lite.current_sqlite(old) is None
    audit.record(*ARGS, url=old)
    assert lite.current_sqlite(old) is not None and len(_rows(old)) == 1


@pytest.mark.parametrize("url", ["postgresql+psycopg2://u@127.0.0.1:1/x", "sqlite://", "sqlite:///:memory:",
                                 "sqlite:///file:x.db?mode=memory&uri=true", "sqlite:///a%20b.db"])
def test_other_stores_take_the_orm_path(url: str) -> None:
    assert lite.current_sqlite(url) is None


def test_prior_matches_equal_the_orm_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vgos.store.acceptance import TranscriptIndex
    from vgos.store.db import session

    url = f"sqlite:///{tmp_path / 'p.db'}"
    weird = ['q"', "b\\s", "t\tab", "n\nl", "c,omma", " lead", "日本", "😀", "NULL", "\\N"]
    windows = [("t", "2025-09-01", "a"), ("t", "2025-09-02", "b"), ("t", "2025-09-01", "c"), ("u", "2025-09-01", "d")]
    with session(url) as s, s.begin():
        for i, (tenant, window, digest) in enumerate(windows):
            row = TranscriptIndex(tenant_id=tenant, window_id=window, output_digest=digest * 64,
                                  transcript_root="0" * 64, url="u", key_id="k", created_at="2025-09-01T21:00:00Z")
            s.add(row)
            s.flush()
            ids = [f"id-{j}" for j in range(i * 10, i * 10 + 30)] + weird[i::2]
            idempotency.index_kept_events(s, row, pl.Series(ids, dtype=pl.String))
    monkeypatch.setattr(lite, "LOOKUP_CHUNK", 7)
    path = lite.current_sqlite(url)
    assert path is not None
    probe = pl.Series([f"id-{j}" for j in range(0, 60)] + weird + [None, "id-3", "new"], dtype=pl.String)
    for tenant in ("t", "u", "v"):
        for window in ("2025-09-01", "2025-09-02", "2025-09-03"):
            want = idempotency.prior_matches(tenant, window, probe, url)
            assert lite.sqlite_prior_matches(path, tenant, window, probe) == want
            assert lite.prior_lookup(tenant, window, url)(probe) == want
    assert lite.prior_matches("t", "2025-09-03", probe, url)  # a non-trivial case was compared
