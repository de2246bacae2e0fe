"""Engine, sessions and alembic migrations for the OLTP store (SQLite by default, PostgreSQL in production).

First use is safe under concurrency: migrations are serialized (a PostgreSQL transaction-level advisory lock, or an
exclusive `flock` on a lock file beside a SQLite database), and alembic re-reads the schema version once the lock is
held, so two processes migrating a fresh database at once both succeed. A SQLite database holds payee details: its
file (and -wal/-shm) is created 0600 before SQLite opens it, and a folder made for it (or VGOS_HOME) is 0700.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from vgos import config
from vgos.store.lite import PRIVATE_DIR, PRIVATE_FILE, _make_private, prepare_sqlite_file  # noqa: F401 - re-exported

MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key that serializes migrations (ASCII "vgosmigr"); one per database, released at commit.
MIGRATION_LOCK_KEY = 0x76676F736D696772


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other databases, in-memory and `file:` URI databases."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:") or str(u.query.get("uri", "")).lower() == "true":
        return None
    return Path(db).absolute()


def make_engine(url: str | None = None) -> Engine:
    """Create an engine; SQLite gets foreign keys on and a busy timeout so concurrent writers wait."""
    url = url or config.database_url()
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            prepare_sqlite_file(path)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA cache_size=-131072")  # 128 MiB page cache: bulk receipt and result inserts
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@contextlib.contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """Hold an exclusive flock on `<database>.migrate-lock` (0600) while migrating; waits for another migrator."""
    path = sqlite_path(str(engine.url))
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None:
        yield
        return
    try:
        fd = os.open(path.with_name(path.name + ".migrate-lock"), os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError:  # read-only folder: nobody can create the schema here anyway, SQLite reports it
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest alembic revision (idempotent, serialized between processes).

    The version is read by alembic only after the lock is held, so a process that waited finds the schema its
    competitor created and has nothing to do."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with _sqlite_migration_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def serialize_on(s: Session | Connection, key: str) -> None:
    """Inside a transaction: wait until no other transaction holds `key`, and hold it until this one ends.

    PostgreSQL: a transaction-level advisory lock on a 64-bit hash of `key` (the statements that follow see what
    the previous holder committed). SQLite has one writer at a time: take the database write lock now, before
    reading, so a read-then-write cannot interleave with another writer's."""
    bind = s.get_bind() if isinstance(s, Session) else s
    name = bind.dialect.name
    if name == "postgresql":
        k = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": k})
    elif name == "sqlite":
        s.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The migrated engine for a URL (cached per process)."""
    return _engine_for(url or config.database_url())


def session(url: str | None = None) -> Session:
    """A new ORM session on the migrated store."""
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)()
