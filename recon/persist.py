"""Persistence of batches, report files, receipts and recon results (tables of vgos.store.recon)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from connectors.psp import ids
from connectors.psp.receipts import ParseResult, Quarantine, Receipt
from recon.match import Discrepancy, ReconResult
from vgos.store.db import serialize_on, session
from vgos.store.recon import (
    PayoutBatch,
    PayoutBatchItem,
    ReceiptKey,
    ReceiptSegment,
    ReconCase,
    ReconDiscrepancy,
    ReconMatchSegment,
    ReconRun,
    ReportFile,
)

if TYPE_CHECKING:
    import polars as pl

_DISCREPANCY_FIELDS = tuple(Discrepancy.__dataclass_fields__)
_DISCREPANCY_VALUES = attrgetter(*_DISCREPANCY_FIELDS)
_ITEM_COLUMNS = ("end_to_end_id", "principal_id", "amount_minor", "currency", "payee_ref", "payout_item_id")


def load_batches(window_id: str, output_digest: str | None = None, *, tenant_id: str = "default",
                 db_url: str | None = None) -> list[dict[str, Any]]:
    """The window's recorded batches (dicts with items), optionally only those bound to one digest."""
    batches, items = load_batch_frame(window_id, output_digest, tenant_id=tenant_id, db_url=db_url)
    rows: dict[str, list[dict[str, Any]]] = {b["provider_batch_id"]: [] for b in batches}
    for it in items.iter_rows(named=True):
        rows[it.pop("provider_batch_id")].append(it)
    return [b | {"items": rows[b["provider_batch_id"]]} for b in batches]


def load_batch_frame(window_id: str, output_digest: str | None = None, *, tenant_id: str = "default",
                     db_url: str | None = None) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """The window's batches (dicts without items) and all their items as columns, by batch then EndToEndId.

    One query for the items of every batch (a window's million lines are read as rows of a cursor, not objects)."""
    import polars as pl

    with session(db_url) as s:
        q = select(PayoutBatch).where(PayoutBatch.tenant_id == tenant_id, PayoutBatch.window_id == window_id)
        if output_digest:
            q = q.where(PayoutBatch.output_digest == output_digest)
        batches = sorted(({c.name: getattr(b, c.name) for c in PayoutBatch.__table__.columns} for b in s.scalars(q)),
                         key=lambda b: b["provider_batch_id"])
        cols = ("provider_batch_id", *_ITEM_COLUMNS)
        stmt = select(*(getattr(PayoutBatchItem, c) for c in cols)).join(
            PayoutBatch, PayoutBatch.provider_batch_id == PayoutBatchItem.provider_batch_id).where(q.whereclause)
        # the driver's cursor straight into columns (no Row object per line), sorted by code point below: the
        # same order on every database, whatever its collation
        rows = s.connection().exec_driver_sql(*_compiled(s, stmt)).cursor.fetchall()
    schema = {c: pl.Int64 if c == "amount_minor" else pl.String for c in cols}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return batches, frame.sort("provider_batch_id", "end_to_end_id", maintain_order=True)


def _compiled(s: Any, stmt: Any) -> tuple[str, Any]:
    """A Core statement as the driver's SQL text and parameters (positional or named, as the dialect wants)."""
    c = stmt.compile(dialect=s.get_bind().dialect)
    if c.positional:
        return c.string, tuple(c.params[k] for k in c.positiontup)
    return c.string, c.params


@dataclass(frozen=True)
class IngestOutcome:
    """What happened to a report file: PROCESSED, QUARANTINED, or ALREADY_SEEN (same sha256 before)."""

    name: str
    format: str
    raw_sha256: str
    status: str
    n_receipts: int
    quarantine: Quarantine | None = None
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["quarantine"] = self.quarantine.to_dict() if self.quarantine else None
        d["flags"] = list(self.flags)
        return d


