"""The fold of SPEC §3–5: exactly-once intake, fold order, accumulation, carry and the seal.

`fold_files` is the columnar fast path (polars); `fold_reference` is the plain, record-at-a-time reference that
tests hold equal to it. Neither reads the clock, and neither iterates anything in hash order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from vgos.canonical import jcs_bytes, json_string, sha256_hex
from vgos.events import (
    AFTER_CUTOFF,
    BEFORE_WINDOW,
    CANON_SCHEMA,
    CURRENCY_MISMATCH,
    DUPLICATE_EVENT,
    EVENT_ID_CONFLICT,
    FIELDS,
    Reject,
    normalize_frame,
    read_fast,
    read_reference,
    ts_to_us,
)
from vgos.policy import Policy, WindowBounds, window_bounds
from vgos.seal import Allocation, allocate, build_seal, output_digest, seal_bytes

Progress = Callable[[str], None]
HASH_CHUNK = 500_000
_INT64_MAX = 2**63 - 1


@dataclass
class FoldResult:
    """Everything a window's fold produced: the seal and its digest, the kept events, the rejects."""

    window: WindowBounds
    policy: Policy
    tenant_id: str
    kept: pl.DataFrame
    rejects: list[Reject]
    allocations: list[Allocation]
    seal: dict[str, Any]
    seal_bytes: bytes
    output_digest: str
    input_digest: str
    input_files: list[tuple[str, str]] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        """The seal's totals."""
        return self.seal["totals"]

    def rejects_by_reason(self) -> dict[str, int]:
        """Reject counts per reason code, in code order."""
        counts: dict[str, int] = {}
        for r in self.rejects:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return dict(sorted(counts.items()))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _input_files_unsorted(paths: Sequence[Path]) -> list[tuple[str, str]]:
    return [(p.name, file_sha256(p)) for p in paths]


def _input_files(paths: Sequence[Path]) -> list[tuple[str, str]]:
    return sorted(_input_files_unsorted(paths))


