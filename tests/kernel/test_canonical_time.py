"""Canonical timestamps without per-value formatting or parsing: `_ts_strings` (tables) equals the strftime path,
and `_civil_ts_us` (integer arithmetic on the digits) accepts exactly the canonical strings the formatting round
trip accepts, with the same microseconds, and declines everything else (then the round trip decides)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos.canonical_rows import _ts_strings, _ts_strings_strftime
from vgos.events import MAX_TS_US, MIN_TS_US, _civil_ts_us
from vgos.events import _round_trip_ts_us as _round_trip  # the reference: strptime, then strftime back

_us = st.one_of(st.integers(MIN_TS_US, MAX_TS_US),
                st.sampled_from([MIN_TS_US, MAX_TS_US, 0, -1, 1, 951_782_400_000_000, 951_868_799_999_999]),
                st.integers(-(10**6), 10**6).map(lambda d: 1_758_660_600_000_000 + d * 1_000_000))


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(_us, min_size=1, max_size=200), st.integers(1, 3))
def test_table_strings_equal_strftime(values: list[int], repeat: int) -> None:
    import vgos.canonical_rows as fold

    s = pl.Series(values * (60_000 // len(values) + 1) * repeat, dtype=pl.Int64)  # above the table threshold
    assert _ts_strings(s).equals(_ts_strings_strftime(s))
    saved = fold._TS_SLICE
    fold._TS_SLICE = 50_001  # in slices, as for a large window
    try:
        assert _ts_strings(s).equals(_ts_strings_strftime(s))
    finally:
        fold._TS_SLICE = saved


_MUTATIONS = ["2025-02-29T10:00:00Z", "2024-02-29T10:00:00Z", "2100-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
              "2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z", "2025-01-00T00:00:00Z",
              "2025-01-01T24:00:00Z", "2025-01-01T23:60:00Z", "2025-01-01T23:59:60Z", "2025-01-01T00:00:00.000000Z",
              "2025-01-01T00:00:00.5Z", "+025-01-01T00:00:00Z", "2025-01-01T00:00:00z", "2025-01-01 00:00:00Z",
              "0000-01-01T00:00:00Z", "2025-01-01T00:00:00.000001Z", "2025-01-01T00:00:00Z\n", "２025-01-01T00:00:00Z"]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(_us, max_size=5), st.lists(st.sampled_from(_MUTATIONS), max_size=2))
def test_civil_parse_agrees_with_the_round_trip(values: list[int], odd: list[str]) -> None:
    canonical = _ts_strings_strftime(pl.Series(values, dtype=pl.Int64)).to_list()
    col = pl.Series(canonical + odd, dtype=pl.String)
    if not len(col):
        return
    fast, ref = _civil_ts_us(col), _round_trip(col)
    if fast is not None:  # accepted: the round trip accepts the same strings with the same instants
        assert ref is not None and fast.to_list() == ref.to_list()
    if not odd:
        assert fast is not None and fast.to_list() == values
