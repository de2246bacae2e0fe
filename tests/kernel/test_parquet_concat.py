"""normalized.parquet as the concatenation of the transcript's Parquet segments (vgos.parquet_concat): the file reads
back as the kept events in fold order with polars, pyarrow and DuckDB, footers survive a parse/write round trip
byte for byte, and anything else is refused with ParquetConcatError (the fold then writes the file itself)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.kernel.strategies import WINDOW, window_records
from tests.kernel.writers import write
from vgos import segment_parquet
from vgos.fold import fold_files
from vgos.parquet_concat import ParquetConcatError, _footer, _Writer, concat_files
from vgos.policy import load_policy

POLICY = load_policy(None)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=window_records(max_size=40), chunk=st.integers(1, 7))
def test_concatenated_segments_are_the_kept_events(records: list[dict[str, Any]], chunk: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        kept = fold_files([write(Path(d) / "events", "jsonl", records)], WINDOW, POLICY).kept
        if kept.height == 0:
            return
        parts = []
        for i in range(0, kept.height, chunk):
            data = segment_parquet.encode(kept.slice(i, chunk))
            meta, start = _footer(data)
            w = _Writer()
            w.struct(meta)
            assert bytes(w.out) == data[start:-8]  # the footer codec loses nothing
            parts.append(Path(d) / f"{i}.parquet")
            parts[-1].write_bytes(data)
        out = Path(d) / "normalized.parquet"
        assert concat_files(parts, out) == kept.height
        assert pl.read_parquet(out).equals(kept)
        assert pq.ParquetFile(out).metadata.num_row_groups == len(parts)
        assert pq.read_table(out).to_pylist() == kept.to_dicts()
        import duckdb

        got = duckdb.sql(f"SELECT count(*), coalesce(sum(amount_minor), 0) FROM '{out}'").fetchall()[0]
        assert got == (kept.height, kept["amount_minor"].sum())


def test_the_fold_output_file_is_the_concatenation(tmp_path: Path) -> None:
    from tests.transcript.conftest import SEED_EVENTS

    spool = tmp_path / "spool"
    spool.mkdir()
    result = fold_files([SEED_EVENTS], WINDOW, POLICY, spool=spool)
    assert result.normalized_file is not None
    assert pl.read_parquet(result.normalized_file).equals(result.kept)


def test_other_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really PAR1")
    good = tmp_path / "good.parquet"
    good.write_bytes(segment_parquet.encode(pl.DataFrame(
        {"event_id": ["e"], "ts_occurred": ["2025-09-23T11:00:00Z"], "principal_id": ["p"], "amount_minor": [1],
         "source_type": ["earning"], "currency": ["USD"]})))
    other = tmp_path / "other.parquet"
    pl.DataFrame({"x": [1]}).write_parquet(other)
    for parts in ([bad], [good, other], []):
        with pytest.raises(ParquetConcatError):
            concat_files(parts, tmp_path / "out.parquet")
        assert not (tmp_path / "out.parquet").exists()
