"""The canonical rows of SPEC §1 built column-wise, and where they go: canonical timestamp strings, each chunk's
RFC 8785 row bytes taken from Arrow buffers without per-row Python objects, the input digest hashed in fold order,
and the segment spool that writes each chunk as a transcript segment on writer threads (v1 JSON or v2 Parquet).

Split from `vgos.fold` so the fold reads as SPEC §3–5; the fold, the bucketed fold and replay share these rows.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
from polars import CompatLevel

from vgos.canonical import json_string
from vgos.progress import Progress
from vgos.string_bytes import block_has, has_bytes, value_blocks, view_buffers

_PARALLEL_MIN = 1_000_000  # below this many rows, splitting work across threads does not pay
_BUILD_THREADS = 2


_US_DAY = 86_400_000_000
_TS_SLICE = 2_000_000
_HMS: pl.Series | None = None
_FRAC: pl.Series | None = None


def _ts_tables() -> tuple[pl.Series, pl.Series]:
    """"HH:MM:SS" of every second of a day, and ".ffffffZ" of every microsecond ("Z" for 0), built once."""
    global _HMS, _FRAC
    if _HMS is None or _FRAC is None:
        sec = pl.int_range(0, 86_400, eager=True)
        two = lambda e: e.cast(pl.String).str.zfill(2)  # noqa: E731
        _HMS = pl.select(pl.concat_str([two(sec // 3600), two(sec // 60 % 60), two(sec % 60)],
                                       separator=":")).to_series()
        digits = pl.int_range(1_000_000, 2_000_000).cast(pl.String).str.slice(1)  # "000000".."999999", no padding
        _FRAC = pl.select(pl.concat_str([pl.lit("."), digits, pl.lit("Z")])).to_series().scatter(0, "Z")
    return _HMS, _FRAC


_DAY_SPAN = 8  # a slice within this many calendar days takes its date and time of day from one table
TS_TABLE_MIN = 50_000  # from this many timestamps on, `_ts_strings` renders them from `_ts_tables`


@functools.lru_cache(maxsize=8)
def _day_prefixes(day: int) -> pl.Series:
    """"YYYY-MM-DDTHH:MM:SS" of every second of one day (days since the epoch): one lookup instead of three."""
    hms, _ = _ts_tables()
    name = pl.Series([day * _US_DAY]).cast(pl.Datetime("us", "UTC")).dt.strftime("%Y-%m-%dT")[0]
    return pl.select(pl.lit(name) + pl.lit(hms)).to_series()


def _ts_strings(ts_us: pl.Series) -> pl.Series:
    """Canonical SPEC §1 strings of epoch microseconds: the date and time of day looked up per second, the fraction
    per microsecond (no per-value formatting), in slices on two threads; `_ts_strings_strftime` gives the same."""
    n = len(ts_us)
    if n < TS_TABLE_MIN or ts_us.null_count():
        return _ts_strings_strftime(ts_us)
    if n <= _TS_SLICE and n < _PARALLEL_MIN:
        return _ts_slice_strings(ts_us)
    pieces = -(-n // _TS_SLICE)
    pieces += pieces % 2  # an even count keeps both threads busy to the end
    size = -(-n // pieces)
    with ThreadPoolExecutor(max_workers=2) as pool:  # polars builds each slice's strings on one thread
        parts = list(pool.map(_ts_slice_strings, [ts_us.slice(i, size) for i in range(0, n, size)]))
    out = parts[0]
    for part in parts[1:]:
        out.append(part)
    return out


def _ts_slice_strings(ts_us: pl.Series) -> pl.Series:
    """`_ts_strings` of one slice without nulls: two table lookups joined, or three when it spans many days."""
    hms, frac = _ts_tables()
    secs = ts_us // 1_000_000  # floor division: the fraction below is in 0..999999 before 1970 too
    first, last = int(secs.min()) // 86_400, int(secs.max()) // 86_400  # type: ignore[arg-type]
    frame = pl.DataFrame({"sec": secs, "micro": ts_us - secs * 1_000_000})
    del secs
    if last - first < _DAY_SPAN:
        table = pl.concat([_day_prefixes(d) for d in range(first, last + 1)], rechunk=True)
        prefix = pl.lit(table).gather(pl.col("sec") - first * 86_400)
    else:
        day = pl.col("sec") // 86_400
        days = (frame["sec"] // 86_400).unique().sort()
        names = (days * _US_DAY).cast(pl.Datetime("us", "UTC")).dt.strftime("%Y-%m-%dT")
        prefix = pl.concat_str([day.replace_strict(days, names, return_dtype=pl.String),
                                pl.lit(hms).gather(pl.col("sec") - day * 86_400)])
    return frame.select((prefix + pl.lit(frac).gather(pl.col("micro"))).alias("ts_occurred")).to_series()


def _ts_strings_strftime(ts_us: pl.Series) -> pl.Series:
    """Canonical SPEC §1 strings of epoch microseconds: one strftime pass, the minority format patched in place."""
    dt_col = ts_us.cast(pl.Datetime("us", "UTC"))
    whole = (ts_us % 1_000_000) == 0
    n_whole = int(whole.sum())
    frac_fmt, whole_fmt = "%Y-%m-%dT%H:%M:%S%.6fZ", "%Y-%m-%dT%H:%M:%SZ"
    major, minor, minor_mask = (
        (whole_fmt, frac_fmt, ~whole) if 2 * n_whole > len(ts_us) else (frac_fmt, whole_fmt, whole)
    )
    n = len(ts_us)
    if n >= _PARALLEL_MIN:  # strftime runs on one thread per call: format two halves side by side
        half = n // 2
        with ThreadPoolExecutor(max_workers=2) as pool:
            parts = list(pool.map(lambda s: s.dt.strftime(major), [dt_col.slice(0, half), dt_col.slice(half)]))
        out = parts[0].append(parts[1])
    else:
        out = dt_col.dt.strftime(major)
    if minor_mask.any():
        idx = minor_mask.arg_true()
        out = out.scatter(idx, dt_col.gather(idx).dt.strftime(minor))
    return out.alias("ts_occurred")


_ESCAPED = ['"', "\\", *(chr(i) for i in range(32))]
_ESCAPED_ASCII = b'"\\'  # with every byte below 0x20: what RFC 8785 escapes, as bytes


def _needs_escape(col: pl.Series) -> bool:
    """True when some value has a character RFC 8785 escapes (quote, backslash, control): a byte scan of the values
    (`string_bytes.has_bytes`; these characters are all ASCII), a per-value search when the column has nulls."""
    if col.null_count():
        return bool(col.str.contains_any(_ESCAPED).any())
    return has_bytes(col, below=0x20, among=_ESCAPED_ASCII)


def _json_str_col(df: pl.DataFrame, name: str) -> pl.Expr:
    """RFC 8785 string form of a column; escaping is done per value only when some value needs it."""
    if _needs_escape(df[name]):
        return pl.col(name).map_elements(json_string, return_dtype=pl.String)
    return pl.lit('"') + pl.col(name) + pl.lit('"')


def _row_expr(chunk: pl.DataFrame, escape: bool, currency: str | None = None) -> pl.Expr:
    """One canonical row plus a ',' separator.

    `escape=False` assumes that no event_id/principal_id needs escaping (quotes go into the literal parts), and a
    given `currency` stands for a column whose every value is that string; the caller checks the result bytes.
    """
    if escape:
        return pl.concat_str(
            [
                pl.lit('{"amount_minor":'), pl.col("amount_minor").cast(pl.String),
                pl.lit(',"currency":"'), pl.col("currency"),
                pl.lit('","event_id":'), _json_str_col(chunk, "event_id"),
                pl.lit(',"principal_id":'), _json_str_col(chunk, "principal_id"),
                pl.lit(',"source_type":"'), pl.col("source_type"),
                pl.lit('","ts_occurred":"'), pl.col("ts_occurred"), pl.lit('"},'),
            ]
        ).alias("row")
    head = (
        [pl.lit(',"currency":"' + currency + '","event_id":"')] if currency is not None
        else [pl.lit(',"currency":"'), pl.col("currency"), pl.lit('","event_id":"')]
    )
    return pl.concat_str(
        [
            pl.lit('{"amount_minor":'), pl.col("amount_minor").cast(pl.String), *head, pl.col("event_id"),
            pl.lit('","principal_id":"'), pl.col("principal_id"),
            pl.lit('","source_type":"'), pl.col("source_type"),
            pl.lit('","ts_occurred":"'), pl.col("ts_occurred"), pl.lit('"},'),
        ]
    ).alias("row")


def _compact(chunk: pl.DataFrame, currency: str | None = None, known: frozenset[str] = frozenset()
             ) -> tuple[pl.DataFrame, bool]:
    """The chunk with its id strings copied next to each other in row order, and whether the rows can be built
    without escaping (`_plain_values`; a constant `currency` stands for that column; the per-event string columns
    in `known` are not checked: the caller rendered them, `_RENDERED_PLAIN`).

    After the fold-order sort, each id is a view into the input's buffers at a random place; building the rows and
    encoding the segment would each pay a cache miss per id. One copy here pays it once (same values, same bytes):
    Arrow's cast to 64-bit offsets copies the values in order, and polars takes that layout back without a copy.
    An id column whose every value fits in its view (12 bytes or fewer) is not copied: no view points anywhere.
    The copies are also where the escape check is cheapest: a few bytes a value, not the whole rows.
    """
    copied = {c: chunk[c].to_arrow() for c in _IDS if c not in known and _out_of_line(chunk[c])}
    plain = (all(_plain_data(a) for a in copied.values())
             and all(_plain_strings(chunk[c]) for c in _LONG_STRINGS if c not in copied and c not in known)
             and _plain_small(chunk, currency))
    if not copied:
        return chunk, plain
    return chunk.with_columns([pl.Series(c, a, dtype=pl.String) for c, a in copied.items()]), plain


def _out_of_line(col: pl.Series) -> bool:
    """True when some value of a string column is longer than the 12 bytes a string view holds in itself."""
    return bool(len(col)) and (col.str.len_bytes().max() or 0) > 12  # type: ignore[operator]


_IDS = ("event_id", "principal_id")  # the strings `_compact` copies
_LONG_STRINGS = (*_IDS, "ts_occurred")  # per-event strings, checked byte-wise
_SMALL_STRINGS = ("source_type", "currency")  # a handful of distinct values a window, checked one by one


def _plain_data(arr: pa.Array | pa.ChunkedArray) -> bool:
    """True when no value of a string array holds a quote, a backslash or a control character (RFC 8785 escapes
    exactly these), checked on its value bytes in one block per Arrow chunk (`string_bytes.value_blocks`)."""
    parts = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if any(part.null_count for part in parts):
        return False
    return not any(block_has(b, 0x20, _ESCAPED_ASCII) for b in value_blocks(arr))


def _plain_strings(col: pl.Series) -> bool:
    """`_plain_data` of a polars string column, exported without a copy where its layout allows."""
    return _plain_data(col.to_arrow(compat_level=CompatLevel.newest()))


def _plain_small(chunk: pl.DataFrame, currency: str | None = None) -> bool:
    """`_plain_data` for the low-cardinality string columns present (a byte scan of their values: cheaper than
    finding their distinct values first); a constant `currency` is checked instead of that column (the rows take
    the constant)."""
    if currency is not None and _needs_escape(pl.Series([currency])):
        return False
    # values of a few bytes, mostly inline in their views: scanned a slice at a time (`_needs_escape`), which is
    # cheaper for them than `_plain_strings`'s export of the whole column
    return not any(chunk[c].null_count() or _needs_escape(chunk[c]) for c in _SMALL_STRINGS
                   if c in chunk.columns and not (c == "currency" and currency is not None))


def _plain_values(chunk: pl.DataFrame, currency: str | None) -> bool:
    """True when rows built with `escape=False` are exact: no string value in them needs escaping (the constant
    `currency` included)."""
    return all(_plain_strings(chunk[c]) for c in _LONG_STRINGS) and _plain_small(chunk, currency)


def _build_chunk(chunk: pl.DataFrame, currency: str | None, known: frozenset[str] = frozenset()
                 ) -> tuple[list[Any], pl.DataFrame]:
    """(row buffers, the compacted chunk) of one chunk of kept events: what the input digest and the spool need
    (`known`: see `_compact`)."""
    chunk, plain = _compact(chunk, currency, known)
    return _row_bytes(chunk, currency, plain=plain), chunk


# What no chunk of an `OrderedSource` needs checked for escaping: the timestamps it renders itself (digits and
# '-', 'T', ':', '.', 'Z' only; `_ts_strings`).
_RENDERED_PLAIN = frozenset({"ts_occurred"})


def _row_bytes(chunk: pl.DataFrame, currency: str | None, *, plain: bool | None = None) -> list[Any]:
    """Buffers whose concatenation is the chunk's canonical rows, each followed by a ',' separator. `plain`: whether
    the values need no escaping, when the caller knows (`_plain_values`); else it is checked here."""
    if plain is None:
        plain = _plain_values(chunk, currency)
    if plain:
        return _row_buffers(chunk.select(_row_expr(chunk, escape=False, currency=currency))["row"])
    return _row_buffers(chunk.select(_row_expr(chunk, escape=True))["row"])


def _row_buffers(rows: pl.Series) -> list[Any]:
    """Buffers holding the values of a string column back to back, in order (zero-copy when the layout allows)."""
    out: list[Any] = []
    exported = rows.to_arrow(compat_level=CompatLevel.newest())
    for arr in exported.chunks if isinstance(exported, pa.ChunkedArray) else [exported]:
        bufs = view_buffers(arr)
        if bufs is None:  # not a plain view layout: copy to an offset layout and slice that
            large = arr.cast(pa.large_string())
            _, offsets, data = large.buffers()
            offs = np.frombuffer(offsets, dtype=np.int64)
            first, last = int(offs[large.offset]), int(offs[large.offset + len(large)])
            bufs = [memoryview(data)[first:last]] if last > first else []
        out.extend(b for b in bufs if memoryview(b).nbytes)  # an empty last buffer would hide the trailing ','
    return out


def rows_pieces(bufs: list[Any]) -> list[Any]:
    """The rows of row buffers (each row followed by ',') joined by commas: the last row's ',' left out, nothing
    joined or copied."""
    return [*bufs[:-1], memoryview(bufs[-1])[:-1]] if bufs else []


def leaf_pieces(bufs: list[Any]) -> list[Any]:
    """A chunk's RFC 8785 array (its Merkle leaf, the v1 segment) from its row buffers: `[`, `rows_pieces`, `]`."""
    return [b"[", *rows_pieces(bufs), b"]"]


