"""The numpy fast path for canonical timestamps (`_fixed_width_ts_us`) never disagrees with the polars one.

Whenever it answers, its epoch microseconds equal `_civil_ts_us_polars` (and the round trip through the canonical
formatter); it answers for every column of valid canonical strings of one width; anything off the canonical shape
(bad digits, separators, non-ASCII, impossible dates, a zero fraction, mixed widths, nulls) is left to the polars
path, which decides as before.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos.canonical_rows import _ts_strings
from vgos.events import _civil_ts_us, _civil_ts_us_polars, _fixed_width_ts_us

MIN_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
MAX_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_us = st.integers(MIN_US, MAX_US)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(_us, min_size=1, max_size=50), st.booleans())
def test_canonical_columns_of_one_width_take_the_fast_path(values: list[int], whole: bool) -> None:
    if whole:
        values = [v - v % 1_000_000 for v in values]
    else:
        values = [v - v % 1_000_000 + max(v % 1_000_000, 1) for v in values]
    strings = _ts_strings(pl.Series("ts_us", values, dtype=pl.Int64))
    fast = _fixed_width_ts_us(strings)
    assert fast is not None and fast.to_list() == values
    assert _civil_ts_us_polars(strings).to_list() == values


_noise = st.sampled_from(["0", "9", "-", "T", ":", ".", "Z", " ", "é", "١", "\x00", "a"])


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(st.tuples(_us, st.booleans(), st.lists(st.tuples(st.integers(0, 26), _noise), max_size=2)),
                min_size=1, max_size=20))
def test_the_fast_path_answers_only_what_the_polars_path_answers(rows: list) -> None:
    strings = []
    for us, whole, edits in rows:
        t = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
        s = t.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if whole else f".{t.microsecond:06d}Z")
        for at, ch in edits:
            if at < len(s):
                s = s[:at] + ch + s[at + 1:]
        strings.append(s)
    col = pl.Series("ts_occurred", strings, dtype=pl.String)
    fast = _fixed_width_ts_us(col)
    slow = _civil_ts_us_polars(col)
    if fast is not None:
        assert slow is not None and fast.to_list() == slow.to_list()
    assert (_civil_ts_us(col) is None) == (slow is None)


def test_nulls_mixed_widths_and_zero_fractions_are_left_to_polars() -> None:
    assert _fixed_width_ts_us(pl.Series(["2025-09-23T11:00:00Z", None], dtype=pl.String)) is None
    mixed = pl.Series(["2025-09-23T11:00:00Z", "2025-09-23T11:00:00.000001Z"], dtype=pl.String)
    assert _fixed_width_ts_us(mixed) is None
    assert _civil_ts_us(mixed).to_list() == _civil_ts_us_polars(mixed).to_list()
    assert _fixed_width_ts_us(pl.Series(["2025-09-23T11:00:00.000000Z"])) is None
    assert _civil_ts_us(pl.Series(["2025-02-29T11:00:00Z"])) is None
    assert _fixed_width_ts_us(pl.Series(["2024-02-29T23:59:59.999999Z"])).to_list() == [1709251199999999]
