"""Two processes migrating the same fresh databases at once (SQLite files, PostgreSQL schemas): both succeed."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.store.race import assert_clean, finish, kill

ROUNDS = 4
# import first, then meet the other process (a ready file each), then migrate every database in the same order
MIGRATOR = """
import sys, time
from pathlib import Path
from vgos.store.db import get_engine
import alembic.command, alembic.config  # noqa: F401
me, other, urls = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
me.touch()
deadline = time.monotonic() + 120
while not other.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
for url in urls:
    get_engine(url)
print("migrated", len(urls))
"""


def _race(urls: list[str], tmp_path: Path) -> None:
    a, b = tmp_path / "ready-a", tmp_path / "ready-b"
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATOR, str(x), str(y), *urls], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for x, y in ((a, b), (b, a))]
    try:
        runs = finish(procs)
    finally:
        kill(procs)
    assert_clean(runs)
    assert all(out.strip() == f"migrated {len(urls)}" for _c, out, _e in runs), runs


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from vgos.store.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


@pytest.fixture
def pg_schemas(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    """(admin URL, fresh empty schemas) on PostgreSQL, or ("", []) when no server is reachable (outside CI)."""
    try:
        admin = request.getfixturevalue("pg_admin_url")
    except pytest.skip.Exception:
        yield "", []
        return
    schemas = ["t_" + uuid.uuid4().hex[:12] for _ in range(ROUNDS)]
    eng = sa.create_engine(admin)
    with eng.begin() as conn:
        for s in schemas:
            conn.execute(sa.text(f'CREATE SCHEMA "{s}"'))
    try:
        yield admin, schemas
    finally:
        with eng.begin() as conn:
            for s in schemas:
                conn.execute(sa.text(f'DROP SCHEMA "{s}" CASCADE'))
        eng.dispose()


def _versions(url: str, table: str = "alembic_version") -> list[str]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return list(conn.execute(sa.text(f"SELECT version_num FROM {table}")).scalars())
    finally:
        eng.dispose()


@pytest.mark.slow  # a separate process end to end: CI runs it (make test stays < 3 min)
def test_concurrent_first_use(tmp_path: Path, pg_schemas: tuple[str, list[str]]) -> None:
    """Fresh SQLite files and fresh PostgreSQL schemas, each migrated by two processes at once."""
    admin, schemas = pg_schemas
    sqlite = [f"sqlite:///{tmp_path / f'db{i}' / 'vgos.db'}" for i in range(ROUNDS)]
    pg = [f"{admin}?options=-csearch_path%3D{s}" for s in schemas]
    _race([u for pair in zip(sqlite, pg or [None] * ROUNDS, strict=True) for u in pair if u], tmp_path)
    for url in sqlite:
        assert _versions(url) == [_head()]
    for s in schemas:
        assert _versions(admin, f'"{s}".alembic_version') == [_head()]


def test_migrate_twice_is_a_no_op(tmp_path: Path) -> None:
    from vgos.store.db import make_engine, migrate

    eng = make_engine(f"sqlite:///{tmp_path / 'vgos.db'}")
    migrate(eng)
    migrate(eng)
    eng.dispose()
