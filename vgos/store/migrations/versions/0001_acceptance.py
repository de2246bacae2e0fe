"""Acceptance, gate and transcript index tables.

Revision ID: 0001
Revises: 0000
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = "0000"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "acceptance_proofs",
        _id(),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("output_digest", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(128), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("proof_json", sa.Text(), nullable=False),
        sa.Column("proof_sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acceptance_proofs"),
        sa.UniqueConstraint("proof_sha256", name="uq_acceptance_proofs_proof_sha256"),
    )
    op.create_index("ix_acceptance_proofs_window", "acceptance_proofs", ["tenant_id", "window_id", "kind"])
    op.create_table(
        "acceptance_quarantine",
        _id(),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("raw_sha256", sa.String(64), nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acceptance_quarantine"),
    )
    op.create_table(
        "gate_runs",
        _id(),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(32), nullable=False),
        sa.Column("output_digest", sa.String(64), nullable=False),
        sa.Column("as_of", sa.String(40), nullable=False),
        sa.Column("decisions_digest", sa.String(64), nullable=False),
        sa.Column("inputs_json", sa.Text(), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gate_runs"),
    )
    op.create_index("ix_gate_runs_window", "gate_runs", ["tenant_id", "window_id"])
    op.create_table(
        "gate_decisions",
        _id(),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(32), nullable=False),
        sa.Column("principal_id", sa.String(128), nullable=False),
        sa.Column("payout_minor", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("output_digest", sa.String(64), nullable=False),
        sa.Column("as_of", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gate_decisions"),
    )
    op.create_index("ix_gate_decisions_run", "gate_decisions", ["run_id"])
    op.create_table(
        "transcript_index",
        _id(),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("window_id", sa.String(32), nullable=False),
        sa.Column("output_digest", sa.String(64), nullable=False),
        sa.Column("transcript_root", sa.String(64), nullable=False),
        sa.Column("url", sa.String(1024), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transcript_index"),
    )
    op.create_index("ix_transcript_index_window", "transcript_index", ["tenant_id", "window_id"])


def downgrade() -> None:
    op.drop_index("ix_transcript_index_window", table_name="transcript_index")
    op.drop_table("transcript_index")
    op.drop_index("ix_gate_decisions_run", table_name="gate_decisions")
    op.drop_table("gate_decisions")
    op.drop_index("ix_gate_runs_window", table_name="gate_runs")
    op.drop_table("gate_runs")
    op.drop_table("acceptance_quarantine")
    op.drop_index("ix_acceptance_proofs_window", table_name="acceptance_proofs")
    op.drop_table("acceptance_proofs")
