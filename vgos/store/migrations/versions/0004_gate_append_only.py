"""Gate decisions, proofs and the transcript index become append-only in the database, as the journal is.

Revision ID: 0004
Revises: 0003
"""

from vgos.store.migrations.append_only import protect, unprotect

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("gate_runs", "gate_decisions", "acceptance_proofs", "acceptance_quarantine", "transcript_index")


def upgrade() -> None:
    protect(APPEND_ONLY)


def downgrade() -> None:
    unprotect(APPEND_ONLY)
