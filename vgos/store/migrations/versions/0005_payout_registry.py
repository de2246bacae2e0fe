"""Payout registry: items per (tenant, window, principal, seal), append-only transitions, per-window locks.

Revision ID: 0005
Revises: 0004

Also: batch items name the registry item they pay; a window may have several batches per digest and rail (a
retry after FAILED/RETURNED/CANCELLED), so the old one-batch-per-binding constraint goes; gate runs record
their purpose (`release` where money leaves, `what-if` for a caller-supplied time, `evaluate` otherwise).
"""

import sqlalchemy as sa
from alembic import op

from vgos.store.migrations.append_only import protect, unprotect

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_ONLY = ("payout_items", "payout_transitions")


def upgrade() -> None:
    op.create_table(
        "payout_items",
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(32), nullable=False),
        sa.Column("principal_id", sa.String(128), nullable=False),
        sa.Column("output_digest", sa.String(64), nullable=False),
        sa.Column("seal_ref", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("sealed_payout_minor", sa.BigInteger(), nullable=False),
        sa.Column("prior_net_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name="pk_payout_items"),
        sa.UniqueConstraint("tenant_id", "window_id", "principal_id", "seal_ref", "generation",
                            name="uq_payout_items_binding"),
        sa.CheckConstraint("amount_minor > 0", name="ck_payout_items_positive"),
        sa.CheckConstraint("kind IN ('PAYOUT', 'RECOVERY')", name="ck_payout_items_kind"),
    )
    op.create_index("ix_payout_items_window", "payout_items", ["tenant_id", "window_id"])
    op.create_table(
        "payout_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("provider_batch_id", sa.String(64), nullable=True),
        sa.Column("ledger_entry_id", sa.String(64), nullable=True),
        sa.Column("actor_id", sa.String(256), nullable=False),
        sa.Column("actor_type", sa.String(32), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payout_transitions"),
        sa.ForeignKeyConstraint(["item_id"], ["payout_items.item_id"], name="fk_payout_transitions_item"),
        sa.UniqueConstraint("item_id", "seq", name="uq_payout_transitions_seq"),
    )
    op.create_index("ix_payout_transitions_item_id", "payout_transitions", ["item_id"])
    op.create_index("ix_payout_transitions_window", "payout_transitions", ["tenant_id", "window_id"])
    op.create_index("ix_payout_transitions_provider_batch_id", "payout_transitions", ["provider_batch_id"])
    op.create_table(
        "payout_window_locks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_payout_window_locks"),
        sa.UniqueConstraint("tenant_id", "window_id", name="uq_payout_window_locks_window"),
    )
    with op.batch_alter_table("payout_batch_items") as b:
        b.add_column(sa.Column("payout_item_id", sa.String(64), nullable=True))
    with op.batch_alter_table("payout_batches") as b:
        b.drop_constraint("uq_payout_batches_binding", type_="unique")
        b.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("gate_runs", sa.Column("purpose", sa.String(16), nullable=False, server_default="evaluate"))

    protect(APPEND_ONLY)


def downgrade() -> None:
    unprotect(APPEND_ONLY)
    op.drop_column("gate_runs", "purpose")
    with op.batch_alter_table("payout_batches") as b:
        b.drop_column("attempt")
        b.create_unique_constraint("uq_payout_batches_binding", ["tenant_id", "window_id", "output_digest", "rail"])
    with op.batch_alter_table("payout_batch_items") as b:
        b.drop_column("payout_item_id")
    op.drop_table("payout_window_locks")
    op.drop_table("payout_transitions")
    op.drop_table("payout_items")
