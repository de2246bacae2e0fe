"""The canonical rows of SPEC §1 built column-wise, and where they go: canonical timestamp strings, each chunk's
RFC 8785 row bytes taken from Arrow buffers without per-row Python objects, the input digest hashed in fold order,
and the segment spool that writes each chunk as a transcript segment on writer threads (v1 JSON or v2 Parquet).

Split from `vgos.fold` so the fold reads as SPEC §3–5; the fold, the bucketed fold and replay share these rows.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
from polars import CompatLevel

from vgos.canonical import json_string
from vgos.progress import Progress

_PARALLEL_MIN = 1_000_000  # below this many rows, splitting work across threads does not pay
_BUILD_THREADS = 2


_US_DAY = 86_400_000_000
_TS_SLICE = 2_000_000
_HMS: pl.Series | None = None
_FRAC: pl.Series | None = None


def _ts_tables() -> tuple[pl.Series, pl.Series]:
    """"HH:MM:SS" of every second of a day, and ".ffffff" of every microsecond ("" for 0), built once."""
    global _HMS, _FRAC
    if _HMS is None or _FRAC is None:
        sec = pl.int_range(0, 86_400, eager=True)
        two = lambda e: e.cast(pl.String).str.zfill(2)  # noqa: E731
        _HMS = pl.select(pl.concat_str([two(sec // 3600), two(sec // 60 % 60), two(sec % 60)],
                                       separator=":")).to_series()
        frac = pl.int_range(0, 1_000_000, eager=True)
        _FRAC = pl.select(pl.when(frac == 0).then(pl.lit("")).otherwise(
            pl.lit(".") + frac.cast(pl.String).str.zfill(6))).to_series()
    return _HMS, _FRAC


def _ts_strings(ts_us: pl.Series) -> pl.Series:
    """Canonical SPEC §1 strings of epoch microseconds: the date of each distinct day formatted once, the time of
    day and the fraction looked up in tables (no per-value formatting); `_ts_strings_strftime` gives the same."""
    if len(ts_us) < 50_000 or ts_us.null_count():
        return _ts_strings_strftime(ts_us)
    if len(ts_us) > _TS_SLICE:  # in slices, so the integer temporaries stay small beside the strings
        parts = [_ts_strings(ts_us.slice(i, _TS_SLICE)) for i in range(0, len(ts_us), _TS_SLICE)]
        out = parts[0]
        for part in parts[1:]:
            out.append(part)
        return out
    hms, frac = _ts_tables()
    day = ts_us // _US_DAY
    rest = ts_us - day * _US_DAY
    days = day.unique().sort()
    names = (days * _US_DAY).cast(pl.Datetime("us", "UTC")).dt.strftime("%Y-%m-%d")
    frame = pl.DataFrame({"day": day, "sec": rest // 1_000_000, "micro": rest % 1_000_000})
    return frame.select(pl.concat_str([
        pl.col("day").replace_strict(days, names, return_dtype=pl.String), pl.lit("T"),
        pl.lit(hms).gather(pl.col("sec")), pl.lit(frac).gather(pl.col("micro")), pl.lit("Z"),
    ]).alias("ts_occurred")).to_series()


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


def _needs_escape(col: pl.Series) -> bool:
    """True when some value has a character RFC 8785 escapes (quote, backslash, control)."""
    return bool(col.str.contains_any(_ESCAPED).any())


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


_ROW_QUOTES = 22  # '"' characters of one row's literal parts when no value contains one


def _plain_bytes(bufs: list[Any], rows: int) -> bool:
    """True when rows built with `escape=False` are exact: no value added a quote, a backslash or a control byte.

    Values can only add quote characters to the literal ones, so an exact count proves that neither event_id nor
    principal_id holds a character RFC 8785 escapes (and so that their plain quoting is their canonical form).
    """
    quotes = 0
    for b in bufs:
        arr = np.frombuffer(b, dtype=np.uint8)
        if not arr.size:
            continue
        if int(arr.min()) < 0x20 or np.count_nonzero(arr == 0x5C):
            return False
        quotes += int(np.count_nonzero(arr == 0x22))
    return quotes == _ROW_QUOTES * rows


def _view_buffers(arr: pa.Array) -> list[Any] | None:
    """Data buffers of a string-view array when they hold exactly its values back to back, in order; else None."""
    if not pa.types.is_string_view(arr.type) or arr.null_count or len(arr) == 0:
        return None
    bufs = arr.buffers()
    views = np.frombuffer(bufs[1], dtype=np.uint32).reshape(-1, 4)[arr.offset:arr.offset + len(arr)]
    data = bufs[2:]
    lens = views[:, 0].astype(np.int64)
    if int(lens.min()) <= 12:  # inline values are not in the data buffers
        return None
    sizes = np.array([b.size for b in data], dtype=np.int64)
    starts = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    pos = starts[views[:, 2].astype(np.int64)] + views[:, 3].astype(np.int64)
    ends = pos + lens
    if pos[0] != 0 or ends[-1] != starts[-1] or not np.array_equal(pos[1:], ends[:-1]):
        return None
    return list(data)


def _row_bytes(chunk: pl.DataFrame, currency: str | None) -> list[Any]:
    """Buffers whose concatenation is the chunk's canonical rows, each followed by a ',' separator."""
    bufs = _row_buffers(chunk.select(_row_expr(chunk, escape=False, currency=currency))["row"])
    if _plain_bytes(bufs, chunk.height):
        return bufs
    return _row_buffers(chunk.select(_row_expr(chunk, escape=True))["row"])


