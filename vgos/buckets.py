"""The fold of SPEC §3–5 in time-range buckets, in memory bounded by a bucket rather than by the window.

`fold_files_bucketed` gives the same bytes as `vgos.fold.fold_files` (tests hold them equal), in three steps:

1. **Split.** Each input file is read in slices (`SLICE_EVENTS` rows of a Parquet file at a time; a JSONL/JSON/CSV
   file is read whole, then sliced), normalized (SPEC §1, SCHEMA_INVALID rejects), cleared of the prior-window
   matches (SPEC §3 step 2: every copy of a matched id, whatever its bucket) and spilled, sorted by timestamp, to a
   temporary Parquet "run" under the spool. Only the timestamp and a 64-bit hash of the event id of each spilled
   record stay in memory.
2. **Cut and cross facts.** Bucket edges are timestamps: bucket k holds the records with `edge_k <= ts < edge_k+1`
   (the last bucket is open above; records outside the window are in buckets too, since they take part in the
   dedupe), so one timestamp is never split and, the fold order being (ts, event_id), the buckets' kept events
   concatenated in bucket order are the fold order. A hash seen in two buckets marks every record carrying it as a
   cross-bucket candidate; the candidates (few: duplicates, plus hash collisions) are read back and deduplicated
   exactly as SPEC §3 step 3 says (by the exact event id, the first copy in (file, line) order kept), giving the
   cross facts: which candidate records are rejected, and why.
3. **Buckets and merge.** `fold_bucket` is a pure function of (window, policy, the bucket's records, the cross
   facts): the bucket's kept events in fold order, its rejects and its per-principal partial sums. Its kept events
   feed one running chunk writer in global order (chunk boundaries, leaves and `input_digest` do not depend on the
   bucket size); the rejects are merged in (file, line) order; the partial sums are merged (`merge_sums`) and the
   seal is SPEC §4–5 on them, as `fold_intake` computes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from vgos.canonical import sha256_hex
from vgos.canonical_rows import SpooledSegment, _row_bytes, _SegmentSpool, rows_pieces
from vgos.errors import InputError
from vgos.events import (
    FIELDS,
    Reject,
    _require_unique,
    detect_format,
    normalize_frame,
    read_fast,
)
from vgos.fold import (
    _ALLOC_COLS,
    _INT64_MAX,
    CANONICAL_EVENT_SCHEMA,
    REJECT_COLS,
    FoldResult,
    Prior,
    _allocations_from_sums,
    _check_matches,
    _duplicate_rejects,
    _fold_order,
    _input_files_unsorted,
    _no_gc,
    _prior_hits,
    _window_rule,
)
from vgos.policy import Policy, WindowBounds, window_bounds
from vgos.progress import Progress, silent
from vgos.rejects import RejectLog
from vgos.seal import _columns_seal_bytes, _seal_from_columns, allocate, build_seal, seal_bytes

BUCKET_ENV = "VGOS_FOLD_BUCKET_EVENTS"
# By default a window of more than DEFAULT_THRESHOLD records folds in buckets of about DEFAULT_BUCKET_EVENTS; a
# smaller window folds in one bucket (the faster path while it fits in memory). The setting (the parameter, else
# the environment variable) N folds windows of more than N records in buckets of about N (0: never in buckets).
DEFAULT_THRESHOLD: int | None = 8_000_000
DEFAULT_BUCKET_EVENTS = 2_000_000
SLICE_EVENTS = 1_000_000
_RUN_ROW_GROUP = 65_536
_RUN_COMPRESSION = "uncompressed"  # temporary runs: fastest to write and read back (~60 bytes a record)
def bucket_events_setting(value: int | None = None) -> tuple[int, int] | None:
    """(threshold, bucket size) in force: windows of more than `threshold` records fold in buckets of about
    `bucket size`; None when bucketing is off. `value` when given, else `VGOS_FOLD_BUCKET_EVENTS` (a whole number;
    0 turns bucketing off), else the defaults."""
    if value is None:
        raw = os.environ.get(BUCKET_ENV, "").strip()
        if not raw:
            if DEFAULT_THRESHOLD is None:
                return None
            return DEFAULT_THRESHOLD, DEFAULT_BUCKET_EVENTS
        try:
            value = int(raw)
        except ValueError:
            raise InputError(f"{BUCKET_ENV}={raw!r}: expected a whole number of events (0 turns bucketing off)"
                             ) from None
    return (value, value) if value > 0 else None


def estimated_records(paths: Sequence[Path]) -> int:
    """An upper estimate of the records of the input files: Parquet row counts, else line counts (cheap; it only
    chooses between two paths that give the same bytes)."""
    import pyarrow.parquet as pq

    total = 0
    for p in paths:
        try:
            if detect_format(p) == "parquet":
                total += pq.ParquetFile(p).metadata.num_rows
                continue
            with open(p, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    total += block.count(b"\n")
                total += 1
        except Exception:  # noqa: BLE001 - an unreadable file is reported by the reader of either path
            continue
    return total


# ---------------------------------------------------------------------------------------------- step 1: split


def _parquet_slices(path: Path, default_currency: str) -> Any:
    """(frame, rejects) of a Parquet file, SLICE_EVENTS rows at a time: what `read_fast` gives for the whole file,
    cut at the same rows (`_line` is the row number from 1)."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        _require_unique(path, names)
        schema = pl.read_parquet_schema(path)
        rows = pq.ParquetFile(path).metadata.num_rows
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot read Parquet: {_first(exc)}") from None
    cols = [c for c in FIELDS if c in schema]
    exprs = [pl.col(c).cast(pl.String) if isinstance(schema[c], (pl.Categorical, pl.Enum)) else pl.col(c)
             for c in cols]
    if rows == 0:
        yield read_fast(path, default_currency)
        return
    for off in range(0, rows, SLICE_EVENTS):
        try:
            df = pl.scan_parquet(path).slice(off, SLICE_EVENTS).select(
                (pl.int_range(1, pl.len() + 1, dtype=pl.Int64) + off).alias("_line"), *exprs
            ).collect()
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{path}: cannot read Parquet: {_first(exc)}") from None
        yield normalize_frame(df.select(*cols, "_line"), source=str(path), mode="parquet",
                              default_currency=default_currency)


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _slices(path: Path, default_currency: str) -> Any:
    """(frame, rejects) slices of one events file, together what `read_fast` gives for it."""
    if not path.is_dir() and path.exists() and detect_format(path) == "parquet":
        yield from _parquet_slices(path, default_currency)
        return
    frame, rej = read_fast(path, default_currency)
    if frame.height <= SLICE_EVENTS:
        yield frame, rej
        return
    yield frame.slice(0, SLICE_EVENTS), rej
    for off in range(SLICE_EVENTS, frame.height, SLICE_EVENTS):
        yield frame.slice(off, SLICE_EVENTS), []