def record_parse(result: ParseResult, *, ingested_at: str, tenant_id: str = "default",
                 db_url: str | None = None) -> IngestOutcome:
    """Apply a parse result once per file hash: all receipts in one transaction, or the quarantine record."""
    q = result.quarantined[0] if result.quarantined else None
    status = "QUARANTINED" if q else ("FLAGGED" if result.flags else "PROCESSED")
    flags = json.dumps([f.to_dict() for f in result.flags], sort_keys=True) if result.flags else None
    try:
        with session(db_url) as s, s.begin():
            seen = s.scalars(select(ReportFile).where(ReportFile.tenant_id == tenant_id,
                                                      ReportFile.raw_sha256 == result.raw_sha256)).first()
            if seen is not None and seen.status != "QUARANTINED":
                return IngestOutcome(result.path, seen.format, seen.raw_sha256, "ALREADY_SEEN", seen.n_receipts)
            if seen is not None:
                # a file quarantined before (wrong format named, a reader since fixed) is read again
                if q is not None and (seen.format, seen.reason_code) == (result.format, q.reason_code):
                    return IngestOutcome(result.path, seen.format, seen.raw_sha256, "QUARANTINED", 0, q)
                for k, v in dict(name=result.path, format=result.format, status=status,
                                 reason_code=q.reason_code if q else None, reason=q.reason if q else None,
                                 line=q.line if q else None, n_receipts=len(result.receipts),
                                 ingested_at=ingested_at, flags=flags).items():
                    setattr(seen, k, v)
            else:
                s.add(ReportFile(tenant_id=tenant_id, raw_sha256=result.raw_sha256, name=result.path,
                                 format=result.format, status=status, reason_code=q.reason_code if q else None,
                                 reason=q.reason if q else None, line=q.line if q else None,
                                 n_receipts=len(result.receipts), ingested_at=ingested_at, flags=flags))
            s.flush()
            if result.receipts:
                _store_segment(s, tenant_id, result.raw_sha256, result.receipts)
    except IntegrityError:  # a concurrent writer recorded the same file first
        return IngestOutcome(result.path, result.format, result.raw_sha256, "ALREADY_SEEN", len(result.receipts))
    return IngestOutcome(result.path, result.format, result.raw_sha256, status, len(result.receipts), q,
                         tuple(f.reason_code for f in result.flags))


def segment_keys(frame: pl.DataFrame) -> list[tuple[str, str]]:
    """What a file's receipts can concern, so a window reads only the files that may hold its receipts.

    batch / window: its batch and window references; e2e: the `VG<tag>-` prefixes of its EndToEndIds (`*` when
    some id has another form); back_day: booking dates of money coming back that names a payee account."""
    import polars as pl

    out: set[tuple[str, str]] = set()
    for kind, col in (("batch", "batch_ref"), ("window", "window_ref")):
        out |= {(kind, v) for v in frame[col].drop_nulls().unique().to_list()}
    e2e = frame["end_to_end_id"].drop_nulls()
    out |= {("e2e", v) for v in e2e.str.extract(_VG_PREFIX, 1).drop_nulls().unique().to_list()}
    if (~e2e.str.contains(_VG_PREFIX)).any():
        out.add(("e2e", "*"))
    from recon.frames import money_back

    back = frame.filter(money_back() & pl.col("booking_date").is_not_null())
    out |= {("back_day", v) for v in back["booking_date"].unique().to_list()}
    return sorted(out)


_VG_PREFIX = r"^(VG[A-Za-z0-9]*-)"


def _store_segment(s: Any, tenant_id: str, raw_sha256: str, receipts: list[Receipt]) -> None:
    """The file's receipts as one Parquet segment plus its lookup keys, in the caller's transaction."""
    from recon.frames import receipt_frame, to_parquet

    frame = receipt_frame(receipts)
    s.execute(insert(ReceiptSegment.__table__), [{"tenant_id": tenant_id, "raw_sha256": raw_sha256,
                                                  "n_rows": frame.height, "data": to_parquet(frame)}])
    keys = segment_keys(frame)
    if keys:
        s.execute(insert(ReceiptKey.__table__), [{"tenant_id": tenant_id, "raw_sha256": raw_sha256, "key_type": k,
                                                  "key": v} for k, v in keys])


