"""The chain on a PostgreSQL-backed Dagster instance (dagster-postgres) and a PostgreSQL OLTP store."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance
from dagster._core.instance.ref import InstanceRef

from tests.conftest import REPO
from tests.dagster.conftest import WINDOW
from vgos_assets.definitions import defs


@pytest.fixture
def pg_dagster_home(pg_admin_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A DAGSTER_HOME whose dagster.yaml is docs/dagster.postgres.yaml, on a fresh database."""
    db = "vgos_dagster_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{db}"'))
    home = tmp_path / "dagster_pg_home"
    home.mkdir()
    shutil.copy(REPO / "docs" / "dagster.postgres.yaml", home / "dagster.yaml")
    url = sa.engine.make_url(pg_admin_url).set(drivername="postgresql+psycopg2", database=db)
    monkeypatch.setenv("DAGSTER_PG_URL", url.render_as_string(hide_password=False))
    yield home
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.slow  # several processes or a PostgreSQL Dagster instance: CI runs it (make test stays < 3 min)
def test_chain_on_postgres_instance(seeded_home: Path, pg_dagster_home: Path, pg_url: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VGOS_DATABASE_URL", pg_url)
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(pg_dagster_home)))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        res = defs.resolve_job_def("settlement_window").execute_in_process(partition_key=WINDOW, instance=instance)
        assert res.success
        for asset in ("raw_events", "normalized_log", "allocations", "transcript", "authorization"):
            records = instance.fetch_materializations(AssetKey(asset), limit=5).records
            assert [r.partition_key for r in records] == [WINDOW], asset
        transcript = instance.fetch_materializations(AssetKey("transcript"), limit=1).records[0]
        digest = transcript.asset_materialization.metadata["output_digest"].value
        eng = sa.create_engine(pg_url)
        with eng.connect() as c:
            indexed = c.execute(sa.text("select output_digest from transcript_index")).scalars().all()
        eng.dispose()
        assert indexed == [digest]
    finally:
        instance.dispose()
