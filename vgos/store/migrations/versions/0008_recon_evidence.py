"""Bank-grade reconciliation: receipts keep booking status, reversal, bank reference and flags; files can be
flagged and accepted by a person; discrepancies become cases with a status and an owner.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RECEIPT_COLUMNS = (
    ("booking", sa.String(8), "BOOKED"), ("reversal", sa.Boolean(), sa.false()), ("return_code", sa.String(64), None),
    ("booking_date", sa.String(32), None), ("value_date", sa.String(32), None), ("bank_ref", sa.String(256), None),
    ("account", sa.String(64), None), ("parent_seq", sa.Integer(), None), ("fee_included", sa.Boolean(), sa.false()),
    ("instructed_minor", sa.BigInteger(), None), ("instructed_currency", sa.String(3), None),
    ("copy", sa.String(8), None), ("flagged", sa.String(64), None),
)


def upgrade() -> None:
    with op.batch_alter_table("recon_receipts") as b:
        for name, type_, default in RECEIPT_COLUMNS:
            if default is None:
                b.add_column(sa.Column(name, type_, nullable=True))
            else:
                b.add_column(sa.Column(name, type_, nullable=False, server_default=default))
    with op.batch_alter_table("recon_report_files") as b:
        b.add_column(sa.Column("flags", sa.Text(), nullable=True))
        b.add_column(sa.Column("resolved_by", sa.String(256), nullable=True))
        b.add_column(sa.Column("resolved_at", sa.String(40), nullable=True))
        b.add_column(sa.Column("resolution", sa.Text(), nullable=True))
    with op.batch_alter_table("recon_discrepancies") as b:
        b.add_column(sa.Column("batch_id", sa.String(64), nullable=True))
        b.add_column(sa.Column("case_key", sa.Text(), nullable=True))
    with op.batch_alter_table("recon_runs") as b:
        b.add_column(sa.Column("n_pending", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "recon_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(64), nullable=False),
        sa.Column("case_key", sa.String(512), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("subject", sa.String(256), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(256), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recon_cases"),
        sa.UniqueConstraint("tenant_id", "window_id", "case_key", name="uq_recon_cases_key"),
    )


def downgrade() -> None:
    op.drop_table("recon_cases")
    with op.batch_alter_table("recon_runs") as b:
        b.drop_column("n_pending")
    with op.batch_alter_table("recon_discrepancies") as b:
        b.drop_column("case_key")
        b.drop_column("batch_id")
    with op.batch_alter_table("recon_report_files") as b:
        for name in ("resolution", "resolved_at", "resolved_by", "flags"):
            b.drop_column(name)
    with op.batch_alter_table("recon_receipts") as b:
        for name, _, _ in reversed(RECEIPT_COLUMNS):
            b.drop_column(name)