def hash_pieces(pieces: list[Any]) -> tuple[str, int]:
    """(SHA-256 hex, size) of buffers taken back to back."""
    h = hashlib.sha256()
    for piece in pieces:
        h.update(piece)
    return h.hexdigest(), sum(memoryview(p).nbytes for p in pieces)


@dataclass(frozen=True)
class SpooledSegment:
    """A normalized_input segment the fold already wrote to a file: `sha256`/`size` of its canonical RFC 8785
    array (the Merkle leaf), and for a Parquet-encoded one (transcript v2) the stored file's own hash, size, rows."""

    path: Path
    sha256: str
    size: int
    encoding: str | None = None  # None: the file holds the canonical JSON bytes themselves (v1)
    stored_sha256: str = ""
    stored_size: int = 0
    rows: int = 0


class _SegmentSpool:
    """Stores each chunk of the normalized input as a transcript segment while the input digest is computed: the
    chunk's canonical RFC 8785 array is hashed (its Merkle leaf) and either written as it is (v1) or, with
    `encoding="parquet"` (v2), the chunk is written as a strict Parquet segment, and normalized.parquet is then
    their concatenation (no second encode). `store` runs on the thread that built the chunk (v2); `add` queues a
    chunk for a writer thread (v1). Files are fsynced on I/O threads, so no builder waits for the disk; `finish`
    returns once every file is synced."""

    _IN_FLIGHT = 4
    _SYNC_EVERY = 32 << 20  # normalized.parquet is synced each time this many more bytes were appended

    def __init__(self, folder: Path, encoding: str | None = None) -> None:
        self.folder = folder
        self.encoding = encoding
        self._pool = ThreadPoolExecutor(max_workers=1 if encoding is None else 2)  # v2 `add`: encode on two
        self._syncs = ThreadPoolExecutor(max_workers=2)
        self._futures: list[Any] = []
        self._synced: list[Any] = []
        self.output: Path | None = None  # normalized.parquet, made of the Parquet segments by `finish`
        # v2: each segment is appended to normalized.parquet (in order, on one thread) as soon as it is written,
        # and the file is synced as it grows, so the outputs' fsync at the end finds it nearly clean instead of
        # writing 120 MB (at 5M events) while every other output waits for the disk.
        self._joined: Any = None
        self._joiner: ThreadPoolExecutor | None = None
        self._joins: list[Any] = []
        self._unsynced = 0

    def add(self, bufs: list[Any], chunk: pl.DataFrame | None = None) -> None:
        """Queue one chunk: buffers whose concatenation is its rows, each followed by a ',' separator (and, for a
        Parquet spool, the chunk's canonical columns)."""
        if len(self._futures) > self._IN_FLIGHT:
            self._futures[-self._IN_FLIGHT - 1].result()  # back pressure: wait for an older chunk
        self._futures.append(self._pool.submit(self._write, len(self._futures), bufs, chunk))
        self._join_later(self._futures[-1])

    def stored(self, segment: SpooledSegment) -> None:
        """Take a segment that a builder thread stored with `store` (in chunk order)."""
        done: Future[SpooledSegment] = Future()
        done.set_result(segment)
        self._futures.append(done)
        self._join_later(done)

    def _join_later(self, segment: Future[SpooledSegment]) -> None:
        """Append a v2 segment to normalized.parquet once it is written (one thread: chunk order is kept)."""
        if self.encoding is None:
            return
        if self._joiner is None:
            from vgos.parquet_concat import LenientConcatenation

            self._joined = LenientConcatenation(self.folder / "normalized.parquet")
            self._joiner = ThreadPoolExecutor(max_workers=1)
        self._joins.append(self._joiner.submit(self._join, segment))

    def _join(self, segment: Future[SpooledSegment]) -> None:
        seg = segment.result()
        self._unsynced += self._joined.add(seg.path)
        if self._unsynced >= self._SYNC_EVERY:
            self._joined.sync()
            self._unsynced = 0

    def _write_file(self, path: Path, pieces: list[Any]) -> None:
        """Write a segment file; it is fsynced and closed on an I/O thread (`finish` waits for it), so the thread
        that built the chunk never waits for the disk."""
        fh = open(path, "wb")  # noqa: SIM115 - closed by the sync thread
        try:
            for piece in pieces:
                fh.write(piece)
            fh.flush()
        except BaseException:
            fh.close()
            raise

        def sync() -> None:
            try:
                os.fsync(fh.fileno())
            finally:
                fh.close()
        self._synced.append(self._syncs.submit(sync))

    def _write(self, i: int, bufs: list[Any], chunk: pl.DataFrame | None) -> SpooledSegment:
        if self.encoding is not None:
            assert chunk is not None
            return self.store(i, bufs, chunk)
        pieces = leaf_pieces(bufs)
        sha, size = hash_pieces(pieces)
        path = self.folder / f"normalized_input-{i:05d}"
        self._write_file(path, pieces)
        return SpooledSegment(path, sha, size)

    def store(self, i: int, bufs: list[Any], chunk: pl.DataFrame) -> SpooledSegment:
        """Hash chunk i's leaf and write it as a strict Parquet segment (transcript v2)."""
        from vgos import segment_parquet

        sha, size = hash_pieces(leaf_pieces(bufs))
        data = segment_parquet.encode_buffer(segment_parquet.to_arrow(chunk))
        path = self.folder / f"normalized_input-{i:05d}.parquet"
        self._write_file(path, [data])
        return SpooledSegment(path, sha, size, segment_parquet.ENCODING, hashlib.sha256(data).hexdigest(),
                              data.size, chunk.height)

    def finish(self) -> list[SpooledSegment]:
        """Every segment, in order, once all are written, synced and (v2) appended to normalized.parquet, which is
        then closed (`_join_later` appended each one as soon as it was written)."""
        segments: list[SpooledSegment] = []
        try:
            for f in self._futures:
                segments.append(f.result())
            for j in self._joins:
                j.result()
            # None: the outputs write normalized.parquet from `kept`
            self.output = self._joined.close() if self._joined is not None else None
            for synced in self._synced:
                synced.result()
        finally:
            if self._joiner is not None:
                self._joiner.shutdown(wait=True, cancel_futures=True)
            if self._joined is not None:  # a segment failed: no half-written normalized.parquet is left
                self._joined.abort()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._syncs.shutdown(wait=True)
        return segments


