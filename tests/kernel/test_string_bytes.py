"""The byte scan that lets the intake skip its per-value control-character search: `printable_ascii` must never
say "printable" for a column holding a control character, on any layout polars hands it, and a Parquet file whose
only bad value is a control character in an id must still lose exactly that row (SCHEMA_INVALID, the field named)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos.canonical_rows import _needs_escape
from vgos.events import CONTROL_CHARS, SCHEMA_INVALID, read_fast, read_reference
from vgos.string_bytes import has_bytes, printable_ascii

# Short (inline in a string view) and long (out of line) values; controls of C0, DEL and C1, other non-ASCII.
CHARS = st.sampled_from(["a", "Z", "0", "-", " ", "~", '"', "\\", "\x00", "\x1f", "\x7f", "\x80", "\x85", "\x9f",
                         "\xa0", "é", "\u2028", "😀"])
VALUES = st.lists(st.text(CHARS, min_size=0, max_size=30), min_size=1, max_size=40)


def _layouts(values: list[str], cut: int) -> list[pl.Series]:
    """The same values as polars holds them after a read, a slice, a concat of chunks and a gather."""
    s = pl.Series("c", values, dtype=pl.String)
    cut = cut % (len(values) + 1)
    chunked = pl.concat([s.slice(0, cut), s.slice(cut)], rechunk=False)
    gathered = s.gather(list(reversed(range(len(values))))).gather(list(reversed(range(len(values)))))
    padded = pl.Series("c", ["x" * 20, *values, "y"], dtype=pl.String).slice(1, len(values))
    from_arrow = pl.Series("c", pa.array(values, type=pa.large_string()))
    return [s, chunked, gathered, padded, from_arrow]


@settings(max_examples=examples(200), deadline=None)
@given(VALUES, st.integers(0, 50))
def test_printable_ascii_matches_a_per_character_oracle_on_every_layout(values: list[str], cut: int) -> None:
    expected = all(0x20 <= ord(ch) <= 0x7E for v in values for ch in v)
    for col in _layouts(values, cut):
        assert col.to_list() == values
        got = printable_ascii(col)
        assert got == expected
        if got:  # what the intake relies on: no control character can hide behind True
            assert not col.str.contains_any(CONTROL_CHARS).any()


def _parquet(path: Path, rows: list[dict[str, object]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _rows(n: int) -> list[dict[str, object]]:
    return [{"event_id": f"evt-{i:06d}", "ts_occurred": pa.scalar(1_758_600_000_000_000 + i, pa.timestamp("us", "UTC")),
             "principal_id": f"P{i % 7:03d}", "amount_minor": 100 + i, "source_type": "earning", "currency": "USD"}
            for i in range(n)]


@settings(max_examples=examples(25), deadline=None)
@given(st.sampled_from(["\x00", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]), st.sampled_from(["event_id", "principal_id"]),
       st.integers(0, 39))
def test_a_control_character_in_a_typed_parquet_id_is_still_rejected(tmp_path_factory, ctl: str, field: str,
                                                                     at: int) -> None:
    rows = _rows(40)
    rows[at][field] = f"{rows[at][field]}{ctl}x"
    path = _parquet(tmp_path_factory.mktemp("ctl") / "events.parquet", rows)
    frame, rejects = read_fast(path, "USD")
    assert frame.height == 39
    assert [(line, r.reason, r.field) for line, r in rejects] == [(at + 1, SCHEMA_INVALID, field)]
    ref_kept, ref_rejects = read_reference(path, "USD")
    assert [(line, r.reason, r.field) for line, r in ref_rejects] == [(at + 1, SCHEMA_INVALID, field)]
    assert len(ref_kept) == 39


def test_printable_non_ascii_ids_are_kept(tmp_path: Path) -> None:
    """Non-ASCII that is not a control character (the scan says "not vouched for"; the exact search keeps it)."""
    rows = _rows(5)
    rows[2]["principal_id"] = "Ünïcødé \u00a0😀"
    rows[3]["event_id"] = "é" * 128
    frame, rejects = read_fast(_parquet(tmp_path / "e.parquet", rows), "USD")
    assert rejects == []
    assert frame["principal_id"][2] == "Ünïcødé \u00a0😀"
    assert frame["event_id"][3] == "é" * 128


@settings(max_examples=examples(200), deadline=None)
@given(VALUES, st.integers(0, 50))
def test_has_bytes_answers_what_a_per_value_search_answers(values: list[str], cut: int) -> None:
    """The escape test (control, quote, backslash) and the CSV test (comma, quote, CR, LF) by bytes, on every layout,
    against the character search they replace."""
    escaped = ['"', "\\", *(chr(i) for i in range(32))]
    csv_special = [",", '"', "\r", "\n"]
    for col in _layouts(values, cut):
        assert has_bytes(col, below=0x20, among=b'"\\') == any(ch in escaped for v in values for ch in v)
        assert _needs_escape(col) == bool(col.str.contains_any(escaped).any())
        assert has_bytes(col, among=b',"\r\n') == any(ch in csv_special for v in values for ch in v)


def test_has_bytes_refuses_what_it_cannot_answer() -> None:
    import pytest

    with pytest.raises(ValueError):
        has_bytes(pl.Series(["a", None]), among=b"a")
    with pytest.raises(ValueError):
        has_bytes(pl.Series(["a"]), among="é".encode())
