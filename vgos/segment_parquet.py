"""The Parquet encoding of a `normalized_input` segment (transcript v2): a fixed, strict schema from which a verifier
rebuilds the exact RFC 8785 rows of SPEC §1, so the stored object can be columnar while the Merkle leaf stays the
canonical JSON array (docs/transcript.md).

Schema (column order fixed, every column REQUIRED, no other column, no nested or repeated field):

    event_id      BYTE_ARRAY  String  (UTF-8)
    ts_occurred   BYTE_ARRAY  String  (the canonical SPEC §1 string, e.g. 2025-09-23T11:00:00Z)
    principal_id  BYTE_ARRAY  String
    amount_minor  INT64       (no logical type; abs(value) <= 2^53-1)
    source_type   BYTE_ARRAY  String
    currency      BYTE_ARRAY  String

`ts_occurred` is stored as its canonical string: the leaf is built from that string, so storing it verbatim is
what reproduces the canonical bytes exactly (no time-zone or precision conversion stands between them).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars import CompatLevel

ENCODING = "parquet"
COLUMNS = ("event_id", "ts_occurred", "principal_id", "amount_minor", "source_type", "currency")
ARROW_SCHEMA = pa.schema([pa.field(c, pa.int64() if c == "amount_minor" else pa.string(), nullable=False)
                          for c in COLUMNS])  # what a segment decodes to
# What the encoder is given: the same columns as string views, the layout polars holds them in (exported without a
# copy); the Parquet bytes do not record the Arrow string layout (no Arrow schema is stored), so every layout
# writes the same bytes and reads back as ARROW_SCHEMA.
WRITE_SCHEMA = pa.schema([pa.field(c, pa.int64() if c == "amount_minor" else pa.string_view(), nullable=False)
                          for c in COLUMNS])
# (physical type, logical type as pyarrow names it) of each column in the Parquet schema itself
_PHYSICAL = {c: ("INT64", "None") if c == "amount_minor" else ("BYTE_ARRAY", "String") for c in COLUMNS}
MAX_SAFE = 2**53 - 1
# Encoder settings (the stored bytes depend on them, the leaves never do), chosen for the fold's speed and the
# verifier's: the two per-event strings whose neighbours differ (event_id, ts_occurred) PLAIN and LZ4-compressed
# (LZ4_RAW): a quarter less time to encode and a fifth less to decode than DELTA_BYTE_ARRAY, for 8% more bytes;
# dictionaries only for the low-cardinality columns; DELTA_BINARY_PACKED amounts (small, alike); principal_id PLAIN
# and uncompressed (compressing it cost more time than it saved bytes); no statistics. About 30 bytes an event, a
# fifth of the canonical JSON.
WRITE_OPTIONS: dict[str, Any] = {
    "compression": {c: "lz4" if c in ("event_id", "ts_occurred") else "none" for c in COLUMNS},
    "write_statistics": False, "use_dictionary": ["source_type", "currency"],
    "column_encoding": {"event_id": "PLAIN", "ts_occurred": "PLAIN", "amount_minor": "DELTA_BINARY_PACKED"},
}


class SegmentError(ValueError):
    """A stored segment that is not the strict Parquet form: `reason` is the verify reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def to_arrow(chunk: pl.DataFrame) -> pa.Table:
    """The chunk's canonical columns as an Arrow table with exactly the segment schema."""
    cols = [chunk[c].to_arrow(compat_level=CompatLevel.newest()) for c in COLUMNS]
    arrays = [a.cast(f.type) if a.type != f.type else a for a, f in zip(cols, WRITE_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=WRITE_SCHEMA)


def encode(chunk: pl.DataFrame | pa.Table) -> bytes:
    """The Parquet bytes of one chunk of canonical events (fold order kept, one row group, no Arrow metadata)."""
    return encode_buffer(chunk).to_pybytes()


def encode_buffer(chunk: pl.DataFrame | pa.Table) -> pa.Buffer:
    """`encode` into an Arrow buffer: the writer never calls back into Python (a BytesIO sink takes the GIL for
    every page) and the bytes are not copied again."""
    table = chunk if isinstance(chunk, pa.Table) else to_arrow(chunk)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, store_schema=False, row_group_size=max(1, table.num_rows), **WRITE_OPTIONS)
    return sink.getvalue()


