"""Persistence of batches, report files, receipts and recon results (tables of vgos.store.recon)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from connectors.psp import ids
from connectors.psp.receipts import ParseResult, Quarantine, Receipt
from recon.match import ReconResult
from vgos.store.db import serialize_on, session
from vgos.store.recon import (
    PayoutBatch,
    PayoutBatchItem,
    ReceiptRow,
    ReconDiscrepancy,
    ReconMatch,
    ReconRun,
    ReportFile,
)

_RECEIPT_FIELDS = tuple(f for f in Receipt.__dataclass_fields__)


def load_batches(window_id: str, output_digest: str | None = None, *, tenant_id: str = "default",
                 db_url: str | None = None) -> list[dict[str, Any]]:
    """The window's recorded batches (dicts with items), optionally only those bound to one digest."""
    with session(db_url) as s:
        q = select(PayoutBatch).where(PayoutBatch.tenant_id == tenant_id, PayoutBatch.window_id == window_id)
        if output_digest:
            q = q.where(PayoutBatch.output_digest == output_digest)
        out = []
        for b in s.scalars(q.order_by(PayoutBatch.provider_batch_id)).all():
            items = s.scalars(select(PayoutBatchItem).where(PayoutBatchItem.provider_batch_id == b.provider_batch_id)
                              .order_by(PayoutBatchItem.end_to_end_id)).all()
            out.append({c.name: getattr(b, c.name) for c in PayoutBatch.__table__.columns} | {"items": [
                {"end_to_end_id": i.end_to_end_id, "principal_id": i.principal_id, "amount_minor": i.amount_minor,
                 "currency": i.currency, "payee_ref": i.payee_ref, "payout_item_id": i.payout_item_id}
                for i in items]})
        return out


@dataclass(frozen=True)
class IngestOutcome:
    """What happened to a report file: PROCESSED, QUARANTINED, or ALREADY_SEEN (same sha256 before)."""

    name: str
    format: str
    raw_sha256: str
    status: str
    n_receipts: int
    quarantine: Quarantine | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["quarantine"] = self.quarantine.to_dict() if self.quarantine else None
        return d


def record_parse(result: ParseResult, *, ingested_at: str, tenant_id: str = "default",
                 db_url: str | None = None) -> IngestOutcome:
    """Apply a parse result once per file hash: all receipts in one transaction, or the quarantine record."""
    q = result.quarantined[0] if result.quarantined else None
    status = "QUARANTINED" if q else "PROCESSED"
    try:
        with session(db_url) as s, s.begin():
            seen = s.scalars(select(ReportFile).where(ReportFile.tenant_id == tenant_id,
                                                      ReportFile.raw_sha256 == result.raw_sha256)).first()
            if seen is not None:
                return IngestOutcome(result.path, seen.format, seen.raw_sha256, "ALREADY_SEEN", seen.n_receipts)
            s.add(ReportFile(tenant_id=tenant_id, raw_sha256=result.raw_sha256, name=result.path,
                             format=result.format, status=status, reason_code=q.reason_code if q else None,
                             reason=q.reason if q else None, line=q.line if q else None,
                             n_receipts=len(result.receipts), ingested_at=ingested_at))
            s.flush()
            if result.receipts:
                s.execute(insert(ReceiptRow), [
                    {**{f: getattr(r, f) for f in _RECEIPT_FIELDS}, "tenant_id": tenant_id,
                     "receipt_id": r.receipt_id} for r in result.receipts])
    except IntegrityError:  # a concurrent writer recorded the same file first
        return IngestOutcome(result.path, result.format, result.raw_sha256, "ALREADY_SEEN", len(result.receipts))
    return IngestOutcome(result.path, result.format, result.raw_sha256, status, len(result.receipts), q)


def quarantined_files(*, tenant_id: str = "default", db_url: str | None = None) -> list[dict[str, Any]]:
    """Quarantined report files with reason code, reason and line."""
    with session(db_url) as s:
        rows = s.scalars(select(ReportFile).where(ReportFile.tenant_id == tenant_id,
                                                  ReportFile.status == "QUARANTINED").order_by(ReportFile.id))
        return [{"name": r.name, "format": r.format, "raw_sha256": r.raw_sha256, "reason_code": r.reason_code,
                 "reason": r.reason, "line": r.line} for r in rows]


