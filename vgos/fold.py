"""The fold of SPEC §3–5: exactly-once intake, fold order, accumulation, carry and the seal.

`fold_files` is the columnar fast path (polars); `fold_reference` is the plain, record-at-a-time reference that
tests hold equal to it. Neither reads the clock, and neither iterates anything in hash order.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from vgos.canonical import jcs_bytes, sha256_hex
from vgos.canonical_rows import (
    _BUILD_THREADS,
    TS_TABLE_MIN,
    OrderedSource,
    SpooledSegment,
    _assemble,
    _input_digest,
    _json_str_col,
    _row_buffers,
    _row_bytes,
    _SegmentSpool,
    _ts_strings,
    _ts_tables,
    leaf_pieces,
    rows_pieces,
)
from vgos.early_files import EarlyFiles
from vgos.errors import InputError
from vgos.events import (
    AFTER_CUTOFF,
    BEFORE_WINDOW,
    CANON_SCHEMA,
    CURRENCY_MISMATCH,
    DUPLICATE_EVENT,
    DUPLICATE_PRIOR_WINDOW,
    EVENT_ID_CONFLICT,
    FIELDS,
    REASONS,
    Reject,
    _rejects_from_columns,
    normalize_frame,
    prior_detail,
    read_fast,
    read_reference,
    ts_to_us,
)
from vgos.policy import Policy, WindowBounds, window_bounds
from vgos.progress import Progress, silent
from vgos.rejects import RejectLog
from vgos.seal import (
    CARRY_ORDER,
    FOLD_ORDER,
    MAX_SAFE,
    MICRO,
    Allocation,
    _columns_seal_bytes,
    _seal_from_columns,
    _totals_from_sums,
    allocate,
    build_seal,
    output_digest,
    seal_bytes,
    window_section,
)
from vgos.seal import SCHEMA as SEAL_SCHEMA

# SPEC §3 step 2. The matches of the tenant's idempotency index are an explicit input: event_id → the window whose
# current seal kept it. A caller that has no list yet passes a lookup, called once with the event ids of the
# schema-valid records (a polars Series, repeats possible; the bucketed fold of vgos.buckets calls it once per read
# slice, so it must answer each id on its own) and returning the matches among them; the kernel only
# ever sees the returned mapping, and records the matches that hit a record (`Intake.prior`, `FoldResult.prior`).
PriorLookup = Callable[[pl.Series], Mapping[str, str]]
Prior = Mapping[str, str] | PriorLookup | None
HASH_CHUNK = 250_000
_INT64_MAX = 2**63 - 1


@dataclass
class FoldResult:
    """Everything a window's fold produced: the seal and its digest, the kept events, the rejects."""

    window: WindowBounds
    policy: Policy
    tenant_id: str
    kept: pl.DataFrame
    rejects: Sequence[Reject]  # a RejectLog from the fast path: a list to readers
    allocations: Sequence[Allocation]  # a list, or an AllocationList over the columns (`lazy_allocations`)
    seal: dict[str, Any]
    seal_bytes: bytes
    output_digest: str
    input_digest: str
    input_files: list[tuple[str, str]] = field(default_factory=list)
    prior: dict[str, str] = field(default_factory=dict)  # DUPLICATE_PRIOR_WINDOW matches, sorted by event_id
    # The transcript's normalized_input segments when the fold spooled them (`fold_intake(spool=...)`), in order;
    # empty when not spooled (the transcript then builds them from `kept`).
    input_segments: list[SpooledSegment] = field(default_factory=list)
    input_chunk_events: int = 0  # events per spooled segment (the last may hold fewer)
    normalized_file: Path | None = None  # normalized.parquet when the spool wrote it (`kept` in fold order)
    allocation_frame: pl.DataFrame | None = None  # `allocations` as columns, when they were computed that way
    # False when `kept` is empty although events were kept (the bucketed fold, `vgos.buckets`): the kept events are
    # then only in `input_segments` and `normalized_file`.
    kept_held: bool = True

    @property
    def totals(self) -> dict[str, int]:
        """The seal's totals."""
        return self.seal["totals"]

    def rejects_by_reason(self) -> dict[str, int]:
        """Reject counts per reason code, in code order."""
        if isinstance(self.rejects, RejectLog):
            return self.rejects.by_reason()
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


_noop = silent


