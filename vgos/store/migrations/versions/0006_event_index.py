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

from vgos.store.migrations.append_only import protect, unprotect

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

    protect(APPEND_ONLY)


def downgrade() -> None:
    unprotect(APPEND_ONLY)
    op.drop_index("ix_event_index_lookup", table_name="event_index")
    op.drop_table("event_index")
    op.drop_table("event_index_seals")