@dataclass(frozen=True)
class OrderedSource:
    """Kept events not yet gathered: the rows `order` of `body` (its columns but `ts_occurred`, and `currency` when
    that is the constant `currency`), in fold order, with their epoch-µs instants `ts_us`. `chunk` assembles the
    canonical columns of a range of them, so each worker gathers, renders and writes its own chunk and the whole
    kept frame is never built."""

    body: pl.DataFrame
    order: np.ndarray
    ts_us: np.ndarray
    currency: str | None
    fields: tuple[str, ...]

    @property
    def rows(self) -> int:
        return len(self.order)

    def chunk(self, start: int, length: int) -> pl.DataFrame:
        """The canonical columns (in `fields` order) of kept events start … start+length−1."""
        at = pl.Series(self.order[start:start + length], dtype=pl.get_index_type())
        strings = _ts_strings(pl.Series("ts_us", self.ts_us[start:start + length]))
        return _assemble(self.body[at], strings, self.currency, self.fields)


def _assemble(body: pl.DataFrame, strings: pl.Series, currency: str | None, fields: Sequence[str]) -> pl.DataFrame:
    """Canonical columns in field order from gathered rows, their timestamp strings and the constant currency."""
    extra = [] if currency is None else [pl.lit(currency, dtype=pl.String).alias("currency")]
    return body.with_columns(strings.alias("ts_occurred"), *extra).select(list(fields))


