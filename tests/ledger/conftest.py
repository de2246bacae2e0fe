"""Ledger fixtures: the store on SQLite (embedded default) and on PostgreSQL, migrated before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def sqlite_url(vgos_home) -> Iterator[str]:
    """The embedded default store (SQLite under the isolated VGOS_HOME)."""
    from vgos import config
    from vgos.store.db import get_engine

    url = config.database_url()
    get_engine(url)  # migrated before the test looks at the tables
    yield url
    get_engine(url).dispose()


@pytest.fixture
def postgres_url(vgos_home, pg_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema as the store; pooled connections closed before the schema is dropped."""
    from vgos.store.db import get_engine

    get_engine(pg_url)
    yield pg_url
    get_engine(pg_url).dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on the embedded SQLite store and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")
