"""`_sorted_ints` (polars' sort behind the intake's duplicate search and fold order) must order 64-bit keys exactly
as numpy does: unsigned keys with the top bit set (event-id hashes) after every smaller one, signed keys by value,
the input left as it was."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos.fold import _repeat_candidates, _sorted_ints

U64 = st.integers(0, 2**64 - 1)
I64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=examples(200), deadline=None)
@given(st.one_of(st.lists(U64, unique=True, max_size=300).map(lambda v: np.array(v, dtype=np.uint64)),
                 st.lists(I64, unique=True, max_size=300).map(lambda v: np.array(v, dtype=np.int64))))
def test_sorted_ints_equals_numpy(keys: np.ndarray) -> None:
    before = keys.copy()
    got = _sorted_ints(keys)
    assert got.dtype == keys.dtype
    assert np.array_equal(got, np.sort(keys))
    assert np.array_equal(keys, before)


def test_repeat_candidates_finds_every_copy_of_a_repeated_id() -> None:
    import polars as pl

    ids = pl.Series([f"e{i}" for i in range(5000)] + ["e7", "e4999", "e7"])
    mask = _repeat_candidates(ids)
    assert mask is not None
    found = set(np.flatnonzero(mask).tolist())
    # every copy of each repeated id, and here nothing else (a collision of 51-bit hash prefixes could only add one)
    assert found == {7, 4999, 5000, 5001, 5002}