def _input_digest(kept: pl.DataFrame | OrderedSource, progress: Progress, spool: _SegmentSpool | None = None,
                  step: int = 250_000) -> str:
    """SHA-256 of the RFC 8785 array of kept canonical events in fold order, hashed chunk by chunk; `kept` is the
    events as one frame, or an `OrderedSource` whose chunks the workers assemble themselves.

    Each row's canonical bytes (plus a separator) are built column-wise; the Arrow data buffers of a chunk then hold
    exactly the concatenation of its rows, so they are hashed in place, in order, while worker threads build the
    next chunks, without joining strings in Python.
    """
    h = hashlib.sha256(b"[")
    known: frozenset[str] = frozenset()
    if isinstance(kept, OrderedSource):
        source = kept
        n = source.rows
        currency = source.currency
        known = _RENDERED_PLAIN
    else:
        frame = kept
        n = frame.height
        currency = None
        if n and frame["currency"].null_count() == 0:
            lo, hi = frame.select(pl.col("currency").min().alias("lo"),
                                  pl.col("currency").max().alias("hi")).row(0)
            currency = lo if lo == hi else None
        source = None

    def feed(bufs: list[Any], first: bool) -> None:
        if not first:
            h.update(b",")
        for b in rows_pieces(bufs):
            h.update(b)

    # Chunks are built (and, for a v2 spool, stored) by worker threads, which polars, hashlib and file writes let
    # run without the GIL, and hashed here, strictly in order; one more chunk than workers is in flight, so no worker
    # waits while this thread hashes.
    store = spool is not None and spool.encoding is not None

    def work(i: int, start: int) -> tuple[list[Any], pl.DataFrame | None, SpooledSegment | None]:
        part = source.chunk(start, step) if source is not None else frame.slice(start, step)
        bufs, chunk = _build_chunk(part, currency, known)
        if store:
            assert spool is not None
            return bufs, None, spool.store(i, bufs, chunk)
        return bufs, chunk, None

    with ThreadPoolExecutor(max_workers=_BUILD_THREADS) as pool:
        pending: deque[Any] = deque()
        starts = enumerate(range(0, n, step))
        for i, start in starts:
            pending.append((start, pool.submit(work, i, start)))
            if len(pending) > _BUILD_THREADS:
                break
        while pending:
            start, fut = pending.popleft()
            bufs, chunk, segment = fut.result()
            feed(bufs, start == 0)
            if segment is not None:
                assert spool is not None
                spool.stored(segment)
            elif spool is not None:
                spool.add(bufs, None)
            del fut, bufs, chunk
            nxt = next(starts, None)
            if nxt is not None:
                pending.append((nxt[1], pool.submit(work, *nxt)))
            if n > step:
                progress("hashing input", min(start + step, n), n)
    h.update(b"]")
    return h.hexdigest()
