"""Tables of the append-only journal, its hash-chain head and signatures, and the audit log (revision 0003).

What the database enforces (both SQLite and PostgreSQL, created by migration 0003):
- UPDATE and DELETE on `ledger_entries`, `ledger_lines`, `ledger_head_signatures` and `audit_log` are
  refused by triggers (PostgreSQL also refuses TRUNCATE);
- each line is one-sided and positive (CHECK), amounts are 64-bit integers of minor units;
- an entry row can only be inserted after its lines, and only when they balance per currency (trigger on
  `ledger_entries`); lines cannot be added to an entry that already exists (trigger on `ledger_lines`);
- every line belongs to an entry by the end of the transaction (deferred foreign key);
- (source, source_event_id) is unique, which makes posting idempotent.
`ledger_chain_head` is the single mutable row: the lock serialising appends, pointing at the last entry.
What the database cannot enforce against its owner or a superuser (triggers can be dropped) is covered outside it:
each signed head is also anchored write-once in the artifact store (vgos/ledger.py, `ledger/anchors/`), and on
PostgreSQL the application connects as a role that owns nothing (vgos/store/roles.py, docs/postgres-roles.md).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from vgos.store.base import Base

AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only auto-increments INTEGER PRIMARY KEY


class LedgerEntry(Base):
    """One journal entry: the header that the hash chain covers together with its lines."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("source", "source_event_id", name="uq_ledger_entries_source_event"),
        CheckConstraint("entry_type IN ('TRANSFER', 'FEE', 'ADJUSTMENT', 'REVERSAL')", name="entry_type"),
        Index("ix_ledger_entries_window", "window_id"),
        Index("ix_ledger_entries_effective", "effective_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    window_id: Mapped[str] = mapped_column(String(64), nullable=False)
    output_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_type: Mapped[str] = mapped_column(String(16), nullable=False)
    reverses: Mapped[str | None] = mapped_column(String(64), nullable=True)
    effective_at: Mapped[str] = mapped_column(String(40), nullable=False)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    source_event_id: Mapped[str] = mapped_column(String(512), nullable=False)
    memo: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)


class LedgerLine(Base):
    """One side of an entry: a debit or a credit of one account in one currency, in minor units."""

    __tablename__ = "ledger_lines"
    __table_args__ = (
        UniqueConstraint("entry_id", "line_no", name="uq_ledger_lines_entry_line"),
        CheckConstraint(
            "debit_minor >= 0 AND credit_minor >= 0 AND (debit_minor = 0 OR credit_minor = 0) "
            "AND debit_minor + credit_minor > 0",
            name="one_sided",
        ),
        Index("ix_ledger_lines_account", "account", "currency"),
    )

    id: Mapped[int] = mapped_column(AUTO_ID, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(
        String(64),
        ForeignKey(
            "ledger_entries.entry_id",
            name="fk_ledger_lines_entry",
            deferrable=True,
            initially="DEFERRED",
        ),
        nullable=False,
    )
    line_no: Mapped[int] = mapped_column(Integer, nullable=False)
    account: Mapped[str] = mapped_column(String(300), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    debit_minor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    credit_minor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class LedgerChainHead(Base):
    """The single row (id 1) naming the last entry; locked by every append so the chain stays linear."""

    __tablename__ = "ledger_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    entry_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class LedgerHeadSignature(Base):
    """A signature over the chain head after a posting batch (same signer as transcripts)."""

    __tablename__ = "ledger_head_signatures"
    __table_args__ = (UniqueConstraint("seq", "key_id", name="uq_ledger_head_signatures_seq_key"),)

    id: Mapped[int] = mapped_column(AUTO_ID, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    entry_id: Mapped[str] = mapped_column(String(64), nullable=False)
    head_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    algorithm: Mapped[str] = mapped_column(String(32), nullable=False)
    key_id: Mapped[str] = mapped_column(String(64), nullable=False)
    public_key_pem: Mapped[str] = mapped_column(Text, nullable=False)
    signature_b64: Mapped[str] = mapped_column(Text, nullable=False)


class AuditRecord(Base):
    """Who changed what, when, under which correlation id; append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_window", "window_id"),
        Index("ix_audit_log_actor", "actor_id"),
    )

    id: Mapped[int] = mapped_column(AUTO_ID, primary_key=True, autoincrement=True)
    at: Mapped[str] = mapped_column(String(40), nullable=False)
    actor_id: Mapped[str] = mapped_column(String(200), nullable=False)
    actor_type: Mapped[str] = mapped_column(String(40), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    resource: Mapped[str] = mapped_column(String(500), nullable=False)
    window_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    diff_summary: Mapped[str] = mapped_column(Text, nullable=False)


APPEND_ONLY_TABLES = ("ledger_entries", "ledger_lines", "ledger_head_signatures", "audit_log")
GENESIS_HASH = "0" * 64
