"""Idempotency index of kept event ids per tenant (SPEC §3 step 2, `DUPLICATE_PRIOR_WINDOW`).

Revision ID: 0006
Revises: 0005

`event_index_seals`: one row per published (tenant, window, output_digest) whose kept ids are indexed, with the
transcript_index row that indexed it; `event_index`: one row per kept event id of such a seal, looked up by
(tenant_id, event_id). Both are append-only (a re-seal adds rows; which seal is current comes from
transcript_index), so no one can release an id by deleting its row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY = ("event_index_seals", "event_index")


def upgrade() -> None:
    op.create_table(
        "event_index_seals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(32), nullable=False),
        sa.Column("output_digest", sa.String(64), nullable=False),
        sa.Column("seal_ref", sa.Integer(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_index_seals"),
        sa.UniqueConstraint("tenant_id", "window_id", "output_digest", name="uq_event_index_seals_seal"),
    )
    op.create_table(
        "event_index",
        sa.Column("seal_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("seal_id", "event_id", name="pk_event_index"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_event_index_lookup", "event_index", ["tenant_id", "event_id"])

    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:  # vgos_ledger_refuse_change() comes with revision 0003
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION vgos_ledger_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION vgos_ledger_refuse_change()")
        return
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'append-only: {verb} on {table} refused'); END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_index("ix_event_index_lookup", table_name="event_index")
    op.drop_table("event_index")
    op.drop_table("event_index_seals")
