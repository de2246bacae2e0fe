"""Ledger: append-only double-entry journal, hash-chain head, head signatures, audit log.

Revision ID: 0003
Revises: 0002

The database enforces (SQLite and PostgreSQL alike): no UPDATE/DELETE on journal, lines, signatures and
audit log (triggers; PostgreSQL also no TRUNCATE); one-sided positive lines (CHECK); an entry is inserted
after its lines and only when they balance per currency (trigger); no lines added to an existing entry
(trigger); every line belongs to an entry at commit (deferred foreign key); unique (source, source_event_id).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("ledger_entries", "ledger_lines", "ledger_head_signatures", "audit_log")
GENESIS = "0" * 64


def _tables() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("window_id", sa.String(64), nullable=False),
        sa.Column("output_digest", sa.String(64), nullable=False),
        sa.Column("entry_type", sa.String(16), nullable=False),
        sa.Column("reverses", sa.String(64), nullable=True),
        sa.Column("effective_at", sa.String(40), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_event_id", sa.String(512), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_entries"),
        sa.UniqueConstraint("entry_id", name="uq_ledger_entries_entry_id"),
        sa.UniqueConstraint("hash", name="uq_ledger_entries_hash"),
        sa.UniqueConstraint("source", "source_event_id", name="uq_ledger_entries_source_event"),
        sa.CheckConstraint(
            "entry_type IN ('TRANSFER', 'FEE', 'ADJUSTMENT', 'REVERSAL')", name="ck_ledger_entries_entry_type"
        ),
    )
    op.create_index("ix_ledger_entries_window", "ledger_entries", ["window_id"])
    op.create_index("ix_ledger_entries_effective", "ledger_entries", ["effective_at"])
    op.create_table(
        "ledger_lines",
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(300), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("debit_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("credit_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_lines"),
        sa.UniqueConstraint("entry_id", "line_no", name="uq_ledger_lines_entry_line"),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.entry_id"],
            name="fk_ledger_lines_entry",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.CheckConstraint(
            "debit_minor >= 0 AND credit_minor >= 0 AND (debit_minor = 0 OR credit_minor = 0) "
            "AND debit_minor + credit_minor > 0",
            name="ck_ledger_lines_one_sided",
        ),
    )
    op.create_index("ix_ledger_lines_account", "ledger_lines", ["account", "currency"])
    head = op.create_table(
        "ledger_chain_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_chain_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_id": None, "hash": GENESIS}])
    op.create_table(
        "ledger_head_signatures",
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("signature_b64", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_head_signatures"),
        sa.UniqueConstraint("seq", "key_id", name="uq_ledger_head_signatures_seq_key"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", AUTO_ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("actor_type", sa.String(40), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("resource", sa.String(500), nullable=False),
        sa.Column("window_id", sa.String(64), nullable=True),
        sa.Column("correlation_id", sa.String(200), nullable=True),
        sa.Column("diff_summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_window", "audit_log", ["window_id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor_id"])


def _sqlite_triggers() -> None:
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'append-only: {verb} on {table} refused'); END"
            )
    op.execute(
        "CREATE TRIGGER ledger_entries_balanced BEFORE INSERT ON ledger_entries "
        "WHEN NOT EXISTS (SELECT 1 FROM ledger_lines WHERE entry_id = NEW.entry_id) "
        "OR EXISTS (SELECT 1 FROM ledger_lines WHERE entry_id = NEW.entry_id GROUP BY currency "
        "HAVING SUM(debit_minor) <> SUM(credit_minor)) "
        "BEGIN SELECT RAISE(ABORT, 'ledger entry has no lines or is not balanced per currency'); END"
    )
    op.execute(
        "CREATE TRIGGER ledger_lines_sealed BEFORE INSERT ON ledger_lines "
        "WHEN EXISTS (SELECT 1 FROM ledger_entries WHERE entry_id = NEW.entry_id) "
        "BEGIN SELECT RAISE(ABORT, 'ledger lines of a posted entry are sealed'); END"
    )


def _postgresql_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION vgos_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION vgos_ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM ledger_lines WHERE entry_id = NEW.entry_id) THEN
                RAISE EXCEPTION 'ledger entry % has no lines', NEW.entry_id
                    USING ERRCODE = 'check_violation';
            END IF;
            IF EXISTS (SELECT 1 FROM ledger_lines WHERE entry_id = NEW.entry_id GROUP BY currency
                       HAVING SUM(debit_minor) <> SUM(credit_minor)) THEN
                RAISE EXCEPTION 'ledger entry % is not balanced per currency', NEW.entry_id
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION vgos_ledger_lines_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM ledger_entries WHERE entry_id = NEW.entry_id) THEN
                RAISE EXCEPTION 'ledger lines of posted entry % are sealed', NEW.entry_id
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION vgos_ledger_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION vgos_ledger_refuse_change()"
        )
    op.execute(
        "CREATE TRIGGER ledger_entries_balanced BEFORE INSERT ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION vgos_ledger_entry_balanced()"
    )
    op.execute(
        "CREATE TRIGGER ledger_lines_sealed BEFORE INSERT ON ledger_lines "
        "FOR EACH ROW EXECUTE FUNCTION vgos_ledger_lines_sealed()"
    )


def upgrade() -> None:
    _tables()
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_triggers()
    elif dialect == "postgresql":
        _postgresql_triggers()
    else:
        raise RuntimeError(f"ledger migration: no append-only triggers for dialect {dialect!r}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_balanced ON ledger_entries")
        op.execute("DROP TRIGGER IF EXISTS ledger_lines_sealed ON ledger_lines")
    for table in (
        "audit_log",
        "ledger_head_signatures",
        "ledger_chain_head",
        "ledger_lines",
        "ledger_entries",
    ):
        op.drop_table(table)
    if dialect == "postgresql":
        for fn in ("vgos_ledger_refuse_change", "vgos_ledger_entry_balanced", "vgos_ledger_lines_sealed"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