def _receipt(row: ReceiptRow) -> Receipt:
    return Receipt(**{f: getattr(row, f) for f in _RECEIPT_FIELDS})


def window_receipts(window_id: str, batches: list[dict[str, Any]], *, tenant_id: str = "default",
                    db_url: str | None = None) -> list[Receipt]:
    """Receipts that concern the window: its batch references, its EndToEndIds or its window reference."""
    refs = sorted({b["provider_batch_id"] for b in batches} | {b["payment_info_id"] for b in batches})
    e2es = sorted({i["end_to_end_id"] for b in batches for i in b["items"]})
    conds = [ReceiptRow.window_ref == window_id,
             ReceiptRow.end_to_end_id.like(ids.end_to_end_prefix(window_id) + "%")]
    if refs:
        conds.append(ReceiptRow.batch_ref.in_(refs))
    if e2es:
        conds.append(ReceiptRow.end_to_end_id.in_(e2es))
    with session(db_url) as s:
        rows = s.scalars(select(ReceiptRow).where(ReceiptRow.tenant_id == tenant_id, or_(*conds))
                         .order_by(ReceiptRow.id)).all()
        return [_receipt(r) for r in rows]


def save_result(result: ReconResult, *, as_of: str, db_url: str | None = None) -> tuple[int, bool]:
    """Persist a recon result; re-running with the same outcome changes nothing. Returns (run_id, changed).

    Concurrent runs for one (tenant, window, digest) are serialized, so the row is created once and revised in
    turn, never a unique-constraint error."""
    digest = result.result_digest
    with session(db_url) as s, s.begin():
        # one writer per run row: a concurrent `recon run` of the window waits, then sees this one's result
        serialize_on(s, f"recon_run\x00{result.tenant_id}\x00{result.window_id}\x00{result.output_digest}")
        run = s.scalars(select(ReconRun).where(
            ReconRun.tenant_id == result.tenant_id, ReconRun.window_id == result.window_id,
            ReconRun.output_digest == result.output_digest)).first()
        if run is not None and run.result_digest == digest:
            return run.id, False
        if run is None:
            run = ReconRun(tenant_id=result.tenant_id, window_id=result.window_id,
                           output_digest=result.output_digest, revision=1)
            s.add(run)
        else:
            s.execute(delete(ReconMatch).where(ReconMatch.run_id == run.id))
            s.execute(delete(ReconDiscrepancy).where(ReconDiscrepancy.run_id == run.id))
            run.revision += 1
        run.result_digest, run.as_of = digest, as_of
        run.n_expected, run.n_matched = result.n_expected, result.n_matched
        run.matched_ppm, run.fully_reconciled = result.matched_ppm, result.fully_reconciled
        s.flush()
        if result.matches:
            s.execute(insert(ReconMatch), [{**asdict(m), "run_id": run.id} for m in result.matches])
        if result.discrepancies:
            s.execute(insert(ReconDiscrepancy), [{**asdict(d), "run_id": run.id, "seq": n}
                                                 for n, d in enumerate(result.discrepancies)])
        return run.id, True


def load_result(window_id: str, output_digest: str, *, tenant_id: str = "default",
                db_url: str | None = None) -> dict[str, Any] | None:
    """The stored recon run of a window/digest with its matches and discrepancies, or None."""
    with session(db_url) as s:
        run = s.scalars(select(ReconRun).where(ReconRun.tenant_id == tenant_id, ReconRun.window_id == window_id,
                                               ReconRun.output_digest == output_digest)).first()
        if run is None:
            return None
        cols = [c.name for c in ReconRun.__table__.columns]
        out = {c: getattr(run, c) for c in cols}
        out["matches"] = [{c.name: getattr(m, c.name) for c in ReconMatch.__table__.columns if c.name != "id"}
                          for m in s.scalars(select(ReconMatch).where(ReconMatch.run_id == run.id)
                                             .order_by(ReconMatch.id))]
        out["discrepancies"] = [
            {c.name: getattr(d, c.name) for c in ReconDiscrepancy.__table__.columns if c.name != "id"}
            for d in s.scalars(select(ReconDiscrepancy).where(ReconDiscrepancy.run_id == run.id)
                               .order_by(ReconDiscrepancy.seq))]
        return out
