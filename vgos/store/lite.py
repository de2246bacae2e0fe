"""The OLTP store through the standard library's sqlite3 driver, for short commands that touch one or two tables.

`vgos fold` needs the store twice (the prior-window lookup of SPEC §3 step 2 and one audit row); importing
SQLAlchemy and running alembic's up-to-date check for that costs more than the statements. When the store is a
SQLite file whose `alembic_version` is already the newest migration, `current_sqlite` returns its path and the
callers run the same SQL through sqlite3, with the connection settings of `vgos.store.db.make_engine`; in every
other case (PostgreSQL, in-memory or URI databases, a missing, older or unreadable file) it returns None and the
callers take the SQLAlchemy path, which creates or migrates the store. Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from vgos import config

MIGRATIONS = Path(__file__).parent / "migrations"
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:[\"']([^\"']+)[\"']|None)\s*$", re.M)
_SQLITE_URL = re.compile(r"^sqlite(?:\+pysqlite)?:///(?P<db>[^?#%]+)$")


def _make_private(path: Path, mode: int) -> None:
    """chmod `path` to `mode` when it is ours and more open than that (best effort: never fails the caller)."""
    with contextlib.suppress(OSError):
        st = path.stat()
        if st.st_uid == os.geteuid() and st.st_mode & 0o777 & ~mode:
            os.chmod(path, mode)


def prepare_sqlite_file(path: Path) -> None:
    """Create the database folder 0700 and the file 0600 before SQLite opens it (SQLite gives -wal/-shm files the
    database file's mode); tighten an existing file, its -wal/-shm and VGOS_HOME when they are ours."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        _make_private(folder, PRIVATE_DIR)
    elif folder == config.vgos_home():
        _make_private(folder, PRIVATE_DIR)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
    except OSError:
        return  # unwritable location: SQLite reports it with its own message
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
              path.with_name(path.name + "-journal")):
        if p.exists():
            _make_private(p, PRIVATE_FILE)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest alembic revision, read from the migration files (the one no other revision names as its parent)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for f in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REVISION.findall(f.read_text(encoding="utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL; None for anything this module does not handle."""
    m = _SQLITE_URL.match(url)
    if m is None or m.group("db") == ":memory:" or m.group("db").startswith("file:"):
        return None
    return Path(m.group("db")).absolute()


def connect(path: Path) -> sqlite3.Connection:
    """A sqlite3 connection with the settings `make_engine` gives every SQLite connection."""
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA cache_size=-131072")
    return conn


def current_sqlite(url: str | None = None) -> Path | None:
    """The SQLite file of the store when it exists and is migrated to the newest revision, else None."""
    url = url or config.database_url()
    path = sqlite_file(url)
    head = head_revision()
    if path is None or head is None or not path.is_file():
        return None
    prepare_sqlite_file(path)  # as `make_engine` does before its first connection: tighten modes
    try:
        conn = sqlite3.connect(path, timeout=30)
        try:
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return path if rows == [(head,)] else None


@contextlib.contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection whose statements commit together at the end of the block (rolled back on an exception)."""
    prepare_sqlite_file(path)
    conn = connect(path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------- prior-window lookup

LOOKUP_CHUNK = 50_000
# The SQL of `vgos.store.idempotency.current_seals` and `_lookup_chunks` (SQLite): the indexed seals that are their
# window's current transcript (other windows only), and the index rows of a chunk of ids bound as one JSON array.
_CURRENT_SEALS_SQL = (
    "SELECT s.id, s.window_id FROM event_index_seals AS s JOIN transcript_index AS t "
    "ON t.tenant_id = s.tenant_id AND t.window_id = s.window_id AND t.output_digest = s.output_digest "
    "WHERE s.tenant_id = ? AND t.id IN (SELECT max(id) FROM transcript_index WHERE tenant_id = ? "
    "GROUP BY window_id) AND s.window_id != ?"
)
_LOOKUP_SQL = ("SELECT event_id, seal_id FROM event_index WHERE tenant_id = ? "
               "AND event_id IN (SELECT value FROM json_each(?))")


def probe_ids(event_ids: Any) -> Any:
    """The distinct non-null ids of a polars Series or iterable, sorted (in key order the index probes stay local)."""
    import polars as pl

    ids = event_ids if isinstance(event_ids, pl.Series) else pl.Series(list(event_ids), dtype=pl.String)
    return ids.cast(pl.String).drop_nulls().unique().sort()


def merge_matches(seals: dict[int, str], batches: Iterable[Iterable[tuple[str, int]]]) -> dict[str, str]:
    """event_id → window of the (event_id, seal_id) index rows whose seal is current; the smallest window wins."""
    out: dict[str, str] = {}
    for rows in batches:
        for eid, sid in rows:
            w = seals.get(sid)
            if w is not None and (eid not in out or w < out[eid]):  # kept twice: name the earliest window
                out[eid] = w
    return dict(sorted(out.items()))


def sqlite_prior_matches(path: Path, tenant_id: str, window_id: str, event_ids: Any) -> dict[str, str]:
    """`vgos.store.idempotency.prior_matches` on a current SQLite store through sqlite3 (same SQL, same result)."""
    import orjson

    with transaction(path) as conn:
        seals = {sid: w for sid, w in conn.execute(_CURRENT_SEALS_SQL, (tenant_id, tenant_id, window_id))}
        if not seals:
            return {}
        ids = probe_ids(event_ids)

        def batches() -> Iterator[list[tuple[str, int]]]:
            for start in range(0, len(ids), LOOKUP_CHUNK):
                chunk = orjson.dumps(ids.slice(start, LOOKUP_CHUNK).to_list()).decode()
                yield conn.execute(_LOOKUP_SQL, (tenant_id, chunk)).fetchall()

        return merge_matches(seals, batches())


def prior_matches(tenant_id: str, window_id: str, event_ids: Any, db_url: str | None = None) -> dict[str, str]:
    """The tenant's prior-window matches (SPEC §3 step 2): through sqlite3 on a current SQLite store, else the ORM."""
    path = current_sqlite(db_url)
    if path is not None:
        return sqlite_prior_matches(path, tenant_id, window_id, event_ids)
    from vgos.store import idempotency

    return idempotency.prior_matches(tenant_id, window_id, event_ids, db_url)


def prior_lookup(tenant_id: str, window_id: str, db_url: str | None = None) -> Callable[[Any], dict[str, str]]:
    """A `vgos.fold.PriorLookup` bound to the tenant, the window being folded and the store."""

    def lookup(event_ids: Any) -> dict[str, str]:
        return prior_matches(tenant_id, window_id, event_ids, db_url)

    return lookup