_END = object()


def _ahead(items: Iterator[Any]) -> Iterator[Any]:
    """The items of an iterator, the next one computed on a worker thread while the caller handles this one (polars
    releases the GIL); the same items in the same order, at most two alive at a time."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(next, items, _END)
        while True:
            item = fut.result()
            if item is _END:
                return
            fut = pool.submit(next, items, _END)
            yield item
            del item


@dataclass
class _Split:
    runs: list[Path]
    ts: np.ndarray  # ts_us of every spilled record
    hashes: np.ndarray  # 64-bit hash of its event_id
    schema_rejects: list[tuple[int, int, Reject]]
    matched: dict[str, str]


def _split(files: list[Path], sources: list[str], policy: Policy, prior: Prior, work: Path,
           progress: Progress) -> _Split:
    runs: list[Path] = []
    ts_parts: list[np.ndarray] = []
    h_parts: list[np.ndarray] = []
    schema_rejects: list[tuple[int, int, Reject]] = []
    matched: dict[str, str] = {}
    def prepared(i: int, path: Path) -> Iterator[tuple[pl.DataFrame, list[tuple[int, Reject]]]]:
        # On the reading thread: normalized slices with their file number and id hashes, sorted by timestamp.
        for frame, rej in _slices(path, policy.currency):
            yield frame.with_columns(pl.lit(i, dtype=pl.Int32).alias("_file"),
                                     pl.col("event_id").hash().alias("_h")).sort("ts_us"), rej

    for i, path in enumerate(files):
        progress(f"reading {path.name} ({i + 1}/{len(files)})")
        for df, rej in _ahead(prepared(i, path)):
            schema_rejects.extend((i, line, r) for line, r in rej)
            if df.height == 0:
                continue
            df, prior_rej, hits = _prior_hits(df, prior, sources)  # a filter: the rows stay sorted
            schema_rejects.extend(prior_rej)
            matched.update(hits)
            if df.height == 0:
                continue
            run = work / f"run-{len(runs):05d}.parquet"
            df.write_parquet(run, compression=_RUN_COMPRESSION, statistics=True, row_group_size=_RUN_ROW_GROUP)
            runs.append(run)
            ts_parts.append(df["ts_us"].to_numpy().copy())
            h_parts.append(df["_h"].to_numpy().copy())
            del df
    ts = np.concatenate(ts_parts) if ts_parts else np.zeros(0, dtype=np.int64)
    hashes = np.concatenate(h_parts) if h_parts else np.zeros(0, dtype=np.uint64)
    return _Split(runs, ts, hashes, schema_rejects, matched)


# ---------------------------------------------------------------------------------------------- step 2: cut


def bucket_edges(ts: np.ndarray, bucket_events: int) -> np.ndarray:
    """Ascending distinct timestamps, the first the smallest: bucket k holds edge_k <= ts < edge_k+1 (the last is
    open above). An edge is the timestamp at every bucket_events-th position of the sorted timestamps, so a bucket
    holds about bucket_events records (more only when one timestamp alone has more)."""
    if ts.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.sort(ts)[::max(bucket_events, 1)])


@dataclass(frozen=True)
class CrossFacts:
    """What crosses buckets: the hashes seen in more than one bucket (every record carrying one is decided here,
    not in its bucket) and the rejects among those records (event_id, _file, _line, _reason)."""

    hashes: pl.Series
    rejects: pl.DataFrame


def cross_facts(split: _Split, edges: np.ndarray) -> CrossFacts:
    """The cross-bucket facts of a split window (see CrossFacts)."""
    empty = pl.DataFrame(schema={"event_id": pl.String, "_file": pl.Int32, "_line": pl.Int64, "_reason": pl.UInt8})
    if len(edges) <= 1:
        return CrossFacts(pl.Series("_h", [], dtype=pl.UInt64), empty)
    hs = pl.Series("_h", split.hashes)
    ordered = hs.sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    del ordered
    if len(repeated) == 0:
        return CrossFacts(pl.Series("_h", [], dtype=pl.UInt64), empty)
    mask = hs.is_in(repeated.implode())
    bucket = pl.Series("_b", np.searchsorted(edges, split.ts, side="right") - 1)
    cand = pl.DataFrame({"_h": hs.filter(mask), "_b": bucket.filter(mask)})
    cross = cand.group_by("_h").agg(pl.col("_b").n_unique().alias("nb")).filter(pl.col("nb") > 1)["_h"].sort()
    if len(cross) == 0:
        return CrossFacts(cross, empty)
    rows = (pl.scan_parquet(split.runs).filter(pl.col("_h").is_in(cross.implode())).collect()
            .sort(["_file", "_line"]).with_row_index("_ord"))
    rows = rows.filter(pl.col("event_id").is_duplicated())
    if rows.height == 0:
        return CrossFacts(cross, empty)
    return CrossFacts(cross, _duplicate_rejects(rows).drop("_ord"))


# ---------------------------------------------------------------------------------------------- step 3: buckets


@dataclass
class BucketResult:
    """One bucket's part of the fold: kept canonical events in fold order, rejects, per-principal partial sums
    (principal_id, events Int64, net_minor Int128) and the largest abs(amount) kept."""

    kept: pl.DataFrame
    rejects: pl.DataFrame
    sums: pl.DataFrame
    max_abs: int


def fold_bucket(records: pl.DataFrame, window: WindowBounds, policy: Policy, facts: CrossFacts) -> BucketResult:
    """SPEC §3 steps 3–5 and the accumulation of §4 on one bucket's records (canonical columns with `_file`,
    `_line`, `_h`; prior-window matches already removed), any order: a pure function of its arguments."""
    df = records.sort(["_file", "_line"]).with_row_index("_ord")
    reject_frames: list[pl.DataFrame] = []
    mask = np.ones(df.height, dtype=bool)
    cross = df["_h"].is_in(facts.hashes.implode()) if len(facts.hashes) else None
    if cross is not None and cross.any():
        dropped = df.join(facts.rejects.select("_file", "_line"), on=["_file", "_line"], how="semi")
        mask[dropped["_ord"].to_numpy()] = False
        local = df.filter(~cross)
    else:
        local = df
    ordered = local["_h"].sort()
    repeated = ordered.filter(ordered == ordered.shift(1))
    del ordered
    if len(repeated):
        dups = local.filter(pl.col("_h").is_in(repeated.implode()))
        dups = dups.filter(pl.col("event_id").is_duplicated())
        if dups.height:
            rej = _duplicate_rejects(dups)
            reject_frames.append(rej.select(REJECT_COLS))
            mask[rej["_ord"].to_numpy()] = False
    del local
    keep = pl.Series("_keep", mask)
    in_window, reason = _window_rule(window, policy)
    ok = df.select(in_window.alias("ok"))["ok"]
    reject_frames.append(df.select("event_id", "_file", "_line", reason.alias("_reason")).filter(keep & ~ok))
    constant_ccy = df["currency"].null_count() == 0
    kept = df.select("event_id", "ts_us", "principal_id", "amount_minor", "source_type",
                     *([] if constant_ccy else ["currency"])).filter(keep & ok)
    del df
    sums = kept.group_by("principal_id").agg(pl.len().cast(pl.Int64).alias("events"),
                                             pl.col("amount_minor").cast(pl.Int128).sum().alias("net_minor"))
    top = kept.select(pl.col("amount_minor").abs().max()).item() if kept.height else 0
    kept = _fold_order([kept], policy.currency if constant_ccy else None)
    return BucketResult(kept, pl.concat(reject_frames), sums, int(top or 0))


class _ChunkStream:
    """Kept events arriving in fold order, cut into chunks of `step` events at global positions: each chunk's
    canonical rows hashed into the input digest and handed to the segment spool (as
    `vgos.canonical_rows._input_digest`)."""

    def __init__(self, spool: _SegmentSpool, step: int) -> None:
        self.spool, self.step = spool, step
        self.h = hashlib.sha256(b"[")
        self.pending: list[pl.DataFrame] = []
        self.buffered = 0
        self.count = 0

    def add(self, kept: pl.DataFrame) -> None:
        if kept.height == 0:
            return
        self.pending.append(kept)
        self.buffered += kept.height
        while self.buffered >= self.step:
            whole = pl.concat(self.pending, rechunk=False)
            self._emit(whole.slice(0, self.step))
            rest = whole.slice(self.step)
            self.pending, self.buffered = ([rest] if rest.height else []), rest.height

    def _emit(self, chunk: pl.DataFrame) -> None:
        chunk = chunk.rechunk()
        bufs = _row_bytes(chunk, None)
        if self.count:
            self.h.update(b",")
        for b in rows_pieces(bufs):
            self.h.update(b)
        self.spool.add(bufs, chunk if self.spool.encoding else None)
        self.count += chunk.height

    def finish(self) -> str:
        if self.buffered:
            self._emit(pl.concat(self.pending))
        self.pending = []
        self.h.update(b"]")
        return self.h.hexdigest()


def fold_files_bucketed(
    paths: Sequence[str | Path], window_id: str, policy: Policy, tenant_id: str = "default", *,
    bucket_events: int, spool: Path, progress: Progress | None = None, policy_hash: str | None = None,
    prior: Prior = None, spool_encoding: str | None = "parquet",
) -> FoldResult:
    """`vgos.fold.fold_files(..., spool=spool)` in time-range buckets of about `bucket_events` records: the same
    bytes (seal, digests, rejects, allocations, transcript segments), in memory bounded by a bucket. The result's
    `kept` is empty (`kept_held=False`): the kept events are in the spooled segments and normalized.parquet."""
    from vgos.transcript import CHUNK_EVENTS

    progress = progress or silent
    window = window_bounds(window_id, policy)
    files = [Path(p) for p in paths]
    sources = [str(p) for p in files]
    work = Path(tempfile.mkdtemp(prefix="buckets-", dir=spool))
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashed = pool.submit(_input_files_unsorted, files)
            split = _split(files, sources, policy, prior, work, progress)
            file_hashes = hashed.result()
        matched = _check_matches(dict(sorted(split.matched.items())), window.window_id)
        inputs = sorted((Path(n).name, sha) for n, (_, sha) in zip(sources, file_hashes, strict=True))
        edges = bucket_edges(split.ts, bucket_events)
        progress("deduplicating event ids")
        facts = cross_facts(split, edges)
        del split.ts, split.hashes
        reject_frames = [facts.rejects]
        parts: list[pl.DataFrame] = []
        max_abs = 0
        writer = _SegmentSpool(Path(spool), spool_encoding)
        stream = _ChunkStream(writer, CHUNK_EVENTS)
        try:
            def bucket(k: int) -> BucketResult:
                cond = pl.col("ts_us") >= int(edges[k])
                if k + 1 < len(edges):
                    cond = cond & (pl.col("ts_us") < int(edges[k + 1]))
                return fold_bucket(pl.scan_parquet(split.runs).filter(cond).collect(), window, policy, facts)

            for k, part in enumerate(_ahead(bucket(k) for k in range(len(edges)))):
                progress("folding buckets", k + 1, len(edges))
                stream.add(part.kept)
                reject_frames.append(part.rejects)
                parts.append(part.sums)
                max_abs = max(max_abs, part.max_abs)
                del part
            in_digest = stream.finish()
        finally:
            segments = writer.finish()
        events_kept = stream.count
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rej = pl.concat(reject_frames).sort(["_file", "_line"])
    rejects = RejectLog(rej, sources, split.schema_rejects)
    if not events_kept:
        segments = []
    return _seal(window, policy, tenant_id, parts, max_abs, events_kept, rejects, in_digest, policy_hash,
                 inputs, matched, segments, CHUNK_EVENTS if segments else 0, writer.output if segments else None)


def _seal(window: WindowBounds, policy: Policy, tenant_id: str, parts: list[pl.DataFrame], max_abs: int,
          events_kept: int, rejects: RejectLog, in_digest: str, policy_hash: str | None,
          inputs: list[tuple[str, str]], matched: dict[str, str], segments: list[SpooledSegment],
          chunk_events: int, normalized: Path | None) -> FoldResult:
    """SPEC §4–5 on the merged partial sums, as `vgos.fold.fold_intake` computes them from the kept events."""
    n_rejects = len(rejects)
    sums = (pl.concat(parts).group_by("principal_id").agg(pl.col("events").sum(), pl.col("net_minor").sum())
            .sort("principal_id")) if parts else None
    g = None
    if sums is not None and sums.height and max_abs * events_kept <= _INT64_MAX:
        g = _allocations_from_sums(sums.with_columns(pl.col("net_minor").cast(pl.Int64)), policy.bonus_ppm)
    frame = None
    with _no_gc():
        if g is None:
            rows = [] if sums is None else [(p, int(e), int(n)) for p, e, n in sums.iter_rows()]
            allocations = allocate(rows, policy.bonus_ppm)
            seal = build_seal(window, policy, tenant_id, allocations, events_kept, n_rejects, in_digest, policy_hash)
            raw = seal_bytes(seal)
        else:
            cols = {c: g[c].to_list() for c in _ALLOC_COLS}
            frame = g
            allocations, seal = _seal_from_columns(window, policy, tenant_id, cols, events_kept, n_rejects, "",
                                                   policy_hash, True)
            seal["trailer"]["input_digest"] = in_digest
            raw = _columns_seal_bytes(seal)
    kept = pl.DataFrame(schema=CANONICAL_EVENT_SCHEMA)
    return FoldResult(window, policy, tenant_id, kept, rejects, allocations, seal, raw, sha256_hex(raw), in_digest,
                      inputs, matched, segments, chunk_events, normalized, frame if allocations else None,
                      kept_held=events_kept == 0)


__all__ = ["BUCKET_ENV", "DEFAULT_BUCKET_EVENTS", "DEFAULT_THRESHOLD", "BucketResult", "CrossFacts", "bucket_edges",
           "bucket_events_setting", "cross_facts", "estimated_records", "fold_bucket", "fold_files_bucketed"]