def _noop(_: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------- fast path


def _ts_string_expr() -> pl.Expr:
    us = pl.col("ts_us")
    frac = us % 1_000_000
    base = us.cast(pl.Datetime("us", "UTC")).dt.strftime("%Y-%m-%dT%H:%M:%S")
    return (
        pl.when(frac == 0)
        .then(base + pl.lit("Z"))
        .otherwise(base + pl.lit(".") + frac.cast(pl.String).str.pad_start(6, "0") + pl.lit("Z"))
    )


def _json_str_col(df: pl.DataFrame, name: str) -> pl.Expr:
    """RFC 8785 string form of a column; escaping is done per value only when some value needs it."""
    needs = df.select(pl.col(name).str.contains(r'["\\\x00-\x1f]').any()).item()
    if needs:
        return pl.col(name).map_elements(json_string, return_dtype=pl.String)
    return pl.lit('"') + pl.col(name) + pl.lit('"')


def _input_digest(kept: pl.DataFrame, progress: Progress) -> str:
    """SHA-256 of the RFC 8785 array of kept canonical events in fold order, hashed chunk by chunk.

    Each row's canonical bytes (plus a separator) are built column-wise; the Arrow data buffer of a chunk is then
    exactly the concatenation of its rows, so it is hashed in place without joining strings in Python.
    """
    row = pl.concat_str(
        [
            pl.lit('{"amount_minor":'), pl.col("amount_minor").cast(pl.String),
            pl.lit(',"currency":"'), pl.col("currency"),
            pl.lit('","event_id":'), _json_str_col(kept, "event_id"),
            pl.lit(',"principal_id":'), _json_str_col(kept, "principal_id"),
            pl.lit(',"source_type":"'), pl.col("source_type"),
            pl.lit('","ts_occurred":"'), pl.col("ts_occurred"), pl.lit('"},'),
        ]
    ).alias("row")
    h = hashlib.sha256(b"[")
    n = kept.height
    for start in range(0, n, HASH_CHUNK):
        arr = kept.slice(start, HASH_CHUNK).select(row)["row"].to_arrow()
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        _, offsets, data = arr.buffers()
        width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
        offs = np.frombuffer(offsets, dtype=width)
        first, last = int(offs[arr.offset]), int(offs[arr.offset + len(arr)])
        if start:
            h.update(b",")
        h.update(memoryview(data)[first:last - 1])  # drop this chunk's trailing separator
        if n > HASH_CHUNK:
            progress(f"hashing input {min(start + HASH_CHUNK, n):,}/{n:,}")
    h.update(b"]")
    return h.hexdigest()


def _intake(
    frames: list[pl.DataFrame], schema_rejects: list[tuple[int, int, Reject]], sources: list[str],
    window: WindowBounds, policy: Policy, progress: Progress,
) -> tuple[pl.DataFrame, list[Reject]]:
    """Steps 2–4 of SPEC §3 on canonical columns; returns kept rows in fold order and every reject."""
    df = pl.concat(
        [f.with_columns(pl.lit(i, dtype=pl.Int32).alias("_file")) for i, f in enumerate(frames)]
    ) if frames else pl.DataFrame(schema={**CANON_SCHEMA, "_file": pl.Int32})
    df = df.with_row_index("_ord")
    out: list[tuple[int, int, Reject]] = list(schema_rejects)

    def collect(rows: pl.DataFrame, reason: str) -> None:
        for eid, f, line in zip(rows["event_id"], rows["_file"], rows["_line"], strict=True):
            out.append((f, line, Reject(eid, reason, f"{sources[f]}:{line}")))

    progress("deduplicating event ids")
    dups = df.filter(pl.col("event_id").is_duplicated())
    if dups.height:
        nu = dups.group_by("event_id").agg(
            pl.struct("ts_us", "principal_id", "amount_minor", "source_type", "currency").n_unique().alias("nu")
        )
        conflict_ids = nu.filter(pl.col("nu") > 1)["event_id"]
        dups = dups.with_columns(
            pl.col("event_id").is_in(conflict_ids.implode()).alias("_conflict"),
            pl.col("_ord").rank("ordinal").over("event_id").alias("_rank"),
        )
        conflicts = dups.filter(pl.col("_conflict"))
        extra = dups.filter(~pl.col("_conflict") & (pl.col("_rank") > 1))
        collect(conflicts, EVENT_ID_CONFLICT)
        collect(extra, DUPLICATE_EVENT)
        drop = pl.concat([conflicts["_ord"], extra["_ord"]])
        df = df.filter(~pl.col("_ord").is_in(drop.implode()))

    open_us, cutoff_us = ts_to_us(window.open_cutoff_ts), ts_to_us(window.cutoff_ts)
    reason = (
        pl.when(pl.col("currency") != policy.currency).then(pl.lit(CURRENCY_MISMATCH))
        .when(pl.col("ts_us") <= open_us).then(pl.lit(BEFORE_WINDOW))
        .when(pl.col("ts_us") > cutoff_us).then(pl.lit(AFTER_CUTOFF))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    df = df.with_columns(reason.alias("_reason"))
    dropped = df.filter(pl.col("_reason").is_not_null())
    for eid, f, line, why in zip(dropped["event_id"], dropped["_file"], dropped["_line"], dropped["_reason"],
                                 strict=True):
        out.append((f, line, Reject(eid, why, f"{sources[f]}:{line}")))
    progress("sorting into fold order")
    kept = (
        df.filter(pl.col("_reason").is_null())
        .sort(["ts_us", "event_id"], maintain_order=False)
        .select("event_id", "ts_us", "principal_id", "amount_minor", "source_type", "currency")
    )
    out.sort(key=lambda t: (t[0], t[1]))
    return kept, [r for _, _, r in out]


def _accumulate(kept: pl.DataFrame) -> list[tuple[str, int, int]]:
    """Per-principal (principal_id, events, net_minor), summed exactly: Int128 when Int64 could wrap."""
    if kept.height == 0:
        return []
    max_abs = kept.select(pl.col("amount_minor").abs().max()).item()
    amount = pl.col("amount_minor")
    if max_abs * kept.height > _INT64_MAX:
        amount = amount.cast(pl.Int128)
    g = kept.group_by("principal_id").agg(pl.len().alias("events"), amount.sum().alias("net")).sort("principal_id")
    return [(p, int(e), int(n)) for p, e, n in zip(g["principal_id"], g["events"], g["net"], strict=True)]


@dataclass
class Intake:
    """The normalized log of a window: kept canonical events in fold order and every reject with its reason."""

    window: WindowBounds
    policy: Policy
    kept: pl.DataFrame
    rejects: list[Reject]
    input_files: list[tuple[str, str]] = field(default_factory=list)


def fold_intake(
    intake: Intake, tenant_id: str = "default", *, progress: Progress | None = None, policy_hash: str | None = None,
) -> FoldResult:
    """Fold and seal a normalized log (SPEC §4–5): input digest, accumulation, carry, seal."""
    progress = progress or _noop
    kept, policy = intake.kept, intake.policy
    progress(f"hashing {kept.height:,} kept events")
    in_digest = _input_digest(kept, progress)
    progress("accumulating per principal")
    allocations = allocate(_accumulate(kept), policy.bonus_ppm)
    seal = build_seal(intake.window, policy, tenant_id, allocations, kept.height, len(intake.rejects), in_digest,
                      policy_hash)
    raw = seal_bytes(seal)
    return FoldResult(intake.window, policy, tenant_id, kept, intake.rejects, allocations, seal, raw,
                      sha256_hex(raw), in_digest, intake.input_files)


def _make_intake(
    frames: list[pl.DataFrame], schema_rejects: list[tuple[int, int, Reject]], sources: list[str],
    window: WindowBounds, policy: Policy, progress: Progress, input_files: list[tuple[str, str]],
) -> Intake:
    kept, rejects = _intake(frames, schema_rejects, sources, window, policy, progress)
    kept = kept.with_columns(_ts_string_expr().alias("ts_occurred")).select(list(FIELDS))
    return Intake(window, policy, kept, rejects, input_files)


def intake_files(
    paths: Sequence[str | Path], window_id: str, policy: Policy, *, progress: Progress | None = None,
    sources: Sequence[str] | None = None,
) -> Intake:
    """Read and normalize a window's event files (JSONL, CSV, Parquet) with the columnar fast path (SPEC §1–3).

    `sources` names the files in rejects (e.g. their drop-zone keys) when `paths` are local copies.
    """
    progress = progress or _noop
    window = window_bounds(window_id, policy)
    files = [Path(p) for p in paths]
    frames: list[pl.DataFrame] = []
    schema_rejects: list[tuple[int, int, Reject]] = []
    for i, path in enumerate(files):
        progress(f"reading {path.name} ({i + 1}/{len(files)})")
        frame, rej = read_fast(path, policy.currency)
        frames.append(frame)
        schema_rejects.extend((i, line, r) for line, r in rej)
    names = list(sources) if sources is not None else [str(p) for p in files]
    if sources is not None:
        schema_rejects = [(i, line, replace(r, source=f"{names[i]}:{line}")) for i, line, r in schema_rejects]
    inputs = sorted((Path(n).name, sha) for n, (_, sha) in zip(names, _input_files_unsorted(files), strict=True))
    return _make_intake(frames, schema_rejects, names, window, policy, progress, inputs)


def fold_files(
    paths: Sequence[str | Path], window_id: str, policy: Policy, tenant_id: str = "default", *,
    progress: Progress | None = None, policy_hash: str | None = None,
) -> FoldResult:
    """Intake, fold and seal a window from event files: `fold_intake(intake_files(...))`."""
    intake = intake_files(paths, window_id, policy, progress=progress)
    return fold_intake(intake, tenant_id, progress=progress, policy_hash=policy_hash)


def fold_canonical(
    events: pl.DataFrame | list[dict[str, Any]], window_id: str, policy: Policy, tenant_id: str = "default",
    events_rejected: int = 0, *, source: str = "<normalized>", policy_hash: str | None = None,
) -> FoldResult:
    """Re-fold canonical events (replay from a transcript): the same intake rules, then the same seal."""
    df = events if isinstance(events, pl.DataFrame) else pl.DataFrame(
        {f: [e.get(f) for e in events] for f in FIELDS},
        schema={"event_id": pl.String, "ts_occurred": pl.String, "principal_id": pl.String,
                "amount_minor": pl.Int64, "source_type": pl.String, "currency": pl.String},
    )
    df = df.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))
    window = window_bounds(window_id, policy)
    frame, rej = normalize_frame(df, source=source, mode="parquet", default_currency=policy.currency)
    intake = _make_intake([frame], [(0, line, r) for line, r in rej], [source], window, policy, _noop, [])
    result = fold_intake(intake, tenant_id, policy_hash=policy_hash)
    if events_rejected:
        seal = dict(result.seal)
        seal["totals"] = {**seal["totals"], "events_rejected": seal["totals"]["events_rejected"] + events_rejected}
        result.seal, result.seal_bytes = seal, seal_bytes(seal)
        result.output_digest = output_digest(seal)
    return result


