"""Payout rails and reconciliation: batches, report files, receipts, recon runs, matches, discrepancies.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payout_batches",
        sa.Column("provider_batch_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("window_id", sa.String(length=64), nullable=False),
        sa.Column("output_digest", sa.String(length=64), nullable=False),
        sa.Column("rail", sa.String(length=16), nullable=False),
        sa.Column("payment_info_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("execution_date", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("ctrl_sum_minor", sa.BigInteger(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("provider_batch_id", name=op.f("pk_payout_batches")),
        sa.UniqueConstraint(
            "tenant_id", "window_id", "output_digest", "rail", name="uq_payout_batches_binding"
        ),
    )
    op.create_index(op.f("ix_payout_batches_window_id"), "payout_batches", ["window_id"], unique=False)
    op.create_table(
        "recon_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("receipt_id", sa.String(length=64), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("provider_ref", sa.Text(), nullable=True),
        sa.Column("batch_ref", sa.String(length=256), nullable=True),
        sa.Column("end_to_end_id", sa.String(length=256), nullable=True),
        sa.Column("window_ref", sa.String(length=128), nullable=True),
        sa.Column("payee_ref", sa.String(length=256), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("booked_at", sa.String(length=64), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("n_txs", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_receipts")),
        sa.UniqueConstraint("tenant_id", "receipt_id", name="uq_recon_receipts_receipt_id"),
    )
    op.create_index(op.f("ix_recon_receipts_batch_ref"), "recon_receipts", ["batch_ref"], unique=False)
    op.create_index(
        op.f("ix_recon_receipts_end_to_end_id"), "recon_receipts", ["end_to_end_id"], unique=False
    )
    op.create_index(op.f("ix_recon_receipts_raw_sha256"), "recon_receipts", ["raw_sha256"], unique=False)
    op.create_table(
        "recon_report_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("n_receipts", sa.Integer(), nullable=False),
        sa.Column("ingested_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_report_files")),
        sa.UniqueConstraint("tenant_id", "raw_sha256", name="uq_recon_report_files_sha"),
    )
    op.create_table(
        "recon_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("window_id", sa.String(length=64), nullable=False),
        sa.Column("output_digest", sa.String(length=64), nullable=False),
        sa.Column("result_digest", sa.String(length=64), nullable=False),
        sa.Column("n_expected", sa.Integer(), nullable=False),
        sa.Column("n_matched", sa.Integer(), nullable=False),
        sa.Column("matched_ppm", sa.Integer(), nullable=False),
        sa.Column("fully_reconciled", sa.Boolean(), nullable=False),
        sa.Column("as_of", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_runs")),
        sa.UniqueConstraint("tenant_id", "window_id", "output_digest", name="uq_recon_runs_window"),
    )
    op.create_index(op.f("ix_recon_runs_window_id"), "recon_runs", ["window_id"], unique=False)
    op.create_table(
        "payout_batch_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_batch_id", sa.String(length=64), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("principal_id", sa.String(length=128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payee_ref", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_batch_id"],
            ["payout_batches.provider_batch_id"],
            name=op.f("fk_payout_batch_items_provider_batch_id_payout_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_batch_items")),
        sa.UniqueConstraint("provider_batch_id", "end_to_end_id", name="uq_payout_batch_items_e2e"),
    )
    op.create_index(
        op.f("ix_payout_batch_items_end_to_end_id"), "payout_batch_items", ["end_to_end_id"], unique=False
    )
    op.create_index(
        op.f("ix_payout_batch_items_provider_batch_id"),
        "payout_batch_items",
        ["provider_batch_id"],
        unique=False,
    )
    op.create_table(
        "recon_discrepancies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("confidence_pct", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=True),
        sa.Column("principal_id", sa.String(length=128), nullable=True),
        sa.Column("receipt_id", sa.String(length=64), nullable=True),
        sa.Column("expected_minor", sa.BigInteger(), nullable=True),
        sa.Column("actual_minor", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["recon_runs.id"],
            name=op.f("fk_recon_discrepancies_run_id_recon_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_discrepancies")),
        sa.UniqueConstraint("run_id", "seq", name="uq_recon_discrepancies_seq"),
    )
    op.create_index(op.f("ix_recon_discrepancies_run_id"), "recon_discrepancies", ["run_id"], unique=False)
    op.create_table(
        "recon_matches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=256), nullable=False),
        sa.Column("principal_id", sa.String(length=128), nullable=False),
        sa.Column("provider_batch_id", sa.String(length=64), nullable=True),
        sa.Column("receipt_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("confidence_pct", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["recon_runs.id"], name=op.f("fk_recon_matches_run_id_recon_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_matches")),
        sa.UniqueConstraint("run_id", "end_to_end_id", name="uq_recon_matches_item"),
    )
    op.create_index(op.f("ix_recon_matches_run_id"), "recon_matches", ["run_id"], unique=False)
    # ### end Alembic commands ###


def downgrade() -> None:
    for table in (
        "recon_discrepancies",
        "recon_matches",
        "recon_runs",
        "recon_receipts",
        "recon_report_files",
        "payout_batch_items",
        "payout_batches",
    ):
        op.drop_table(table)
