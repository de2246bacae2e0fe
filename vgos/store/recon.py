"""Store tables of payout rails and reconciliation: batches, report files, receipt segments, recon runs (0002, 0009)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vgos.store.base import Base


class PayoutBatch(Base):
    """A rendered payout batch; provider_batch_id is bound to (tenant, window_id, output_digest, rail, attempt)."""

    __tablename__ = "payout_batches"
    provider_batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(64), index=True)
    output_digest: Mapped[str] = mapped_column(String(64))
    rail: Mapped[str] = mapped_column(String(16))
    payment_info_id: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    execution_date: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[str] = mapped_column(String(40))
    ctrl_sum_minor: Mapped[int] = mapped_column(BigInteger)
    n_items: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # 1, 2, … per (tenant, window, digest, rail)


class PayoutBatchItem(Base):
    """One payee line of a stored batch."""

    __tablename__ = "payout_batch_items"
    __table_args__ = (UniqueConstraint("provider_batch_id", "end_to_end_id", name="uq_payout_batch_items_e2e"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_batch_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("payout_batches.provider_batch_id", ondelete="CASCADE"), index=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), index=True)
    principal_id: Mapped[str] = mapped_column(String(128))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payee_ref: Mapped[str] = mapped_column(String(256))
    payout_item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the registry item paid


class ReportFile(Base):
    """A provider report seen once per content hash: PROCESSED with its receipts, or QUARANTINED whole."""

    __tablename__ = "recon_report_files"
    __table_args__ = (UniqueConstraint("tenant_id", "raw_sha256", name="uq_recon_report_files_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    raw_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n_receipts: Mapped[int] = mapped_column(Integer, default=0)
    ingested_at: Mapped[str] = mapped_column(String(40))
    flags: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of Flag dicts (status FLAGGED)
    resolved_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    resolved_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReceiptSegment(Base):
    """A report file's receipts as one Parquet segment (recon.frames), written once with the file (migration 0009).

    A window's millions of receipts are stored and read as columns; `recon_receipt_keys` says which files a window
    needs, so no query binds one variable per payee."""

    __tablename__ = "recon_receipt_segments"
    __table_args__ = (UniqueConstraint("tenant_id", "raw_sha256", name="uq_recon_receipt_segments_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    raw_sha256: Mapped[str] = mapped_column(String(64))
    n_rows: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ReceiptKey(Base):
    """What a file's receipts can concern: batch and window references, EndToEndId prefixes, days of money back."""

    __tablename__ = "recon_receipt_keys"
    __table_args__ = (Index("ix_recon_receipt_keys_lookup", "tenant_id", "key_type", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    raw_sha256: Mapped[str] = mapped_column(String(64))
    key_type: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(256))


class ReconRun(Base):
    """The latest reconciliation of a (tenant, window, output_digest); re-runs replace it idempotently."""

    __tablename__ = "recon_runs"
    __table_args__ = (UniqueConstraint("tenant_id", "window_id", "output_digest", name="uq_recon_runs_window"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(64), index=True)
    output_digest: Mapped[str] = mapped_column(String(64))
    result_digest: Mapped[str] = mapped_column(String(64))
    n_expected: Mapped[int] = mapped_column(Integer)
    n_matched: Mapped[int] = mapped_column(Integer)
    matched_ppm: Mapped[int] = mapped_column(Integer)
    fully_reconciled: Mapped[bool] = mapped_column(Boolean)
    as_of: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    n_pending: Mapped[int] = mapped_column(Integer, server_default="0")


class ReconMatchSegment(Base):
    """A recon run's matches (one per settled payout) as one Parquet segment, replaced when the run is revised."""

    __tablename__ = "recon_match_segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("recon_runs.id", ondelete="CASCADE"), unique=True)
    n_rows: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ReconDiscrepancy(Base):
    """A discrepancy of a recon run: type, severity, confidence and the amounts involved."""

    __tablename__ = "recon_discrepancies"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_recon_discrepancies_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("recon_runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    confidence_pct: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(String(256), nullable=True)
    principal_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    receipt_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expected_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actual_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_key: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReconCase(Base):
    """A discrepancy as work: OPEN until a person marks it RESOLVED or WRITTEN_OFF, with an owner and a note.

    Keyed by the discrepancy's stable case_key, so re-running recon keeps the person's decision."""

    __tablename__ = "recon_cases"
    __table_args__ = (UniqueConstraint("tenant_id", "window_id", "case_key", name="uq_recon_cases_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(64))
    case_key: Mapped[str] = mapped_column(String(512))
    type: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(256), nullable=True)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(256), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    opened_at: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[str] = mapped_column(String(40))
    updated_by: Mapped[str] = mapped_column(String(256))


TABLES = [m.__table__ for m in (PayoutBatch, PayoutBatchItem, ReportFile, ReceiptSegment, ReceiptKey, ReconRun,
                                ReconMatchSegment, ReconDiscrepancy, ReconCase)]
