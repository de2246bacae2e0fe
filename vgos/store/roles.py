"""PostgreSQL role split (docs/postgres-roles.md): an owner role holds the tables and the append-only triggers and
runs the migrations; the application role connects for everything else and may only SELECT and INSERT, plus UPDATE
or DELETE on the few tables the application rewrites (listed here, each with the code that needs it).

Because the application role owns nothing and is no superuser, PostgreSQL itself refuses it UPDATE/DELETE/TRUNCATE
on the append-only tables (no privilege, before any trigger runs), `ALTER TABLE … DISABLE TRIGGER` and
`DROP TRIGGER` (owner only) and `SET session_replication_role` (superuser, or an explicit GRANT SET on the
parameter, which is never given).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from vgos.errors import InputError

# Tables whose rows never change (triggers refuse UPDATE/DELETE/TRUNCATE for everyone but a superuser or owner
# who drops them; the application role has no privilege to try).
APPEND_ONLY_TABLES = (
    "ledger_entries",
    "ledger_lines",
    "ledger_head_signatures",
    "audit_log",
    "gate_runs",
    "gate_decisions",
    "acceptance_proofs",
    "acceptance_quarantine",
    "transcript_index",
    "payout_items",
    "payout_transitions",
    "event_index_seals",
    "event_index",
)
# UPDATE granted only here, each for one reason.
APP_UPDATES = {
    "ledger_chain_head": "vgos/ledger.py append: the single head row, locked FOR UPDATE and moved by each posting",
    "payout_window_locks": "vgos/payouts.py _lock: the per-window lock row, version + 1 under the lock",
    "recon_runs": "recon/persist.py save_result: a re-run with a new outcome rewrites its run row",
}
# DELETE granted only here.
APP_DELETES = {
    "recon_matches": "recon/persist.py save_result: a re-run replaces the run's matches",
    "recon_discrepancies": "recon/persist.py save_result: a re-run replaces the run's discrepancies",
}
READ_ONLY = ("alembic_version",)  # the application only reads the schema version (migrations run as the owner)


def _ident(conn: Connection, name: str) -> str:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InputError(f"not a usable SQL identifier: {name!r}")
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _schema(conn: Connection, schema: str | None) -> str:
    return schema or conn.execute(text("SELECT current_schema()")).scalar_one()


def _tables(conn: Connection, schema: str) -> list[str]:
    return list(
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"), {"s": schema}
        ).scalars()
    )


def grant_app_role(conn: Connection, schema: str | None, app_role: str) -> list[str]:
    """Give `app_role` exactly the application's privileges on `schema` (default: the current schema), revoking
    anything more it had on its tables. Run as the owner role (or a superuser) after each migration; idempotent.
    Returns the statements executed; the caller commits."""
    if conn.dialect.name != "postgresql":
        raise InputError(f"roles exist on PostgreSQL only, not {conn.dialect.name}")
    schema = _schema(conn, schema)
    tables = _tables(conn, schema)
    if "ledger_entries" not in tables:
        raise InputError(f"schema {schema!r} has no VGOS tables: run the migrations (as the owner role) first")
    if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app_role}).first():
        raise InputError(f"role {app_role!r} does not exist (CREATE ROLE {app_role} LOGIN first)")
    owner = conn.execute(
        text("SELECT tableowner FROM pg_tables WHERE schemaname = :s AND tablename = 'ledger_entries'"), {"s": schema}
    ).scalar_one()
    if owner == app_role:
        raise InputError(f"role {app_role!r} owns the tables: the application must connect as another role")
    s, r, o = _ident(conn, schema), _ident(conn, app_role), _ident(conn, owner)

    def qualified(names: list[str]) -> str:
        return ", ".join(f"{s}.{_ident(conn, t)}" for t in names)

    writable = [t for t in tables if t not in READ_ONLY]
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON SCHEMA {s} FROM {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT ON {qualified(writable)} TO {r}",
    ]
    read_only = [t for t in READ_ONLY if t in tables]
    if read_only:
        statements.append(f"GRANT SELECT ON {qualified(read_only)} TO {r}")
    updates = [t for t in APP_UPDATES if t in tables]
    if updates:
        statements.append(f"GRANT UPDATE ON {qualified(updates)} TO {r}")
    deletes = [t for t in APP_DELETES if t in tables]
    if deletes:
        statements.append(f"GRANT DELETE ON {qualified(deletes)} TO {r}")
    statements += [
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        # tables a later migration creates: readable and insertable only, until this is run again
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT SELECT, INSERT ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT USAGE ON SEQUENCES TO {r}",
    ]
    for st in statements:
        conn.exec_driver_sql(st)
    return statements


def app_role_problems(conn: Connection, schema: str | None, app_role: str) -> list[str]:
    """What `app_role` could do beyond the application's needs on `schema` (empty when the split holds)."""
    schema = _schema(conn, schema)
    problems: list[str] = []
    row = conn.execute(
        text("SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": app_role}
    ).first()
    if row is None:
        return [f"role {app_role} does not exist"]
    for flag, name in zip(row, ("SUPERUSER", "CREATEROLE", "BYPASSRLS"), strict=True):
        if flag:
            problems.append(f"{app_role} has {name}")
    owners = conn.execute(
        text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = :s"), {"s": schema}
    ).scalars()
    for owner in owners:
        if conn.execute(text("SELECT pg_has_role(:r, :o, 'MEMBER')"), {"r": app_role, "o": owner}).scalar_one():
            problems.append(f"{app_role} is (a member of) {owner}, which owns tables in {schema}")
    if conn.execute(text("SELECT has_schema_privilege(:r, :s, 'CREATE')"), {"r": app_role, "s": schema}).scalar_one():
        problems.append(f"{app_role} can CREATE in schema {schema}")
    for table in _tables(conn, schema):
        allowed = {"SELECT", "INSERT"} if table not in READ_ONLY else {"SELECT"}
        if table in APP_UPDATES:
            allowed.add("UPDATE")
        if table in APP_DELETES:
            allowed.add("DELETE")
        for priv in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES", "INSERT"):
            if priv in allowed:
                continue
            held = conn.execute(
                text("SELECT has_table_privilege(:r, :t, :p)"),
                {"r": app_role, "t": f"{_ident(conn, schema)}.{_ident(conn, table)}", "p": priv},
            ).scalar_one()
            if held:
                problems.append(f"{app_role} has {priv} on {schema}.{table}")
    if int(conn.execute(text("SHOW server_version_num")).scalar_one()) >= 150000:
        can_set = conn.execute(
            text("SELECT has_parameter_privilege(:r, 'session_replication_role', 'SET')"), {"r": app_role}
        ).scalar_one()
        if can_set:
            problems.append(f"{app_role} can SET session_replication_role (triggers off)")
    return problems