def report_files(*, tenant_id: str = "default", status: str | None = None,
                 db_url: str | None = None) -> list[dict[str, Any]]:
    """Report files seen, with status (PROCESSED, FLAGGED, ACCEPTED, QUARANTINED), reasons and flags."""
    with session(db_url) as s:
        q = select(ReportFile).where(ReportFile.tenant_id == tenant_id)
        if status:
            q = q.where(ReportFile.status == status)
        return [{"name": r.name, "format": r.format, "raw_sha256": r.raw_sha256, "status": r.status,
                 "reason_code": r.reason_code, "reason": r.reason, "line": r.line, "n_receipts": r.n_receipts,
                 "flags": json.loads(r.flags) if r.flags else [], "resolved_by": r.resolved_by,
                 "resolved_at": r.resolved_at, "resolution": r.resolution}
                for r in s.scalars(q.order_by(ReportFile.id))]


def accept_file(sha_prefix: str, *, by: str, at: str, reason: str, tenant_id: str = "default",
                db_url: str | None = None) -> dict[str, Any]:
    """A person accepts a FLAGGED statement after checking it with the bank: its receipts may confirm again."""
    from vgos.errors import InputError

    if not reason.strip():
        raise InputError("--reason: say why the statement can be trusted (it is recorded)")
    if not re.fullmatch(r"[0-9a-fA-F]{8,64}", sha_prefix):
        raise InputError(f"{sha_prefix!r}: give at least 8 hex digits of the file's sha256 (see `vgos recon files`)")
    with session(db_url) as s, s.begin():
        rows = s.scalars(select(ReportFile).where(ReportFile.tenant_id == tenant_id,
                                                  ReportFile.raw_sha256.like(sha_prefix.lower() + "%"))).all()
        if len(rows) != 1:
            raise InputError(f"{sha_prefix}: {'no' if not rows else 'more than one'} report file with that sha256")
        row = rows[0]
        if row.status != "FLAGGED":
            raise InputError(f"{row.name}: status {row.status}; only a FLAGGED statement can be accepted")
        row.status, row.resolved_by, row.resolved_at, row.resolution = "ACCEPTED", by, at, reason.strip()
        return {"name": row.name, "raw_sha256": row.raw_sha256, "status": row.status, "resolved_by": by,
                "resolved_at": at, "resolution": row.resolution}


def quarantined_files(*, tenant_id: str = "default", db_url: str | None = None) -> list[dict[str, Any]]:
    """Quarantined report files with reason code, reason and line."""
    with session(db_url) as s:
        rows = s.scalars(select(ReportFile).where(ReportFile.tenant_id == tenant_id,
                                                  ReportFile.status == "QUARANTINED").order_by(ReportFile.id))
        return [{"name": r.name, "format": r.format, "raw_sha256": r.raw_sha256, "reason_code": r.reason_code,
                 "reason": r.reason, "line": r.line} for r in rows]


def window_receipts(window_id: str, batches: list[dict[str, Any]], *, tenant_id: str = "default",
                    db_url: str | None = None) -> list[Receipt]:
    """Receipts that concern the window (see window_receipt_frame), as Receipt objects."""
    from recon.frames import receipts_of

    refs = {b["provider_batch_id"] for b in batches} | {b["payment_info_id"] for b in batches}
    e2es = {i["end_to_end_id"] for b in batches for i in b["items"]}
    return receipts_of(window_receipt_frame(window_id, refs, e2es, tenant_id=tenant_id, db_url=db_url))


