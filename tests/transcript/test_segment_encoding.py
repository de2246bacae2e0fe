"""The v2 segment encoder's speed choices never change what a segment holds.

- the Parquet bytes of a chunk are the same whatever Arrow string layout the encoder is given (string views as
  polars holds them, 32- or 64-bit offsets), so exporting without a copy is safe;
- a segment written with the fast settings (no compression, delta encodings) decodes to exactly the chunk, for
  random strings (non-ASCII, empty, inline and out-of-line lengths) and amounts at the ±(2^53−1) bounds;
- `_build_chunk` (ids copied next to each other after the fold-order gather) gives the same row bytes as the
  uncompacted chunk, and the spooled segment's leaf equals the v1 leaf of the same rows.
"""

from __future__ import annotations

import hashlib
import io

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos import segment_parquet
from vgos.canonical import jcs_bytes
from vgos.canonical_rows import _build_chunk, _row_bytes

MAX_SAFE = 2**53 - 1
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_rows = st.lists(
    st.tuples(_text, st.sampled_from(["2025-09-23T11:00:00Z", "2025-09-22T20:50:00.000001Z"]), _text,
              st.integers(-MAX_SAFE, MAX_SAFE), st.sampled_from(["earning", "adjustment", "x" * 20]),
              st.sampled_from(["USD", "EUR"])),
    min_size=1, max_size=60)


def _frame(rows: list[tuple]) -> pl.DataFrame:
    cols = list(zip(*rows, strict=True))
    return pl.DataFrame({c: list(v) for c, v in zip(segment_parquet.COLUMNS, cols, strict=True)},
                        schema={c: pl.Int64 if c == "amount_minor" else pl.String for c in segment_parquet.COLUMNS})


def _scattered(df: pl.DataFrame) -> pl.DataFrame:
    """The same rows after a gather, as the fold-order sort leaves them (views into the old buffers)."""
    n = df.height
    return df.with_row_index("_i").sort("_i", descending=True).sort("_i").drop("_i") if n else df


@settings(max_examples=examples(60), deadline=None)
@given(_rows)
def test_segment_bytes_do_not_depend_on_the_arrow_string_layout(rows: list[tuple]) -> None:
    df = _frame(rows)
    views = segment_parquet.encode(df)
    for string_type in (pa.string(), pa.large_string()):
        table = pa.table({c: pa.array(df[c].to_list(), type=pa.int64() if c == "amount_minor" else string_type)
                          for c in segment_parquet.COLUMNS})
        table = table.cast(pa.schema([pa.field(f.name, f.type, nullable=False) for f in table.schema]))
        sink = io.BytesIO()
        pq.write_table(table, sink, store_schema=False, row_group_size=table.num_rows,
                       **segment_parquet.WRITE_OPTIONS)
        assert sink.getvalue() == views
    assert segment_parquet.decode(views, df.height).equals(df)


def test_segments_use_the_fast_encodings() -> None:
    df = _frame([("evt-1", "2025-09-23T11:00:00Z", "P1", 5, "earning", "USD")] * 3)
    meta = pq.ParquetFile(io.BytesIO(segment_parquet.encode(df))).metadata.row_group(0)
    cols = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    # "LZ4" is pyarrow's name for the LZ4_RAW codec (7; Hadoop's framed LZ4 is "LZ4_HADOOP"): PLAIN strings under
    # it, the rest uncompressed
    assert {p: c.compression for p, c in cols.items()} == {
        "event_id": "LZ4", "ts_occurred": "LZ4", "principal_id": "UNCOMPRESSED",
        "amount_minor": "UNCOMPRESSED", "source_type": "UNCOMPRESSED", "currency": "UNCOMPRESSED"}
    assert "PLAIN" in cols["event_id"].encodings and "PLAIN" in cols["ts_occurred"].encodings
    assert "DELTA_BINARY_PACKED" in cols["amount_minor"].encodings
    assert any("DICTIONARY" in e for e in cols["source_type"].encodings)


@settings(max_examples=examples(60), deadline=None)
@given(_rows)
def test_compacted_chunk_gives_the_same_rows(rows: list[tuple]) -> None:
    df = _scattered(_frame(rows))
    bufs, compact = _build_chunk(df, None)
    assert compact.equals(df)
    built = b"".join(bytes(b) for b in bufs)
    assert built == b"".join(bytes(b) for b in _row_bytes(df, None))
    members = [jcs_bytes(r) for r in df.select(sorted(df.columns)).to_dicts()]
    assert built == b"".join(m + b"," for m in members)
    assert hashlib.sha256(b"[" + built[:-1] + b"]").hexdigest() == hashlib.sha256(jcs_bytes(df.to_dicts())).hexdigest()