# ---------------------------------------------------------------------------------------------- reference


def fold_reference(
    paths: Sequence[str | Path], window_id: str, policy: Policy, tenant_id: str = "default", *,
    policy_hash: str | None = None,
) -> FoldResult:
    """The plain reference implementation of SPEC §3–5, one record at a time, for cross-checking."""
    window = window_bounds(window_id, policy)
    files = [Path(p) for p in paths]
    records: list[tuple[int, int, dict[str, Any]]] = []
    rejects: list[tuple[int, int, Reject]] = []
    for i, path in enumerate(files):
        kept, rej = read_reference(path, policy.currency)
        records.extend((i, ev["_line"], ev) for ev in kept)
        rejects.extend((i, line, r) for line, r in rej)

    def canon(ev: dict[str, Any]) -> tuple:
        return tuple(ev[f] for f in FIELDS)

    by_id: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
    for rec in records:
        by_id.setdefault(rec[2]["event_id"], []).append(rec)
    survivors = []
    for eid in sorted(by_id):
        copies = sorted(by_id[eid], key=lambda r: (r[0], r[1]))
        if len({canon(c[2]) for c in copies}) > 1:
            rejects.extend((f, line, Reject(eid, EVENT_ID_CONFLICT, f"{files[f]}:{line}")) for f, line, _ in copies)
            continue
        survivors.append(copies[0])
        rejects.extend((f, line, Reject(eid, DUPLICATE_EVENT, f"{files[f]}:{line}")) for f, line, _ in copies[1:])
    open_us, cutoff_us = ts_to_us(window.open_cutoff_ts), ts_to_us(window.cutoff_ts)
    kept_events = []
    for f, line, ev in survivors:
        why = None
        if ev["currency"] != policy.currency:
            why = CURRENCY_MISMATCH
        elif ev["_ts_us"] <= open_us:
            why = BEFORE_WINDOW
        elif ev["_ts_us"] > cutoff_us:
            why = AFTER_CUTOFF
        if why:
            rejects.append((f, line, Reject(ev["event_id"], why, f"{files[f]}:{line}")))
        else:
            kept_events.append(ev)
    kept_events.sort(key=lambda e: (e["_ts_us"], e["event_id"]))
    canonical = [{f: e[f] for f in FIELDS} for e in kept_events]
    in_digest = sha256_hex(jcs_bytes(canonical))
    per: dict[str, list[int]] = {}
    for e in canonical:
        acc = per.setdefault(e["principal_id"], [0, 0])
        acc[0] += 1
        acc[1] += e["amount_minor"]
    allocations = allocate([(p, per[p][0], per[p][1]) for p in sorted(per)], policy.bonus_ppm)
    rejects.sort(key=lambda t: (t[0], t[1]))
    reject_list = [r for _, _, r in rejects]
    seal = build_seal(window, policy, tenant_id, allocations, len(canonical), len(reject_list), in_digest,
                      policy_hash)
    kept_df = pl.DataFrame(canonical, schema={"event_id": pl.String, "ts_occurred": pl.String,
                                              "principal_id": pl.String, "amount_minor": pl.Int64,
                                              "source_type": pl.String, "currency": pl.String})
    return FoldResult(window, policy, tenant_id, kept_df, reject_list, allocations, seal, seal_bytes(seal),
                      output_digest(seal), in_digest, _input_files(files))


def result_from_seal(raw_seal: bytes, intake: Intake, tenant_id: str = "default") -> FoldResult:
    """Rebuild a FoldResult from stored seal bytes and its normalized log (the seal must match the log)."""
    import orjson

    seal = orjson.loads(raw_seal)
    if seal["window"]["window_id"] != intake.window.window_id or seal["window"]["tenant_id"] != tenant_id:
        raise ValueError("stored seal belongs to another window or tenant")
    allocations = [Allocation(**a) for a in seal["allocations"]]
    return FoldResult(intake.window, intake.policy, tenant_id, intake.kept, intake.rejects, allocations, seal,
                      raw_seal, sha256_hex(raw_seal), seal["trailer"]["input_digest"], intake.input_files)