def window_receipt_frame(window_id: str, refs: set[str], e2es: Any, *, tenant_id: str = "default",
                         db_url: str | None = None) -> pl.DataFrame:
    """Receipts that concern the window, as columns: its batch references, its EndToEndIds or its window reference.

    `refs`: the batches' ids and payment-information ids; `e2es`: the batch lines' EndToEndIds (any iterable or a
    polars Series). Files are picked by their lookup keys (a few SQL variables, never one per payee), then rows by
    the same conditions on the columns; receipts of statements a person accepted are no longer flagged."""
    import polars as pl

    from recon.frames import RECEIPT_SCHEMA, from_parquet, money_back

    prefix = ids.end_to_end_prefix(window_id)
    e2e = pl.Series("e2e", list(e2es) if not isinstance(e2es, pl.Series) else e2es, dtype=pl.String)
    foreign = e2e.filter(~e2e.str.starts_with(prefix))
    # money coming back that may not carry our ids (an ACH return names the account): returns naming a payee
    # account, booked from the window's day up to 90 days later, narrowed to the window's payees by the matcher
    start = window_id[:10]
    end = (dt.date.fromisoformat(start) + dt.timedelta(days=90)).isoformat() + "~"  # '~' sorts after 'T…'
    e2e_keys = {prefix}
    if foreign.len():  # ids not minted by VGOS (rare): files whose ids have their form
        e2e_keys |= set(foreign.str.extract(_VG_PREFIX, 1).fill_null("*").unique().to_list())
    k = ReceiptKey
    picks = [(k.key_type == "window") & (k.key == window_id), (k.key_type == "e2e") & k.key.in_(sorted(e2e_keys)),
             (k.key_type == "back_day") & (k.key >= start) & (k.key <= end)]
    if refs:
        picks.append((k.key_type == "batch") & k.key.in_(sorted(refs)))
    with session(db_url) as s:
        accepted = sorted(s.scalars(select(ReportFile.raw_sha256).where(ReportFile.tenant_id == tenant_id,
                                                                        ReportFile.status == "ACCEPTED")))
        files = select(k.raw_sha256).where(k.tenant_id == tenant_id, or_(*picks)).distinct()
        segments = [from_parquet(d) for d in s.scalars(select(ReceiptSegment.data).where(
            ReceiptSegment.tenant_id == tenant_id, ReceiptSegment.raw_sha256.in_(files)).order_by(ReceiptSegment.id))]
    if not segments:
        return pl.DataFrame(schema=RECEIPT_SCHEMA)
    frame = pl.concat(segments, how="vertical")
    c = pl.col
    keep = (c("window_ref") == window_id) | c("end_to_end_id").str.starts_with(prefix) \
        | (money_back() & (c("booking_date") >= start) & (c("booking_date") <= end))
    if refs:
        keep = keep | c("batch_ref").is_in(sorted(refs))
    if foreign.len():
        keep = keep | c("end_to_end_id").is_in(foreign.implode())
    frame = frame.filter(keep.fill_null(False))
    if accepted:
        frame = frame.with_columns(flagged=pl.when(c("raw_sha256").is_in(accepted)).then(None)
                                   .otherwise(c("flagged")))
    return frame


def resolved_cases(window_id: str, *, tenant_id: str = "default", db_url: str | None = None) -> set[str]:
    """Case keys a person closed (RESOLVED or WRITTEN_OFF): they no longer block the window or its batches."""
    with session(db_url) as s:
        return set(s.scalars(select(ReconCase.case_key).where(
            ReconCase.tenant_id == tenant_id, ReconCase.window_id == window_id,
            ReconCase.status.in_(("RESOLVED", "WRITTEN_OFF")))))


CASE_STATUSES = ("OPEN", "RESOLVED", "WRITTEN_OFF")


def set_case(window_id: str, case: str, *, status: str, owner: str | None, note: str | None, by: str, at: str,
             tenant_id: str = "default", db_url: str | None = None) -> dict[str, Any]:
    """Change a case's status/owner (by id or case key); every change is audited."""
    from vgos.errors import InputError

    if status not in CASE_STATUSES:
        raise InputError(f"--status: {status!r} (expected one of {', '.join(CASE_STATUSES)})")
    if status != "OPEN" and not (note or "").strip():
        raise InputError("--note: say why the case is closed (it is recorded)")
    with session(db_url) as s, s.begin():
        q = select(ReconCase).where(ReconCase.tenant_id == tenant_id, ReconCase.window_id == window_id)
        q = q.where(ReconCase.id == int(case)) if case.isdigit() else q.where(ReconCase.case_key == case)
        row = s.scalars(q).first()
        if row is None:
            raise InputError(f"window {window_id}: no case {case!r} (see `vgos recon cases {window_id}`)")
        row.status, row.updated_at, row.updated_by = status, at, by
        if owner is not None:
            row.owner = owner
        if note is not None:
            row.note = note
        out = _case_dict(row)
    from vgos.audit import note as audit_note

    audit_note("recon.case", f"window/{tenant_id}/{window_id}", out, window_id=window_id, url=db_url)
    return out


