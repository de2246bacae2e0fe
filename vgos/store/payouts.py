"""Store tables of the payout registry: items per (tenant, window, principal, seal) and their transitions (0005).

An item never changes after it is written; its state is the `to_state` of its newest transition. Transitions are
append-only (database triggers) and numbered per item, so two writers that race to move the same item collide on
the unique (item_id, seq) instead of both succeeding. Every mutation of a window's items first takes the window's
row in `payout_window_locks`, which serializes batch creation, re-seal deltas and reconciliation per window.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vgos.store.base import Base


class PayoutItem(Base):
    """What one principal is owed (PAYOUT) or owes back (RECOVERY) under one seal of a window."""

    __tablename__ = "payout_items"
    __table_args__ = (
        UniqueConstraint("tenant_id", "window_id", "principal_id", "seal_ref", "generation",
                         name="uq_payout_items_binding"),
        Index("ix_payout_items_window", "tenant_id", "window_id"),
    )

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(32))
    principal_id: Mapped[str] = mapped_column(String(128))
    output_digest: Mapped[str] = mapped_column(String(64))
    seal_ref: Mapped[int] = mapped_column(Integer)  # transcript_index.id of the seal the item was computed for
    generation: Mapped[int] = mapped_column(Integer)  # 1, 2, … when a return re-opens what the seal owes
    kind: Mapped[str] = mapped_column(String(16))  # PAYOUT | RECOVERY
    currency: Mapped[str] = mapped_column(String(3))
    sealed_payout_minor: Mapped[int] = mapped_column(BigInteger)  # the principal's payout in that seal
    prior_net_minor: Mapped[int] = mapped_column(BigInteger)  # money out and not returned before this item
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # > 0: to pay (PAYOUT) or to recover (RECOVERY)
    created_at: Mapped[str] = mapped_column(String(40))


class PayoutTransition(Base):
    """One state change of an item: who, when, why, and the evidence it rests on (append-only)."""

    __tablename__ = "payout_transitions"
    __table_args__ = (
        UniqueConstraint("item_id", "seq", name="uq_payout_transitions_seq"),
        Index("ix_payout_transitions_window", "tenant_id", "window_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)  # batch id, receipt id, gate run, seal …
    provider_batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    ledger_entry_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor_id: Mapped[str] = mapped_column(String(256))
    actor_type: Mapped[str] = mapped_column(String(32))
    at: Mapped[str] = mapped_column(String(40))  # the real clock, read at the command/asset boundary


class PayoutWindowLock(Base):
    """One row per (tenant, window), updated first by every registry mutation of that window."""

    __tablename__ = "payout_window_locks"
    __table_args__ = (UniqueConstraint("tenant_id", "window_id", name="uq_payout_window_locks_window"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(BigInteger, default=0)


TABLES = [m.__table__ for m in (PayoutItem, PayoutTransition, PayoutWindowLock)]
