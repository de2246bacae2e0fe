"""Store models of the acceptance concern: proofs, quarantine, gate runs and decisions, transcript index."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vgos.store.base import Base

# Times are stored as canonical RFC 3339 UTC strings ("YYYY-MM-DDTHH:MM:SSZ"): identical on SQLite and
# PostgreSQL, sortable, and exactly the bytes that were signed.


class ProofRecord(Base):
    """An accepted (signature-verified) ACK/CT/SPV proof; rows are never updated or deleted."""

    __tablename__ = "acceptance_proofs"
    __table_args__ = (
        UniqueConstraint("proof_sha256"),
        Index("ix_acceptance_proofs_window", "tenant_id", "window_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    output_digest: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(128))
    signature: Mapped[str] = mapped_column(Text)
    proof_json: Mapped[str] = mapped_column(Text)
    proof_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(512))
    received_at: Mapped[str] = mapped_column(String(40))
    key_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the key that verified it


class QuarantinedProof(Base):
    """A refused proof (malformed, unsigned, unknown issuer, bad signature…) kept with its reason, never applied."""

    __tablename__ = "acceptance_quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(512))
    reason_code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[str] = mapped_column(String(40))


class GateRun(Base):
    """One gate evaluation: its inputs, decisions digest and the signed response (append-only)."""

    __tablename__ = "gate_runs"
    __table_args__ = (Index("ix_gate_runs_window", "tenant_id", "window_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(32))
    output_digest: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[str] = mapped_column(String(40))
    decisions_digest: Mapped[str] = mapped_column(String(64))
    inputs_json: Mapped[str] = mapped_column(Text)
    response_json: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    algorithm: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(32))
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(16), default="evaluate")  # release | evaluate | what-if


class GateDecision(Base):
    """One principal's ALLOW/HOLD decision of a gate run, bound to the output_digest (append-only)."""

    __tablename__ = "gate_decisions"
    __table_args__ = (Index("ix_gate_decisions_run", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(32))
    principal_id: Mapped[str] = mapped_column(String(128))
    payout_minor: Mapped[int] = mapped_column(BigInteger)
    decision: Mapped[str] = mapped_column(String(8))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    output_digest: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[str] = mapped_column(String(40))


class TranscriptIndex(Base):
    """Where a window's signed transcript lives; the latest row per window is the current one."""

    __tablename__ = "transcript_index"
    __table_args__ = (Index("ix_transcript_index_window", "tenant_id", "window_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(32))
    output_digest: Mapped[str] = mapped_column(String(64))
    transcript_root: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(1024))
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(40))