def _case_dict(r: ReconCase) -> dict[str, Any]:
    return {c.name: getattr(r, c.name) for c in ReconCase.__table__.columns}


def list_cases(window_id: str, *, tenant_id: str = "default", db_url: str | None = None) -> list[dict[str, Any]]:
    """The window's cases, newest status first by id."""
    with session(db_url) as s:
        return [_case_dict(r) for r in s.scalars(select(ReconCase).where(
            ReconCase.tenant_id == tenant_id, ReconCase.window_id == window_id).order_by(ReconCase.id))]


def save_result(result: ReconResult, *, as_of: str, db_url: str | None = None,
                result_digest: str | None = None) -> tuple[int, bool]:
    """Persist a recon result; re-running with the same outcome changes nothing. Returns (run_id, changed).

    Concurrent runs for one (tenant, window, digest) are serialized, so the row is created once and revised in
    turn, never a unique-constraint error."""
    from recon.frames import as_match_frame, to_parquet

    digest = result_digest or result.result_digest  # a caller that already hashed a million matches passes it
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
            s.execute(delete(ReconMatchSegment).where(ReconMatchSegment.run_id == run.id))
            s.execute(delete(ReconDiscrepancy).where(ReconDiscrepancy.run_id == run.id))
            run.revision += 1
        run.result_digest, run.as_of = digest, as_of
        run.n_expected, run.n_matched = result.n_expected, result.n_matched
        run.matched_ppm, run.fully_reconciled = result.matched_ppm, result.fully_reconciled
        run.n_pending = len(result.pending)
        s.flush()
        frame = as_match_frame(result.matches)
        s.execute(insert(ReconMatchSegment.__table__), [{"run_id": run.id, "n_rows": frame.height,
                                                         "data": to_parquet(frame)}])
        if result.discrepancies:
            s.execute(insert(ReconDiscrepancy.__table__), [
                dict(zip(_DISCREPANCY_FIELDS, _DISCREPANCY_VALUES(d), strict=True), run_id=run.id, seq=n,
                     case_key=d.case_key) for n, d in enumerate(result.discrepancies)])
            known = set(s.scalars(select(ReconCase.case_key).where(
                ReconCase.tenant_id == result.tenant_id, ReconCase.window_id == result.window_id)))
            new = {d.case_key: d for d in result.discrepancies if d.blocking and d.case_key not in known}
            if new:
                s.execute(insert(ReconCase), [
                    {"tenant_id": result.tenant_id, "window_id": result.window_id, "case_key": k, "type": d.type,
                     "severity": d.severity, "batch_id": d.batch_id, "subject": d.subject,
                     "amount_minor": d.actual_minor if d.actual_minor is not None else d.expected_minor,
                     "status": "OPEN", "owner": None, "note": None, "opened_at": as_of, "updated_at": as_of,
                     "updated_by": "recon"} for k, d in sorted(new.items())])
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
        from recon.frames import from_parquet

        data = s.scalars(select(ReconMatchSegment.data).where(ReconMatchSegment.run_id == run.id)).first()
        out["matches"] = [m | {"run_id": run.id} for m in from_parquet(data).to_dicts()] if data else []
        out["discrepancies"] = [
            {c.name: getattr(d, c.name) for c in ReconDiscrepancy.__table__.columns if c.name != "id"}
            for d in s.scalars(select(ReconDiscrepancy).where(ReconDiscrepancy.run_id == run.id)
                               .order_by(ReconDiscrepancy.seq))]
        return out
