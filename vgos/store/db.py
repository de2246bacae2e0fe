"""Engine, sessions and alembic migrations for the OLTP store (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from vgos import config

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str | None = None) -> Engine:
    """Create an engine; SQLite gets foreign keys on and a busy timeout so concurrent writers wait."""
    url = url or config.database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


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
