"""The intake's fast paths equal the reference: the fold order sorts by ts_us alone and breaks ties by event_id in
code point order (non-ASCII ids included), timestamp strings come from day tables (in slices, on two threads),
rejected duplicates leave the presorted rows, and typed Parquet rows are checked while the file is read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vgos.canonical_rows as canonical_rows
from tests.examples import examples
from vgos.events import MAX_TS_US, MIN_TS_US
from vgos.fold import _fold_order, _fold_permutation, fold_files, fold_reference, intake_files
from vgos.policy import load_policy

POLICY = load_policy()
WINDOW = "2025-09-23"
CUTOFF = dt.datetime(2025, 9, 23, 20, 50, tzinfo=dt.UTC)
IDS = ["a", "aa", "ab", "b", "B", "Z", "z", "é", "e\u0301", "日本", "😀", "\ue000", "\uffff", "ÿ", "a\u00a0", "~",
       " x", "a-1", "a-10", "a-9", "q\"", "b\\"]
SETTINGS = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(st.one_of(st.sampled_from([0, 1, -1, 5]), st.integers(MIN_TS_US, MAX_TS_US)),
                          st.one_of(st.sampled_from(IDS), st.text(min_size=1, max_size=5))),
                unique_by=lambda p: p[1], max_size=60))
def test_permutation_is_ts_then_code_points(pairs: list[tuple[int, str]]) -> None:
    ts = np.array([t for t, _ in pairs], dtype=np.int64)
    ids = pl.Series([i for _, i in pairs], dtype=pl.String)
    order, sorted_ts = _fold_permutation(ts, lambda at: ids.gather(pl.Series(at)))
    assert [pairs[i] for i in order] == sorted(pairs)  # Python compares strings by code point
    assert sorted_ts.tolist() == sorted(ts.tolist())


@st.composite
def _records(draw: st.DrawFn) -> list[dict]:
    """Few distinct instants (many ties), tricky ids with exact and conflicting repeats, some invalid rows."""
    instants = draw(st.lists(st.integers(-26 * 3600, 3600).map(lambda s: CUTOFF + dt.timedelta(seconds=s)),
                             min_size=1, max_size=4))
    recs = []
    for _ in range(draw(st.integers(0, 40))):
        recs.append({
            "event_id": draw(st.one_of(st.sampled_from(IDS), st.just(None), st.just("bad\x85id"))),
            "ts_occurred": draw(st.sampled_from(instants)) + dt.timedelta(microseconds=draw(st.sampled_from(
                [0, 0, 1, 999_999]))),
            "principal_id": draw(st.sampled_from(["P1", "P2", "Zoë"])),
            "amount_minor": draw(st.integers(-1000, 1000)),
            "source_type": draw(st.sampled_from(["earning", "earning", "refund", "bonus"])),
            "currency": draw(st.sampled_from(["USD", "USD", "USD", None, "EUR"])),
        })
    repeats = draw(st.lists(st.integers(0, max(len(recs) - 1, 0)), max_size=4)) if recs else []
    return recs + [dict(recs[i]) for i in repeats]


def _write_typed(path: Path, records: list[dict]) -> Path:
    """Parquet with typed columns (UTC microsecond timestamps), as the intake's checked read expects them."""
    pq.write_table(pa.table({
        "event_id": pa.array([r["event_id"] for r in records], pa.string()),
        "ts_occurred": pa.array([r["ts_occurred"] for r in records], pa.timestamp("us", tz="UTC")),
        "principal_id": pa.array([r["principal_id"] for r in records], pa.string()),
        "amount_minor": pa.array([r["amount_minor"] for r in records], pa.int64()),
        "source_type": pa.array([r["source_type"] for r in records], pa.string()),
        "currency": pa.array([r["currency"] for r in records], pa.string()),
    }), path)
    return path


@SETTINGS
@given(_records())
def test_typed_parquet_with_ties_equals_reference(tmp_path_factory: pytest.TempPathFactory, records: list[dict]
                                                  ) -> None:
    path = _write_typed(tmp_path_factory.mktemp("ties") / "ev.parquet", records)
    fast, ref = fold_files([path], WINDOW, POLICY), fold_reference([path], WINDOW, POLICY)
    assert fast.seal_bytes == ref.seal_bytes
    assert list(fast.rejects) == list(ref.rejects)
    assert fast.kept.equals(ref.kept)


def test_large_window_with_ties_repeats_and_whole_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the table threshold, in several slices on two threads: the same rows, rejects and strings."""
    monkeypatch.setattr(canonical_rows, "_TS_SLICE", 20_001)
    rng = np.random.default_rng(7)
    n = 70_000
    base = int((CUTOFF - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) * 1_000_000
    us = base + rng.integers(-30 * 3600, 2 * 3600, n) * 1_000_000 + rng.choice([0, 0, 1, 123_456], n)
    ids = [f"{IDS[i % len(IDS)]}-{rng.integers(0, 50_000)}" for i in range(n)]  # repeats, identical or not
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    records = [{"event_id": e, "ts_occurred": epoch + dt.timedelta(microseconds=int(t)), "principal_id": "P1",
                "amount_minor": 5, "source_type": "earning", "currency": "USD"} for e, t in zip(ids, us, strict=True)]
    path = _write_typed(tmp_path / "big.parquet", records)
    fast, ref = intake_files([path], WINDOW, POLICY), fold_reference([path], WINDOW, POLICY)
    assert fast.kept.equals(ref.kept)
    assert list(fast.rejects) == list(ref.rejects)


@settings(max_examples=examples(30), deadline=None)
@given(st.lists(st.integers(-3 * 86_400, 3 * 86_400), min_size=1, max_size=30), st.integers(0, 2))
def test_fold_order_of_canonical_rows_equals_a_sort(seconds: list[int], micro: int) -> None:
    """`_fold_order` (the bucketed fold's) above the table threshold equals polars' sort and strftime."""
    n = 60_000
    base = 1_758_660_600_000_000
    ts = [base + seconds[i % len(seconds)] * 1_000_000 + (i % 3 if micro else 0) for i in range(n)]
    df = pl.DataFrame({"event_id": [f"é{i * 7919 % n}" for i in range(n)], "ts_us": ts, "principal_id": "P",
                       "amount_minor": 1, "source_type": "earning"})
    got = _fold_order([df], "USD")
    want = df.sort(["ts_us", "event_id"])
    want = want.with_columns(canonical_rows._ts_strings_strftime(want["ts_us"]), currency=pl.lit("USD"))
    assert got.equals(want.select(got.columns))
