"""PostgreSQL role split (docs/postgres-roles.md): the owner role runs the migrations and holds tables and triggers;
the application role, granted by `vgos.store.roles.grant_app_role`, posts to the ledger but cannot change, delete or
truncate the append-only tables, nor switch their triggers off by any of the usual routes."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.ledger.helpers import SEED_CLOSE, SEED_DIGEST, SEED_WINDOW, raw, seed_decisions
from vgos import ledger

REFUSED = [
    "UPDATE ledger_entries SET memo = 'x'",
    "DELETE FROM ledger_entries",
    "UPDATE ledger_lines SET debit_minor = debit_minor * 10",
    "DELETE FROM ledger_lines",
    "DELETE FROM ledger_head_signatures",
    "UPDATE audit_log SET actor_id = 'mallory'",
    "DELETE FROM payout_items",
    "DELETE FROM payout_transitions",
    "UPDATE gate_decisions SET decision = 'ALLOW'",
    "DELETE FROM ledger_chain_head",
    "TRUNCATE ledger_lines, ledger_entries",
    "TRUNCATE audit_log",
    "ALTER TABLE ledger_entries DISABLE TRIGGER ALL",
    "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only",
    "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
    "SET session_replication_role = replica",
    "SET LOCAL session_replication_role = replica",
    "CREATE OR REPLACE FUNCTION vgos_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RETURN NEW; END $$",
    "ALTER TABLE ledger_entries OWNER TO CURRENT_USER",
    "DROP TABLE ledger_entries CASCADE",
    "CREATE TABLE shadow (i int)",
    "UPDATE alembic_version SET version_num = '0001'",
]


def _url(admin_url: str, role: str, schema: str) -> str:
    u = sa.make_url(admin_url).set(username=role, password=None)
    return f"{u.render_as_string(hide_password=False)}?options=-csearch_path%3D{schema}"


@pytest.fixture
def roles(pg_admin_url: str, vgos_home) -> Iterator[dict[str, str]]:
    """An owner role, an application role and a schema owned by the owner; all dropped afterwards."""
    from vgos.store.db import get_engine

    tag = uuid.uuid4().hex[:10]
    owner, app, schema = f"vgos_owner_{tag}", f"vgos_app_{tag}", f"roles_{tag}"
    admin = sa.create_engine(pg_admin_url)
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE ROLE {owner} LOGIN")
        c.exec_driver_sql(f"CREATE ROLE {app} LOGIN")
        c.exec_driver_sql(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}")
    urls = {"owner": owner, "app": app, "schema": schema,
            "owner_url": _url(pg_admin_url, owner, schema), "app_url": _url(pg_admin_url, app, schema)}
    try:
        yield urls
    finally:
        for key in ("owner_url", "app_url"):  # engines are cached per URL: close their pools first
            with contextlib.suppress(Exception):
                get_engine(urls[key]).dispose()
        with admin.begin() as c:
            c.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (%(o)s, %(a)s)",
                {"o": owner, "a": app},
            )
            c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            c.exec_driver_sql(f"DROP OWNED BY {app}, {owner}")
            c.exec_driver_sql(f"DROP ROLE {app}")
            c.exec_driver_sql(f"DROP ROLE {owner}")
        admin.dispose()


def test_app_role_posts_but_cannot_alter_the_record(roles: dict[str, str], pg_admin_url: str) -> None:
    from vgos.store.db import get_engine, migrate
    from vgos.store.roles import app_role_problems, grant_app_role

    # the owner runs the migrations: tables, the trigger function and the triggers are the owner's
    owner_engine = get_engine(roles["owner_url"])
    migrate(owner_engine)  # idempotent; get_engine already did it as the owner
    owners = raw(pg_admin_url, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = :s",
                 params={"s": roles["schema"]})
    assert [r[0] for r in owners] == [roles["owner"]]
    with owner_engine.connect() as conn:
        statements = grant_app_role(conn, roles["schema"], roles["app"])
        conn.commit()
    assert any("GRANT UPDATE ON" in st and "ledger_chain_head" in st for st in statements)
    with sa.create_engine(pg_admin_url).connect() as conn:
        assert app_role_problems(conn, roles["schema"], roles["app"]) == []

    # an ordinary posting through the application's code, as the application role
    url = roles["app_url"]
    res = ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE,
                                    url=url)
    assert len(res.posted) == 2 and res.anchor_url is not None
    assert raw(url, "SELECT current_user")[0][0] == roles["app"]

    refused = []
    for statement in REFUSED:
        with pytest.raises(sa.exc.DatabaseError) as info:
            raw(url, statement)
        refused.append(statement)
        assert "permission denied" in str(info.value) or "must be owner" in str(info.value), statement
    assert len(refused) == len(REFUSED)
    assert raw(url, "SELECT COUNT(*) FROM ledger_entries")[0][0] == 2
    report = ledger.verify_chain(url=url)
    assert report["entries"] == 2 and report["anchor_seq"] == 2


def test_grant_is_idempotent_and_revokes_more_than_needed(roles: dict[str, str], pg_admin_url: str) -> None:
    from vgos.store.db import get_engine
    from vgos.store.roles import app_role_problems, grant_app_role

    owner_engine = get_engine(roles["owner_url"])
    with owner_engine.begin() as conn:  # an operator once granted too much
        conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA {roles['schema']} TO {roles['app']}")
    with sa.create_engine(pg_admin_url).connect() as conn:
        problems = app_role_problems(conn, roles["schema"], roles["app"])
    assert any("TRUNCATE on" in p and "ledger_entries" in p for p in problems)
    for _ in range(2):
        with owner_engine.connect() as conn:
            grant_app_role(conn, roles["schema"], roles["app"])
            conn.commit()
    with sa.create_engine(pg_admin_url).connect() as conn:
        assert app_role_problems(conn, roles["schema"], roles["app"]) == []


def test_grant_app_role_command(roles: dict[str, str], pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ledger.helpers import run_cli

    monkeypatch.setenv("VGOS_DATABASE_URL", roles["owner_url"])  # the operator runs it as the owner role
    code, out, err = run_cli(["ledger", "grant-app-role", roles["app"]])
    assert code == 0, err
    assert "GRANT UPDATE ON" in out and "cannot alter, truncate or disable triggers" in out
    monkeypatch.setenv("VGOS_DATABASE_URL", roles["app_url"])
    with pytest.raises(sa.exc.DatabaseError, match="permission denied"):
        raw(roles["app_url"], "TRUNCATE ledger_entries")
    code, _, err = run_cli(["ledger", "grant-app-role", roles["owner"]])  # the owner itself is refused
    assert code == 2 and "owns the tables" in err


def test_grant_app_role_on_sqlite_is_unusable_input(sqlite_url: str) -> None:
    from tests.ledger.helpers import run_cli

    code, _, err = run_cli(["ledger", "grant-app-role", "vgos_app"])
    assert code == 2 and "PostgreSQL only" in err