def _row_buffers(rows: pl.Series) -> list[Any]:
    """Buffers holding the values of a string column back to back, in order (zero-copy when the layout allows)."""
    out: list[Any] = []
    exported = rows.to_arrow(compat_level=CompatLevel.newest())
    for arr in exported.chunks if isinstance(exported, pa.ChunkedArray) else [exported]:
        bufs = _view_buffers(arr)
        if bufs is None:  # not a plain view layout: copy to an offset layout and slice that
            large = arr.cast(pa.large_string())
            _, offsets, data = large.buffers()
            offs = np.frombuffer(offsets, dtype=np.int64)
            first, last = int(offs[large.offset]), int(offs[large.offset + len(large)])
            bufs = [memoryview(data)[first:last]] if last > first else []
        out.extend(b for b in bufs if memoryview(b).nbytes)  # an empty last buffer would hide the trailing ','
    return out


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
    """Stores each chunk of the normalized input as a transcript segment on a writer thread while the input digest
    is computed: the chunk's canonical RFC 8785 array is hashed (its Merkle leaf) and either written as it is (v1)
    or, with `encoding="parquet"` (v2), the chunk is written as a strict Parquet segment (on two threads), and
    normalized.parquet is then their concatenation (no second encode); at most `_IN_FLIGHT` chunks wait."""

    _IN_FLIGHT = 4

    def __init__(self, folder: Path, encoding: str | None = None) -> None:
        self.folder = folder
        self.encoding = encoding
        self._pool = ThreadPoolExecutor(max_workers=1 if encoding is None else 2)
        self._futures: list[Any] = []
        self.output: Path | None = None  # normalized.parquet, made of the Parquet segments by `finish`

    def add(self, bufs: list[Any], chunk: pl.DataFrame | None = None) -> None:
        """Queue one chunk: buffers whose concatenation is its rows, each followed by a ',' separator (and, for a
        Parquet spool, the chunk's canonical columns)."""
        if len(self._futures) > self._IN_FLIGHT:
            self._futures[-self._IN_FLIGHT - 1].result()  # back pressure: wait for an older chunk
        self._futures.append(self._pool.submit(self._write, len(self._futures), bufs, chunk))

    def _write(self, i: int, bufs: list[Any], chunk: pl.DataFrame | None) -> SpooledSegment:
        pieces = [b"[", *bufs[:-1], memoryview(bufs[-1])[:-1], b"]"] if bufs else [b"[]"]
        h = hashlib.sha256()
        size = 0
        if self.encoding is None:
            path = self.folder / f"normalized_input-{i:05d}"
            with open(path, "wb") as fh:
                for piece in pieces:
                    h.update(piece)
                    fh.write(piece)
                    size += len(piece)
                fh.flush()
                os.fsync(fh.fileno())
            return SpooledSegment(path, h.hexdigest(), size)
        from vgos import segment_parquet

        assert chunk is not None
        for piece in pieces:
            h.update(piece)
            size += memoryview(piece).nbytes
        data = segment_parquet.encode(segment_parquet.to_arrow(chunk))
        path = self.folder / f"normalized_input-{i:05d}.parquet"
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return SpooledSegment(path, h.hexdigest(), size, segment_parquet.ENCODING, hashlib.sha256(data).hexdigest(),
                              len(data), chunk.height)

    def finish(self) -> list[SpooledSegment]:
        """Every segment, in order, once all are written (and normalized.parquet closed)."""
        try:
            segments = [f.result() for f in self._futures]
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self.encoding is not None and segments:
            from vgos.parquet_concat import ParquetConcatError, concat_files

            try:
                concat_files([s.path for s in segments], self.folder / "normalized.parquet")
                self.output = self.folder / "normalized.parquet"
            except (ParquetConcatError, OSError, IndexError, ValueError):
                self.output = None  # the outputs then write normalized.parquet from `kept`
        return segments


def _input_digest(kept: pl.DataFrame, progress: Progress, spool: _SegmentSpool | None = None,
                  step: int = 250_000) -> str:
    """SHA-256 of the RFC 8785 array of kept canonical events in fold order, hashed chunk by chunk.

    Each row's canonical bytes (plus a separator) are built column-wise; the Arrow data buffers of a chunk then hold
    exactly the concatenation of its rows, so they are hashed in place, in order, while worker threads build the
    next chunks, without joining strings in Python.
    """
    h = hashlib.sha256(b"[")
    n = kept.height

    def feed(bufs: list[Any], first: bool) -> None:
        if not first:
            h.update(b",")
        if not bufs:
            return
        for b in bufs[:-1]:
            h.update(b)
        h.update(memoryview(bufs[-1])[:-1])  # drop this chunk's trailing separator

    currency = None
    if n and kept["currency"].null_count() == 0:
        lo, hi = kept.select(pl.col("currency").min().alias("lo"), pl.col("currency").max().alias("hi")).row(0)
        currency = lo if lo == hi else None
    # Chunks are built by worker threads (polars releases the GIL) and hashed here, strictly in order.
    with ThreadPoolExecutor(max_workers=_BUILD_THREADS) as pool:
        pending: deque[Any] = deque()
        starts = iter(range(0, n, step))
        for start in starts:
            pending.append((start, pool.submit(_row_bytes, kept.slice(start, step), currency)))
            if len(pending) >= _BUILD_THREADS:
                break
        while pending:
            start, fut = pending.popleft()
            bufs = fut.result()
            feed(bufs, start == 0)
            if spool is not None:
                spool.add(bufs, kept.slice(start, step) if spool.encoding else None)
            del fut, bufs
            nxt = next(starts, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_row_bytes, kept.slice(nxt, step), currency)))
            if n > step:
                progress("hashing input", min(start + step, n), n)
    h.update(b"]")
    return h.hexdigest()