# ---------------------------------------------------------------------------------------------- fast path


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while building many small objects (it cannot change any result, only time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _code(reason: str) -> pl.Expr:
    return pl.lit(REASONS.index(reason), dtype=pl.UInt8).alias("_reason")


def _reject_objects(rows: pl.DataFrame, sources: list[str]) -> list[Reject]:
    """Reject objects for a frame of event_id, _file, _line, _reason rows, in row order, built in one pass."""
    if len(sources) == 1:
        src = pl.lit(f"{sources[0]}:") + pl.col("_line").cast(pl.String)
    else:
        names = pl.Series([f"{s}:" for s in sources], dtype=pl.String)
        src = pl.col("_file").replace_strict(pl.Series(range(len(sources)), dtype=pl.Int32), names) + pl.col(
            "_line").cast(pl.String)
    cols = rows.select(pl.col("event_id"), pl.col("_reason"), src.alias("_source"))
    with _no_gc():
        reasons = [REASONS[code] for code in cols["_reason"].to_list()]  # shared reason strings
        return _rejects_from_columns(cols["event_id"].to_list(), reasons, cols["_source"].to_list())


def _prior_found(prior: Prior, ids: pl.Series) -> Mapping[str, str]:
    """The prior-window matches for these event ids: the mapping itself, or what the lookup returns for them."""
    if prior is None:
        return {}
    return prior(ids) if callable(prior) else prior


def _check_matches(matched: dict[str, str], window_id: str) -> dict[str, str]:
    """The matches, refused when one names the window being folded (a window never matches its own ids)."""
    if window_id in matched.values():
        first = next(e for e, w in sorted(matched.items()) if w == window_id)
        raise InputError(f"prior-window match names window {window_id} itself (event_id {first!r}): the lookup must "
                         "exclude the window being folded")
    return matched


def _prior_hits(df: pl.DataFrame, prior: Prior, sources: list[str]
                ) -> tuple[pl.DataFrame, list[tuple[int, int, Reject]], dict[str, str]]:
    """SPEC §3 step 2 on canonical columns, without the self-match check: every copy of a matched id is rejected
    DUPLICATE_PRIOR_WINDOW. Returns the remaining rows, the rejects as (file, line, Reject) and the matches that hit a
    record, sorted by event_id (the bucketed fold calls it per read slice). Without a match the frame is untouched."""
    if prior is None or df.height == 0:
        return df, [], {}
    found = _prior_found(prior, df["event_id"])
    if not found:
        return df, [], {}
    table = pl.DataFrame({"event_id": list(found.keys()), "_prior": list(found.values())},
                         schema={"event_id": pl.String, "_prior": pl.String})
    hit = df["event_id"].is_in(table["event_id"].implode())
    if not hit.any():
        return df, [], {}
    rows = (df.filter(hit).select("event_id", "_file", "_line").join(table, on="event_id", how="left")
            .sort(["_file", "_line"]))
    rejects = [(f, line, Reject(eid, DUPLICATE_PRIOR_WINDOW, f"{sources[f]}:{line}", None, prior_detail(w)))
               for eid, f, line, w in rows.iter_rows()]
    return df.filter(~hit), rejects, dict(rows.select("event_id", "_prior").unique().sort("event_id").iter_rows())


def _apply_prior(df: pl.DataFrame, prior: Prior, sources: list[str], window_id: str
                 ) -> tuple[pl.DataFrame, list[tuple[int, int, Reject]], dict[str, str]]:
    """`_prior_hits` and the check that no match names the window being folded."""
    df, rejects, matched = _prior_hits(df, prior, sources)
    return df, rejects, _check_matches(matched, window_id)


REJECT_COLS = ["event_id", "_file", "_line", "_reason"]


def _duplicate_rejects(dups: pl.DataFrame) -> pl.DataFrame:
    """SPEC §3 step 3 on records whose ids repeat (with `_ord` in (file, line) order): every copy of an id whose
    copies differ is EVENT_ID_CONFLICT, every later copy of an identical one DUPLICATE_EVENT; as REJECT_COLS + _ord."""
    nu = dups.group_by("event_id").agg(
        pl.struct("ts_us", "principal_id", "amount_minor", "source_type", "currency").n_unique().alias("nu")
    )
    conflict_ids = nu.filter(pl.col("nu") > 1)["event_id"]
    dups = dups.with_columns(
        pl.col("event_id").is_in(conflict_ids.implode()).alias("_conflict"),
        pl.col("_ord").rank("ordinal").over("event_id").alias("_rank"),
    )
    conflicts = dups.filter(pl.col("_conflict")).with_columns(_code(EVENT_ID_CONFLICT))
    extra = dups.filter(~pl.col("_conflict") & (pl.col("_rank") > 1)).with_columns(_code(DUPLICATE_EVENT))
    return pl.concat([conflicts, extra]).select(*REJECT_COLS, "_ord")


def _window_rule(window: WindowBounds, policy: Policy) -> tuple[pl.Expr, pl.Expr]:
    """SPEC §3 steps 4–5 as expressions: (kept, reason when not kept). Kept exactly when no reject condition holds
    (a null condition does not reject, as in the reason chain)."""
    open_us, cutoff_us = ts_to_us(window.open_cutoff_ts), ts_to_us(window.cutoff_ts)
    ccy, ts = pl.col("currency"), pl.col("ts_us")
    in_window = ~(
        (ccy != policy.currency).fill_null(False) | (ts <= open_us).fill_null(False)
        | (ts > cutoff_us).fill_null(False)
    )
    reason = (
        pl.when(ccy != policy.currency).then(_code(CURRENCY_MISMATCH))
        .when(ts <= open_us).then(_code(BEFORE_WINDOW))
        .otherwise(_code(AFTER_CUTOFF))
    )
    return in_window, reason


def _repeat_candidates(ids: pl.Series) -> np.ndarray | None:
    """Mask of the rows whose event_id shares a hash prefix with another row's (None when no row does): every row
    of a repeated id, found with one integer sort (a collision only adds a candidate, the caller compares ids)."""
    n = len(ids)
    if n < 2:
        return None
    bits = (n - 1).bit_length()  # the low bits of each key hold its row position
    keys = ids.hash().to_numpy() >> np.uint64(bits)
    keys <<= np.uint64(bits)
    keys |= np.arange(n, dtype=np.uint64)
    keys = _sorted_ints(keys)
    prefix = keys >> np.uint64(bits)
    same = prefix[1:] == prefix[:-1]
    if not same.any():
        return None
    hit = np.zeros(n, dtype=bool)
    hit[1:] = same
    hit[:-1] |= same
    mask = np.zeros(n, dtype=bool)
    mask[(keys[hit] & np.uint64((1 << bits) - 1)).astype(np.int64)] = True
    return mask


def _sorted_ints(keys: np.ndarray) -> np.ndarray:
    """`keys` (distinct 64-bit integers, so any sort gives the same result) in ascending order, as a new read-only
    array: polars' sort, about four times cheaper than numpy's on millions of keys even on one thread."""
    out = pl.Series(keys).sort().to_numpy()
    assert out.dtype == keys.dtype and len(out) == len(keys)
    return out


def _index(rows: np.ndarray) -> pl.Series:
    """Row numbers as polars' index type, which its gathers take without a cast."""
    return pl.Series(rows, dtype=pl.get_index_type())


def _ts_order(ts: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows sorted by (ts, row), the sorted ts) of rows given as their ts and numbers (ascending; positions when
    None): one sort of plain integers when (ts, row) fits 63 bits, else a polars argsort."""
    rows = np.arange(len(ts), dtype=np.int64) if rows is None else rows
    lo, hi = int(ts.min()), int(ts.max())
    bits = max(int(rows[-1]), 1).bit_length()
    if (hi - lo).bit_length() + bits > 63:
        order = pl.Series(ts).arg_sort().to_numpy().astype(np.int64)
        return rows[order], ts[order]
    keys = ts - lo
    keys <<= bits
    keys |= rows
    keys = _sorted_ints(keys)
    order = keys & ((1 << bits) - 1)
    sorted_ts = keys >> bits
    sorted_ts += lo
    return order, sorted_ts


def _break_ties(order: np.ndarray, sorted_ts: np.ndarray, ids_at: Callable[[np.ndarray], pl.Series]
                ) -> np.ndarray:
    """Rows sorted by ts (`order`, with their `sorted_ts`) put in fold order: each run of equal ts re-sorted by
    event_id (polars compares UTF-8 bytes, which orders as code points do), `ids_at` giving the ids of given rows;
    the row itself last, so even equal ids come out the same every time."""
    tie = sorted_ts[1:] == sorted_ts[:-1]
    if tie.any():
        at = np.zeros(len(order), dtype=bool)
        at[1:] = tie
        at[:-1] |= tie
        pos = np.flatnonzero(at)
        runs = pl.DataFrame({"ts": sorted_ts[pos], "id": ids_at(order[pos]), "row": order[pos]})
        order[pos] = runs.sort(["ts", "id", "row"], maintain_order=True)["row"].to_numpy()
    return order


def _fold_permutation(ts: np.ndarray, ids_at: Callable[[np.ndarray], pl.Series]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(positions in fold order (SPEC §4: ts_us, then event_id by code point), the sorted ts) of rows given as
    their ts and a getter of their ids by position: sorted by the integers alone, then ties broken by id."""
    if len(ts) == 0:
        return np.zeros(0, dtype=np.int64), ts
    order, sorted_ts = _ts_order(ts)
    return _break_ties(order, sorted_ts, ids_at), sorted_ts


_BODY = ("event_id", "principal_id", "amount_minor", "source_type")


def _body(df: pl.DataFrame, currency: str | None) -> pl.DataFrame:
    """The columns the fold order gathers, in one chunk (a gather from many chunks is many times slower)."""
    return df.select(*_BODY, *([] if currency is not None else ["currency"])).rechunk()


def _one_chunk(df: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """`df` with these columns each copied to one chunk, one at a time, each copy replacing its column in `df`: the
    chunks it replaces are freed before the next copy is made (the caller hands `df` over), so the copies reuse
    their memory instead of touching as much fresh memory again (`_body` of the result then copies nothing)."""
    for c in columns:
        if df[c].n_chunks() > 1:
            df = df.with_columns(df.get_column(c).rechunk())
    return df


def _sorted_in_window(ts: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows where `ok` sorted by (ts, row), their ts): the fold order before the duplicates are known (dropping
    a row later drops one timestamp string of its instant, and ties are broken once the kept rows are known)."""
    rows = np.flatnonzero(ok)
    if not len(rows):
        return rows, ts[rows]
    return _ts_order(ts[rows], rows)


def _intake(
    frames: list[pl.DataFrame], schema_rejects: list[tuple[int, int, Reject]], sources: list[str],
    window: WindowBounds, policy: Policy, progress: Progress, prior: Prior = None, ordered: bool = False,
) -> tuple[pl.DataFrame | OrderedSource, Sequence[Reject], dict[str, str]]:
    """Steps 2–5 of SPEC §3 on canonical columns: kept canonical events in fold order, every reject, the matches.

    `ordered=True` gives the kept events as an `OrderedSource` (their rows and fold order, not gathered) whenever
    the rows are canonical, so a fold that spools its transcript never builds them as one frame; otherwise that
    source is gathered here (`OrderedSource.chunk` of all of them)."""
    df = pl.concat(
        [f.with_columns(pl.lit(i, dtype=pl.Int32).alias("_file")) for i, f in enumerate(frames)]
    ) if frames else pl.DataFrame(schema={**CANON_SCHEMA, "_file": pl.Int32})
    frames.clear()  # the caller hands the frames over: free them as soon as the working copy drops rows
    df, prior_rejects, matched = _apply_prior(df, prior, sources, window.window_id)
    if prior_rejects:
        schema_rejects = schema_rejects + prior_rejects

    progress("deduplicating event ids")
    # Every kept row carries the policy currency (when the column has no null), so it is dropped before the sort
    # and put back as a constant column.
    currency = policy.currency if df["currency"].null_count() == 0 else None
    in_window, reason = _window_rule(window, policy)
    ok = df.select(in_window.alias("ok"))["ok"].to_numpy()
    canonical = not (df["ts_us"].null_count() or df["event_id"].null_count())
    # The window's rows sorted by instant on a second thread (polars' sort and numpy release the GIL), beside the
    # copy of the columns the fold order gathers to one chunk and the duplicate search (this thread).
    with ThreadPoolExecutor(max_workers=1) as pool:
        if canonical:
            by_ts = pool.submit(_sorted_in_window, df["ts_us"].to_numpy(), ok)
            if int(ok.sum()) >= TS_TABLE_MIN:  # then the timestamp tables the rows will use (0.17 s to build)
                pool.submit(_ts_tables)
        df = _one_chunk(df, [*_BODY, *([] if currency is not None else ["currency"])])
        keep, reject_frames = _dedupe(df, ok, reason)
        progress("sorting into fold order")
        if canonical:
            rows, sorted_ts = by_ts.result()
            perm, kept_ts = _kept_order(df["event_id"], keep, rows, sorted_ts)
            kept: pl.DataFrame | OrderedSource = OrderedSource(_body(df, currency), perm, kept_ts, currency, FIELDS)
            if not ordered:
                kept = kept.chunk(0, kept.rows)
        else:  # nulls: not canonical rows, the general sort decides
            cols = ["event_id", "ts_us", *_BODY[1:], *([] if currency is not None else ["currency"])]
            kept = _fold_order_sorted([df.select(cols).filter(pl.Series(keep))], currency)
    # Sorted by (file, line) and merged with the read-time rejects when first read in order (with early files, on
    # their thread while the input is hashed); Reject objects are made only if someone reads them.
    return kept, RejectLog(reject_frames, sources, schema_rejects), matched


def _dedupe(df: pl.DataFrame, ok: np.ndarray, reason: pl.Expr) -> tuple[np.ndarray, list[pl.DataFrame]]:
    """SPEC §3 steps 3–5 given the window mask `ok`: (rows kept, reject frames of REJECT_COLS)."""
    reject_frames: list[pl.DataFrame] = []
    keep = ok.copy()  # kept: in the window and not a rejected duplicate
    out_of_window = ~ok  # rejected by steps 4-5: out of the window and not a rejected duplicate
    # Candidates by a 64-bit hash of event_id (cheap); the exact string comparison below runs on candidates only,
    # so a hash collision can only add a candidate, never change a result.
    candidates = _repeat_candidates(df["event_id"])
    if candidates is not None:
        dups = df.with_row_index("_ord").filter(pl.Series(candidates))
        dups = dups.filter(pl.col("event_id").is_duplicated())
        if dups.height:
            rej = _duplicate_rejects(dups)
            reject_frames.append(rej.select(REJECT_COLS))
            dropped = rej["_ord"].to_numpy()
            keep[dropped] = False
            out_of_window[dropped] = False
    reject_frames.append(
        df.select("event_id", "_file", "_line", "currency", "ts_us").filter(pl.Series(out_of_window))
        .select("event_id", "_file", "_line", reason.alias("_reason"))
    )
    return keep, reject_frames


def _kept_order(ids: pl.Series, keep: np.ndarray, rows: np.ndarray, sorted_ts: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the kept rows in fold order, their instants) from `_sorted_in_window`'s rows: rejected
    duplicates taken out, ties broken by id."""
    still = keep[rows]
    if not still.all():
        rows, sorted_ts = rows[still], sorted_ts[still]
    return _break_ties(rows, sorted_ts, lambda at: ids.gather(_index(at))), sorted_ts


def _fold_order(handover: list[pl.DataFrame], currency: str | None) -> pl.DataFrame:
    """Kept rows in fold order (SPEC §4) as canonical columns, `ts_occurred` rendered from `ts_us`, `currency`
    filled with the given constant when the rows come without it."""
    kept = handover.pop()
    if kept["ts_us"].null_count() or kept["event_id"].null_count():
        return _fold_order_sorted([kept], currency)
    ts, ids = kept["ts_us"].to_numpy(), kept["event_id"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        body = pool.submit(_body, kept, currency)
        del kept
        order, sorted_ts = _fold_permutation(ts, lambda at: ids.gather(_index(at)))
        return OrderedSource(body.result(), order, sorted_ts, currency, FIELDS).chunk(0, len(order))


def _fold_order_sorted(handover: list[pl.DataFrame], currency: str | None) -> pl.DataFrame:
    """`_fold_order` by a polars sort on (ts_us, event_id): the general path (nulls in either column)."""
    kept = handover.pop().sort(["ts_us", "event_id"], maintain_order=False)
    return _assemble(kept, _ts_strings(kept["ts_us"]), currency, FIELDS)


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


_ALLOC_COLS = ("principal_id", "events", "net_minor", "bonus_floor_minor", "remainder_micro", "carry_minor",
               "payout_minor")


def _allocation_frame(kept: pl.DataFrame, bonus_ppm: int) -> pl.DataFrame | None:
    """SPEC §4 accumulate, bonus and carry on columns, sorted by principal_id, with every sealed value checked.

    Returns None whenever plain Int64 arithmetic could not hold some intermediate exactly or some value leaves
    ±(2^53−1): the caller then takes the exact one-principal-at-a-time path (`allocate`), which also raises the
    precise FoldRangeError.
    """
    if kept.height == 0 or bonus_ppm < 0:
        return None
    max_abs = kept.select(pl.col("amount_minor").abs().max()).item()
    if max_abs is None or max_abs * kept.height > _INT64_MAX:
        return None
    g = (
        kept.lazy().select("principal_id", "amount_minor").group_by("principal_id")
        .agg(pl.len().alias("events"), pl.col("amount_minor").sum().alias("net_minor"))
        .sort("principal_id").collect(engine="streaming")
    )
    return _allocations_from_sums(g, bonus_ppm)


def _allocations_from_sums(g: pl.DataFrame, bonus_ppm: int) -> pl.DataFrame | None:
    """`_allocation_frame` from per-principal sums (principal_id, events, net_minor; sorted by principal_id, each
    principal once, computed without overflow: see the callers' guards)."""
    net_max, net_min = g.select(pl.col("net_minor").max().alias("hi"), pl.col("net_minor").min().alias("lo")).row(0)
    if not -MAX_SAFE <= net_min <= net_max <= MAX_SAFE or max(net_max, 0) * bonus_ppm > _INT64_MAX:
        return None
    raw = pl.col("net_minor").clip(lower_bound=0) * bonus_ppm
    g = g.with_columns((raw // MICRO).alias("bonus_floor_minor"), (raw % MICRO).alias("remainder_micro"))
    pool = int(g["remainder_micro"].sum()) // MICRO
    carry = np.zeros(g.height, dtype=np.int64)
    if pool:
        order = g.select(pl.arg_sort_by(["remainder_micro", "principal_id"], descending=[True, False]))
        carry[order.to_series().to_numpy()[:pool]] = 1
    g = g.with_columns(pl.Series("carry_minor", carry)).with_columns(
        (pl.col("net_minor") + pl.col("bonus_floor_minor") + pl.col("carry_minor")).alias("payout_minor")
    )
    lo, hi = g.select(
        pl.min_horizontal(pl.col("payout_minor").min(), pl.col("bonus_floor_minor").min()).alias("lo"),
        pl.max_horizontal(pl.col("payout_minor").max(), pl.col("bonus_floor_minor").max()).alias("hi"),
    ).row(0)
    if not -MAX_SAFE <= lo <= hi <= MAX_SAFE:
        return None
    return g.select(_ALLOC_COLS)


def _seal_bytes_from_frame(window: WindowBounds, policy: Policy, tenant_id: str, g: pl.DataFrame,
                           events_kept: int, events_rejected: int, input_digest: str,
                           policy_hash: str | None, body: bytes | None = None) -> tuple[dict[str, Any], bytes]:
    """The seal (with an empty `allocations` list standing in) and the exact bytes `_seal_from_columns` +
    `_columns_seal_bytes` give, with the allocation objects written column-wise: no per-principal Python objects.

    Each allocation is its RFC 8785 object (member names in code-point order, integers in decimal, principal_id
    as `json_string` gives it), joined by commas (`allocations_body`, or `body` when the caller built it already);
    the other members are `jcs_bytes` of the rest of the seal."""
    cols = ("net_minor", "bonus_floor_minor", "payout_minor", "remainder_micro")
    # summed exactly in Int128 (each value is within ±(2^53−1), so no count of principals can overflow it)
    sums = dict(zip(cols, g.select(pl.col(c).cast(pl.Int128).sum() for c in cols).row(0), strict=True))
    t = _totals_from_sums(events_kept, events_rejected, g.height, sums["net_minor"], sums["bonus_floor_minor"],
                          sums["payout_minor"], sums["remainder_micro"])
    rest = {
        "schema": SEAL_SCHEMA,
        "totals": t,
        "trailer": {"fold_order": FOLD_ORDER, "carry_order": CARRY_ORDER, "input_digest": input_digest},
        "window": window_section(window, policy, tenant_id, policy.policy_hash if policy_hash is None else policy_hash),
    }
    rest_bytes = jcs_bytes(rest)
    if body is None:
        body = allocations_body(g)
    raw = b"".join([b'{"allocations":[', body, b"],", memoryview(rest_bytes)[1:]])
    return {"allocations": [], **rest}, raw


def allocations_body(g: pl.DataFrame) -> bytes:
    """The seal's allocation objects in RFC 8785 form joined by commas (what goes between `"allocations":[` and
    `]`), from the allocation columns; it does not depend on the input digest, so the fold builds it while hashing."""
    if not g.height:
        return b""
    num = {c: pl.col(c).cast(pl.String) for c in _ALLOC_COLS[1:]}
    rows = g.select(pl.concat_str([
        pl.lit('{"bonus_floor_minor":'), num["bonus_floor_minor"], pl.lit(',"carry_minor":'), num["carry_minor"],
        pl.lit(',"events":'), num["events"], pl.lit(',"net_minor":'), num["net_minor"],
        pl.lit(',"payout_minor":'), num["payout_minor"], pl.lit(',"principal_id":'),
        _json_str_col(g, "principal_id"), pl.lit(',"remainder_micro":'), num["remainder_micro"], pl.lit("},"),
    ]).alias("row"))["row"]
    return b"".join(rows_pieces(_row_buffers(rows)))


@dataclass
class Intake:
    """The normalized log of a window: kept canonical events in fold order and every reject with its reason."""

    window: WindowBounds
    policy: Policy
    kept: pl.DataFrame
    rejects: Sequence[Reject]
    input_files: list[tuple[str, str]] = field(default_factory=list)
    prior: dict[str, str] = field(default_factory=dict)  # DUPLICATE_PRIOR_WINDOW matches, sorted by event_id
    # The kept events as their rows and fold order, not gathered (`intake_files(ordered=True)`); `kept` is then empty
    ordered: OrderedSource | None = None


def fold_intake(
    intake: Intake, tenant_id: str = "default", *, progress: Progress | None = None, policy_hash: str | None = None,
    known_input: tuple[pl.DataFrame, str] | None = None, spool: Path | None = None, allocation_objects: bool = True,
    extra_rejected: int = 0, spool_encoding: str | None = "parquet", lazy_allocations: bool = False,
    early: EarlyFiles | None = None,
) -> FoldResult:
    """Fold and seal a normalized log (SPEC §4–5): input digest, accumulation, carry, seal.

    `known_input` is (canonical events, the SHA-256 of their RFC 8785 array) already hashed by the caller (a
    replay hashes the transcript's chunks as it reads them); when the kept events equal those rows exactly, the
    digest is taken instead of serializing every event again. `spool`, an existing folder, receives the
    transcript's normalized_input segments as they are hashed (`FoldResult.input_segments`; keep the folder until
    the transcript is written): Parquet segments of transcript v2 (`spool_encoding="parquet"`, the default) or the
    canonical JSON arrays of v1 (`spool_encoding=None`).
    `allocation_objects=False` (a replay, which needs only the seal bytes) may leave `FoldResult.allocations`
    and the seal object's `allocations` empty, the bytes written column-wise (`_seal_bytes_from_frame`), with
    `extra_rejected` records (rejected before this log) counted in the seal's `events_rejected`.
    `lazy_allocations=True` (`vgos fold`, which writes its files from the columns) writes the seal bytes
    column-wise too and gives `FoldResult.allocations` as an `AllocationList` over the columns, whose objects are made
    only where they are read; the seal object's `allocations` is then empty (the seal bytes hold them).
    `early` (with a spool and `lazy_allocations`): handed the rejects and the allocations as soon as each is final,
    so their output files are made while the input is hashed (`vgos.early_files`).
    """
    if lazy_allocations and not allocation_objects:
        raise ValueError("lazy_allocations gives allocation objects: do not combine it with allocation_objects=False")
    if allocation_objects and extra_rejected:
        raise ValueError("extra_rejected is only counted with allocation_objects=False")
    progress = progress or _noop
    kept, policy = intake.kept, intake.policy
    ordered = intake.ordered
    if ordered is not None and (spool is None or known_input is not None or not ordered.rows):
        kept, ordered = ordered.chunk(0, ordered.rows), None  # nowhere to spool the chunks to: gather them here
    n_kept = ordered.rows if ordered is not None else kept.height
    if known_input is not None and known_input[0].select(list(FIELDS)).equals(kept):
        known_digest: str | None = known_input[1]
    else:
        known_digest = None
    n_rejects = len(intake.rejects)

    frame_of_allocations: list[pl.DataFrame] = []

    def amounts() -> pl.DataFrame:
        """What the per-principal sums read: the kept events (their order does not matter to a sum)."""
        if ordered is None:
            return kept
        mask = np.zeros(ordered.body.height, dtype=bool)
        mask[ordered.order] = True
        return ordered.body.select("principal_id", "amount_minor").filter(pl.Series(mask))

    def allocations_and_seal(in_digest: str) -> tuple[list[Allocation], dict[str, Any], bool]:
        kept = amounts()
        g = _allocation_frame(kept, policy.bonus_ppm)
        if (lazy_allocations or not allocation_objects) and g is not None:
            body = allocations_body(g)
            if early_files is not None:
                early_files.allocations(g, body)
            return [], {"frame": g, "body": body}, True
        with _no_gc():
            if g is None:
                return allocate(_accumulate(kept), policy.bonus_ppm), {}, False
            cols = {c: g[c].to_list() for c in _ALLOC_COLS}
            frame_of_allocations.append(g)
            allocations, seal = _seal_from_columns(intake.window, policy, tenant_id, cols, n_kept, n_rejects,
                                                   in_digest, policy_hash, allocation_objects)
            del cols
        return allocations, seal, True

    # The rejects are final, and the allocations will be before the input digest is: their files are made while
    # the input is hashed, when only the files the fold itself writes to its spool are linked in later.
    early_files = early if spool is not None and lazy_allocations and known_digest is None and n_kept else None
    if early_files is not None:
        early_files.rejects(intake.rejects)
    # The per-principal work (polars, then Python objects) overlaps the input hashing, which mostly runs without
    # the GIL; the seal only needs the digest at the end.
    with ThreadPoolExecutor(max_workers=1) as pool:
        staged = pool.submit(allocations_and_seal, "")
        progress(f"hashing {n_kept:,} kept events")
        segments: list[SpooledSegment] = []
        chunk_events = 0
        normalized_file: Path | None = None
        if known_digest is not None:
            in_digest = known_digest
        elif spool is not None and n_kept:
            from vgos.transcript import CHUNK_EVENTS

            chunk_events = CHUNK_EVENTS
            writer = _SegmentSpool(Path(spool), spool_encoding)
            try:
                in_digest = _input_digest(ordered if ordered is not None else kept, progress, writer, chunk_events)
            finally:
                segments = writer.finish()
            normalized_file = writer.output
        else:
            in_digest = _input_digest(kept, progress, step=HASH_CHUNK)  # read now: callers and tests set it
        progress("accumulating per principal")
        allocations, seal, columnar = staged.result()
    if columnar and "frame" in seal:
        frame = seal["frame"]
        seal, raw = _seal_bytes_from_frame(intake.window, policy, tenant_id, frame, n_kept,
                                           n_rejects + extra_rejected, in_digest, policy_hash, seal["body"])
        if lazy_allocations:
            from vgos.allocation_list import AllocationList

            allocations = AllocationList(frame)
            frame_of_allocations.append(frame)
    elif columnar:
        seal["trailer"]["input_digest"] = in_digest
        raw = _columns_seal_bytes(seal)
    else:
        seal = build_seal(intake.window, policy, tenant_id, allocations, n_kept, n_rejects, in_digest,
                          policy_hash)
        if extra_rejected:  # as fold_canonical adds them to a finished seal
            seal["totals"] = {**seal["totals"], "events_rejected": seal["totals"]["events_rejected"] + extra_rejected}
        raw = seal_bytes(seal)
    return FoldResult(intake.window, policy, tenant_id, kept, intake.rejects, allocations, seal, raw,
                      sha256_hex(raw), in_digest, intake.input_files, dict(intake.prior),
                      segments, chunk_events, normalized_file,
                      frame_of_allocations[0] if frame_of_allocations and allocations else None,
                      kept_held=ordered is None)


def _make_intake(
    frames: list[pl.DataFrame], schema_rejects: list[tuple[int, int, Reject]], sources: list[str],
    window: WindowBounds, policy: Policy, progress: Progress, input_files: list[tuple[str, str]], prior: Prior = None,
    ordered: bool = False,
) -> Intake:
    kept, rejects, matched = _intake(frames, schema_rejects, sources, window, policy, progress, prior, ordered)
    if isinstance(kept, OrderedSource):
        return Intake(window, policy, pl.DataFrame(schema=CANONICAL_EVENT_SCHEMA), rejects, input_files, matched,
                      ordered=kept)
    return Intake(window, policy, kept, rejects, input_files, matched)


def intake_files(
    paths: Sequence[str | Path], window_id: str, policy: Policy, *, progress: Progress | None = None,
    sources: Sequence[str] | None = None, prior: Prior = None, ordered: bool = False,
) -> Intake:
    """Read and normalize a window's event files (JSONL, CSV, Parquet) with the columnar fast path (SPEC §1–3).

    `sources` names the files in rejects (e.g. their drop-zone keys) when `paths` are local copies; `prior` gives
    the ids kept by the tenant's other sealed windows (a mapping or a lookup, see `Prior`). `ordered=True`: the
    kept events may come as `Intake.ordered` (not gathered into `kept`; see `fold_intake`).
    """
    progress = progress or _noop
    window = window_bounds(window_id, policy)
    files = [Path(p) for p in paths]
    frames: list[pl.DataFrame] = []
    schema_rejects: list[tuple[int, int, Reject]] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashed = pool.submit(_input_files_unsorted, files)  # file digests alongside the reads (read errors first)
        for i, path in enumerate(files):
            progress(f"reading {path.name} ({i + 1}/{len(files)})")
            frame, rej = read_fast(path, policy.currency)
            frames.append(frame)
            del frame  # `frames` holds the only reference: the intake frees each frame once it has its copy
            schema_rejects.extend((i, line, r) for line, r in rej)
        file_hashes = hashed.result()
    names = list(sources) if sources is not None else [str(p) for p in files]
    if sources is not None:
        schema_rejects = [(i, line, replace(r, source=f"{names[i]}:{line}")) for i, line, r in schema_rejects]
    inputs = sorted((Path(n).name, sha) for n, (_, sha) in zip(names, file_hashes, strict=True))
    return _make_intake(frames, schema_rejects, names, window, policy, progress, inputs, prior, ordered)


def fold_files(
    paths: Sequence[str | Path], window_id: str, policy: Policy, tenant_id: str = "default", *,
    progress: Progress | None = None, policy_hash: str | None = None, prior: Prior = None,
    spool: Path | None = None, spool_encoding: str | None = "parquet", bucket_events: int | None = None,
    lazy_allocations: bool = False, keep_events: bool = True, early: EarlyFiles | None = None,
) -> FoldResult:
    """Intake, fold and seal a window from event files: `fold_intake(intake_files(...))` (`spool`,
    `lazy_allocations`: see there). With a spool, `keep_events=False` lets each worker gather its own chunk of
    the kept events (`OrderedSource`) instead of building them as one frame: the result's `kept` is then empty
    and `kept_held` False, as after a bucketed fold (the events are in the spooled segments), with the same bytes.

    With a spool, a large window folds in time-range buckets (`vgos.buckets`; `bucket_events` N, else the
    environment's VGOS_FOLD_BUCKET_EVENTS, folds windows of more than N records in buckets of N, 0 never; by default
    above 8,000,000 records in buckets of 2,000,000): the same bytes, in memory bounded by a bucket (the result's
    `kept` is then empty and `kept_held` False). `early`: see `fold_intake` (the one-bucket fold only)."""
    if spool is not None:
        from vgos import buckets

        setting = buckets.bucket_events_setting(bucket_events)
        files = [Path(p) for p in paths]
        if setting is not None and buckets.estimated_records(files) > setting[0]:
            return buckets.fold_files_bucketed(files, window_id, policy, tenant_id, bucket_events=setting[1],
                                               spool=spool, progress=progress, policy_hash=policy_hash,
                                               prior=prior, spool_encoding=spool_encoding)
    intake = intake_files(paths, window_id, policy, progress=progress, prior=prior,
                          ordered=spool is not None and not keep_events)
    return fold_intake(intake, tenant_id, progress=progress, policy_hash=policy_hash, spool=spool,
                       spool_encoding=spool_encoding, lazy_allocations=lazy_allocations, early=early)


def fold_canonical(
    events: pl.DataFrame | list[pl.DataFrame] | list[dict[str, Any]], window_id: str, policy: Policy,
    tenant_id: str = "default",
    events_rejected: int = 0, *, source: str = "<normalized>", policy_hash: str | None = None,
    prior: Mapping[str, str] | None = None, input_digest: str | None = None, allocation_objects: bool = True,
) -> FoldResult:
    """Re-fold canonical events (replay from a transcript): the same intake rules, then the same seal.

    `events` is a frame, a list of event objects, or the transcript's chunks as frames in order.

    `prior` is the transcript's recorded DUPLICATE_PRIOR_WINDOW matches, re-applied to the events;
    `input_digest`, when given, is the caller's SHA-256 of the RFC 8785 array of `events` (a DataFrame), reused
    when every event is kept in the given order (see `fold_intake`, also for `allocation_objects`).
    """
    if isinstance(events, list) and events and isinstance(events[0], pl.DataFrame):  # the transcript's chunks
        if not allocation_objects and not prior:
            fast = _fold_kept_as_given(events, window_id, policy, tenant_id, events_rejected, source=source,
                                       policy_hash=policy_hash, input_digest=input_digest)
            if fast is not None:
                return fast
        events = pl.concat(events) if len(events) > 1 else events[0]
    elif not allocation_objects and not prior and isinstance(events, pl.DataFrame):
        fast = _fold_kept_as_given(events, window_id, policy, tenant_id, events_rejected, source=source,
                                   policy_hash=policy_hash, input_digest=input_digest)
        if fast is not None:
            return fast
    known = (events, input_digest) if input_digest is not None and isinstance(events, pl.DataFrame) else None
    df = events if isinstance(events, pl.DataFrame) else pl.DataFrame(
        {f: [e.get(f) for e in events] for f in FIELDS},
        schema={"event_id": pl.String, "ts_occurred": pl.String, "principal_id": pl.String,
                "amount_minor": pl.Int64, "source_type": pl.String, "currency": pl.String},
    )
    df = df.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))
    window = window_bounds(window_id, policy)
    frame, rej = normalize_frame(df, source=source, mode="parquet", default_currency=policy.currency)
    intake = _make_intake([frame], [(0, line, r) for line, r in rej], [source], window, policy, _noop, [], prior)
    del df, frame
    if not allocation_objects:
        return fold_intake(intake, tenant_id, policy_hash=policy_hash, known_input=known, allocation_objects=False,
                           extra_rejected=events_rejected)
    result = fold_intake(intake, tenant_id, policy_hash=policy_hash, known_input=known)
    if events_rejected:
        seal = dict(result.seal)
        seal["totals"] = {**seal["totals"], "events_rejected": seal["totals"]["events_rejected"] + events_rejected}
        # The allocations are fold_intake's own (range-checked dicts with the ASCII constant keys), so only the
        # rest of the seal needs the checked path: the bytes `seal_bytes(seal)` gives, serialized once.
        raw = _columns_seal_bytes(seal)
        result.seal, result.seal_bytes, result.output_digest = seal, raw, sha256_hex(raw)
    return result


def _chunk_kept_as_given(chunk: pl.DataFrame, window: WindowBounds, policy: Policy, source: str
                         ) -> tuple[tuple[int, str], tuple[int, str], pl.Series] | None:
    """For one chunk of canonical events: ((ts, id) of its first and last row, its event-id hashes) when the intake
    would keep every row exactly as given (valid, canonical, policy currency, inside the window, strictly in fold
    order within the chunk); None otherwise."""
    from vgos.events import _canonical_ts_to_us

    n = chunk.height
    if n == 0 or chunk.schema != pl.Schema(CANONICAL_EVENT_SCHEMA) or \
            any(chunk[c].null_count() for c in chunk.columns):
        return None
    ts_us = _canonical_ts_to_us(chunk["ts_occurred"])
    if ts_us is None:
        return None
    df = chunk.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))
    frame, rej = normalize_frame(df, source=source, mode="parquet", default_currency=policy.currency,
                                 canonical_ts=ts_us)
    del df
    same = ["event_id", "principal_id", "amount_minor", "source_type", "currency"]
    if rej or frame.height != n or not frame.select(same).equals(chunk.select(same)):
        return None
    ts, eid = pl.col("ts_us"), pl.col("event_id")
    ordered = (ts.shift(-1) > ts) | ((ts.shift(-1) == ts) & (eid.shift(-1) > eid))
    ok = frame.select(
        (pl.col("currency") == policy.currency).all().alias("ccy"),
        ((ts > ts_to_us(window.open_cutoff_ts)) & (ts <= ts_to_us(window.cutoff_ts))).all().alias("window"),
        ordered.head(n - 1).all().alias("ordered"),
    ).row(0)
    if not all(ok):
        return None
    first = (int(ts_us[0]), str(chunk["event_id"][0]))
    last = (int(ts_us[n - 1]), str(chunk["event_id"][n - 1]))
    return first, last, chunk["event_id"].hash()


def _fold_kept_as_given(
    events: pl.DataFrame | list[pl.DataFrame], window_id: str, policy: Policy, tenant_id: str,
    events_rejected: int, *, source: str, policy_hash: str | None, input_digest: str | None,
) -> FoldResult | None:
    """`fold_canonical(..., allocation_objects=False)` without prior matches, when the intake would keep every event
    exactly as given (a replay of an honest transcript): every event valid and already in canonical form, in the
    policy currency, inside the window, ids unique and rows strictly in fold order. Then the kept log is the events
    themselves, so the dedupe, the sort and the timestamp rendering are skipped; None when any condition fails (the
    general path then decides, as it always did).

    `events` may be the transcript's chunks: each is checked on its own (two at a time, so no check holds more than
    a chunk's temporaries), then their boundaries are checked in order and their ids for repeats across chunks (by
    64-bit hash: equal hashes decline, so a collision can only send the replay down the general path)."""
    chunks = events if isinstance(events, list) else [events]
    if not chunks or any(c.height == 0 for c in chunks):
        return None
    window = window_bounds(window_id, policy)
    if len(chunks) == 1:
        facts = [_chunk_kept_as_given(chunks[0], window, policy, source)]
    else:
        with ThreadPoolExecutor(max_workers=_BUILD_THREADS) as pool:
            facts = list(pool.map(lambda c: _chunk_kept_as_given(c, window, policy, source), chunks))
    if not kept_facts_hold(facts):
        return None
    del facts
    kept = pl.concat(chunks, rechunk=False) if len(chunks) > 1 else chunks[0]
    intake = Intake(window, policy, kept.select(list(FIELDS)), [], [], {})
    known = (kept, input_digest) if input_digest is not None else None
    return fold_intake(intake, tenant_id, policy_hash=policy_hash, known_input=known, allocation_objects=False,
                       extra_rejected=events_rejected)


PartialSums = pl.DataFrame  # principal_id, events, net_minor of some chunks of one window


def chunk_sums(chunk: pl.DataFrame) -> tuple[PartialSums, int]:
    """Partial sums of one chunk of kept events, and its largest abs(amount): one row per event (events 1, net the
    amount), not grouped here; `merge_sums` groups any number of them at once, so a replay groups every few chunks
    in one pass instead of each chunk and then their groups again (sums are exact in Int64 while the callers' guard
    holds)."""
    g = chunk.select("principal_id", pl.lit(1, dtype=pl.Int64).alias("events"),
                     pl.col("amount_minor").alias("net_minor"))
    top = chunk.select(pl.col("amount_minor").abs().max()).item()
    return g, int(top or 0)


def merge_sums(parts: list[PartialSums], *, ordered: bool = True) -> PartialSums:
    """Partial sums (of chunks, or of earlier merges) as one: each principal once, in principal_id order
    (`ordered=False` for an intermediate merge, whose order nothing reads: the final merge sorts)."""
    merged = (pl.concat(parts) if len(parts) > 1 else parts[0]).group_by("principal_id").agg(
        pl.col("events").sum(), pl.col("net_minor").sum())
    return merged.sort("principal_id") if ordered else merged


def fold_from_sums(
    sums: PartialSums, max_abs: int, events_kept: int, window_id: str, policy: Policy, tenant_id: str,
    events_rejected: int, input_digest: str, *, policy_hash: str | None = None,
) -> FoldResult | None:
    """The seal of a window whose kept events are known only by per-principal sums (a streamed replay that proved
    every event is kept as given, chunk by chunk): SPEC §4–5 on the merged sums; None when Int64 could not hold them
    (the caller then folds the events themselves). `kept` of the result is empty: the events were not kept."""
    if events_kept == 0 or max_abs * events_kept > _INT64_MAX:
        return None
    g = _allocations_from_sums(sums, policy.bonus_ppm)
    if g is None:
        return None
    window = window_bounds(window_id, policy)
    seal, raw = _seal_bytes_from_frame(window, policy, tenant_id, g, events_kept, events_rejected, input_digest,
                                       policy_hash)
    return FoldResult(window, policy, tenant_id, pl.DataFrame(schema=CANONICAL_EVENT_SCHEMA), [], [], seal, raw,
                      sha256_hex(raw), input_digest)


def kept_facts_hold(facts: Sequence[tuple[tuple[int, str], tuple[int, str], pl.Series] | None]) -> bool:
    """True when chunks each kept as given (`_chunk_kept_as_given` facts, in order) are kept as given together:
    strictly in fold order across every boundary and no event id repeated (equal 64-bit hashes count as repeats)."""
    if not facts or any(f is None for f in facts):
        return False
    for a, b in zip(facts[:-1], facts[1:], strict=True):
        assert a is not None and b is not None
        if not a[1] < b[0]:  # (ts, event_id) strictly increasing across the boundary (str: code point order)
            return False
    hashes = pl.concat([f[2] for f in facts if f is not None]).sort()
    return not (len(hashes) > 1 and bool((hashes.slice(1) == hashes.slice(0, len(hashes) - 1)).any()))


# ---------------------------------------------------------------------------------------------- reference


def fold_reference(
    paths: Sequence[str | Path], window_id: str, policy: Policy, tenant_id: str = "default", *,
    policy_hash: str | None = None, prior: Prior = None,
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
    found: Mapping[str, str] = {}
    if prior is not None and records:
        found = _prior_found(prior, pl.Series("event_id", [ev["event_id"] for _, _, ev in records], dtype=pl.String))
    matched: dict[str, str] = {}
    if found:
        remaining = []
        for f, line, ev in records:
            w = found.get(ev["event_id"])
            if w is None:
                remaining.append((f, line, ev))
                continue
            matched[ev["event_id"]] = w
            rejects.append((f, line, Reject(ev["event_id"], DUPLICATE_PRIOR_WINDOW, f"{files[f]}:{line}", None,
                                            prior_detail(w))))
        records = remaining

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
                      output_digest(seal), in_digest, _input_files(files),
                      _check_matches(dict(sorted(matched.items())), window_id))


def result_from_seal(raw_seal: bytes, intake: Intake, tenant_id: str = "default") -> FoldResult:
    """Rebuild a FoldResult from stored seal bytes and its normalized log (the seal must match the log)."""
    import orjson

    seal = orjson.loads(raw_seal)
    if seal["window"]["window_id"] != intake.window.window_id or seal["window"]["tenant_id"] != tenant_id:
        raise ValueError("stored seal belongs to another window or tenant")
    allocations = [Allocation(**a) for a in seal["allocations"]]
    return FoldResult(intake.window, intake.policy, tenant_id, intake.kept, intake.rejects, allocations, seal,
                      raw_seal, sha256_hex(raw_seal), seal["trailer"]["input_digest"], intake.input_files,
                      dict(intake.prior))


CANONICAL_EVENT_SCHEMA = {"event_id": pl.String, "ts_occurred": pl.String, "principal_id": pl.String,
                          "amount_minor": pl.Int64, "source_type": pl.String, "currency": pl.String}


def canonical_events_bytes(events: pl.DataFrame) -> bytes:
    """RFC 8785 bytes of the JSON array of canonical events (the six SPEC §1 columns), built column-wise."""
    if events.height == 0:
        return b"[]"
    return b"".join(leaf_pieces(_row_bytes(events.select(list(FIELDS)), None)))


def events_from_canonical_bytes(data: bytes) -> pl.DataFrame:
    """Parse an RFC 8785 array of canonical events; anything that does not round-trip byte for byte is refused."""
    import io

    if data == b"[]":
        return pl.DataFrame(schema=CANONICAL_EVENT_SCHEMA)
    try:
        df = pl.read_json(io.BytesIO(data), schema=CANONICAL_EVENT_SCHEMA)
    except Exception as exc:  # noqa: BLE001 - polars raises several types for malformed JSON
        raise ValueError(f"not an array of canonical events: {str(exc).splitlines()[0]}") from None
    if canonical_events_bytes(df) != data:
        raise ValueError("not the RFC 8785 form of its events (extra or missing fields, other types or order)")
    return df
