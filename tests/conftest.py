"""Shared fixtures: isolated VGOS_HOME/DAGSTER_HOME per test, the shared fixtures path, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
PG_ADMIN_URL = os.environ.get("VGOS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


_ROOT = pytest.StashKey[Path]()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The session's homes go with it: no `vgos-tests-*` folder is left in the temp directory."""
    import shutil

    root = config.stash.get(_ROOT, None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that takes a PostgreSQL fixture carries the `postgres` marker (`-m "not postgres"` works)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and "postgres" in callspec.id.split("-")  # a store parametrized by name
        if on_pg or {"pg_url", "pg_admin_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def pytest_configure(config: pytest.Config) -> None:
    """No test touches the checkout's .vgos/ or dagster_home/: the session gets its own homes."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="vgos-tests-"))
    config.stash[_ROOT] = root
    for var, sub in (("VGOS_HOME", "vgos_home"), ("DAGSTER_HOME", "dagster_home")):
        (root / sub).mkdir()
        os.environ[var] = str(root / sub)
    for var in ("VGOS_DATABASE_URL", "VGOS_ARTIFACTS", "VGOS_DROP_ZONE", "VGOS_SIGNING_KEY", "VGOS_KMS_KEY_ID",
                "VGOS_TRUSTED_KEYS"):
        os.environ.pop(var, None)


@pytest.fixture
def vgos_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, fully isolated VGOS_HOME (and DAGSTER_HOME) for one test."""
    home = tmp_path / "vgos_home"
    home.mkdir()
    monkeypatch.setenv("VGOS_HOME", str(home))
    monkeypatch.delenv("VGOS_DATABASE_URL", raising=False)
    monkeypatch.delenv("VGOS_ARTIFACTS", raising=False)
    monkeypatch.delenv("VGOS_DROP_ZONE", raising=False)
    monkeypatch.delenv("VGOS_SIGNING_KEY", raising=False)
    monkeypatch.delenv("VGOS_KMS_KEY_ID", raising=False)
    monkeypatch.delenv("VGOS_TRUSTED_KEYS", raising=False)
    dh = tmp_path / "dagster_home"
    dh.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dh))
    return home


def _pg_reachable() -> str | None:
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(PG_ADMIN_URL)
        with eng.connect() as conn:
            conn.execute(sa.text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the PostgreSQL server; in CI (CI=true) an unreachable server fails the test instead of skipping."""
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required in CI: {problem}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 not reachable ({problem}); runs in CI")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url: str) -> str:
    """A fresh, empty PostgreSQL schema for one test, dropped afterwards (search_path set in the URL)."""
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(pg_admin_url)
    with eng.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{pg_admin_url}?options=-csearch_path%3D{schema}"
    yield url
    with eng.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    eng.dispose()


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch):
    """moto (S3, KMS) on 127.0.0.1 with a free port and fake credentials; its state is reset around the test.

    moto keeps one backend per process, so every server would otherwise see the buckets of earlier tests.
    """
    import requests
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    for k, v in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield url
    finally:
        requests.post(f"{url}/moto-api/reset", timeout=10)
        server.stop()
