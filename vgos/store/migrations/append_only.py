"""Triggers that make tables append-only, shared by the migrations that protect tables (revisions 0004 on).

PostgreSQL uses `vgos_ledger_refuse_change()` (created by revision 0003) for UPDATE, DELETE and TRUNCATE; SQLite
gets one RAISE(ABORT) trigger per verb."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op


def protect(tables: Iterable[str]) -> None:
    """Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) on each table."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION vgos_ledger_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION vgos_ledger_refuse_change()")
            continue
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'append-only: {verb} on {table} refused'); END")


def unprotect(tables: Iterable[str]) -> None:
    """Drop the triggers `protect` created (downgrades)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
