"""Accepted proofs record the fingerprint of the key that verified them (quorum counts keys, not names).

Revision ID: 0007
Revises: 0006

Recorded at intake, where the key (an Ed25519 public key, or an HMAC secret from the environment) was at hand;
a process that later evaluates the gate without the HMAC secrets still counts distinct keys.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("acceptance_proofs", sa.Column("key_fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acceptance_proofs") as b:
        b.drop_column("key_fingerprint")