def _check_parquet_schema(pf: pq.ParquetFile) -> None:
    schema = pf.schema
    names = [schema.column(i).name for i in range(len(schema))]
    if names != list(COLUMNS):
        raise SegmentError("SEGMENT_SCHEMA_MISMATCH", f"columns {names}, expected {list(COLUMNS)}")
    for i, name in enumerate(names):
        col = schema.column(i)
        got = (col.physical_type, str(col.logical_type))
        if got != _PHYSICAL[name]:
            raise SegmentError("SEGMENT_SCHEMA_MISMATCH", f"column {name}: {got[0]}/{got[1]}, expected "
                               f"{_PHYSICAL[name][0]}/{_PHYSICAL[name][1]}")
        if col.max_definition_level != 0 or col.max_repetition_level != 0 or col.path != name:
            raise SegmentError("SEGMENT_SCHEMA_MISMATCH", f"column {name}: must be a REQUIRED top-level field")


def decode(data: bytes, rows: int) -> pl.DataFrame:
    """The chunk a stored segment holds, checked against the strict schema and the index's row count.

    Raises SegmentError (SEGMENT_MALFORMED: not a readable Parquet file; SEGMENT_SCHEMA_MISMATCH: other columns,
    types, nullability, row count or an amount out of range); never anything else for any bytes."""
    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ... for bad files
        raise SegmentError("SEGMENT_MALFORMED", f"not a Parquet file: {_one_line(exc)}") from None
    _check_parquet_schema(pf)
    if pf.metadata.num_rows != rows:
        raise SegmentError("SEGMENT_SCHEMA_MISMATCH", f"{pf.metadata.num_rows} rows, index says {rows}")
    try:
        table = pf.read(use_threads=False)
    except Exception as exc:  # noqa: BLE001 - corrupt pages, bad compression, ...
        raise SegmentError("SEGMENT_MALFORMED", f"cannot decode: {_one_line(exc)}") from None
    if table.schema != ARROW_SCHEMA or table.num_rows != rows:
        shown = table.schema.to_string(show_schema_metadata=False).replace("\n", "; ")
        raise SegmentError("SEGMENT_SCHEMA_MISMATCH", f"decodes to {shown}, expected the strict segment schema")
    if any(table.column(c).null_count for c in COLUMNS):
        raise SegmentError("SEGMENT_SCHEMA_MISMATCH", "a null value in a required column")
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    if rows:
        lo, hi = df.select(pl.col("amount_minor").min().alias("lo"), pl.col("amount_minor").max().alias("hi")).row(0)
        if not -MAX_SAFE <= lo <= hi <= MAX_SAFE:
            raise SegmentError("SEGMENT_SCHEMA_MISMATCH", "amount_minor outside ±(2^53−1)")
    return df


def canonical_chunk(df: pl.DataFrame) -> tuple[list[Any], str, int]:
    """(row buffers, SHA-256 hex, size) of the RFC 8785 array of a decoded chunk: the v1 segment bytes, never
    joined. The buffers' concatenation is the rows each followed by ',' (see vgos.canonical_rows._row_bytes)."""
    from vgos.canonical_rows import _row_bytes, hash_pieces, leaf_pieces

    bufs = _row_bytes(df, _constant(df["currency"])) if df.height else []
    sha, size = hash_pieces(leaf_pieces(bufs))
    return bufs, sha, size


def _constant(col: pl.Series) -> str | None:
    """The value of a string column whose every value is the same one, else None."""
    if not len(col) or col.null_count():
        return None
    lo, hi = col.min(), col.max()
    return lo if lo == hi and isinstance(lo, str) else None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
