"""The replay's partial sums (`chunk_sums`, one row per event, and `merge_sums`, in any grouping, ordered or not
until the last) equal one group-by of every kept event: each principal once, in principal_id order."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos.fold import chunk_sums, merge_sums

_rows = st.lists(st.tuples(st.sampled_from(["p1", "p2", "é", "P10", "p"]), st.integers(-10**9, 10**9)),
                 min_size=1, max_size=60)


@settings(max_examples=examples(200), deadline=None)
@given(_rows, st.lists(st.integers(1, 9), min_size=1, max_size=8), st.integers(1, 4))
def test_partial_sums_in_any_grouping_equal_one_group_by(rows: list, cuts: list, every: int) -> None:
    events = pl.DataFrame({"principal_id": [p for p, _ in rows], "amount_minor": [a for _, a in rows]},
                          schema={"principal_id": pl.String, "amount_minor": pl.Int64})
    want = (events.group_by("principal_id").agg(pl.len().cast(pl.Int64).alias("events"),
                                                 pl.col("amount_minor").sum().alias("net_minor"))
            .sort("principal_id"))
    parts: list[pl.DataFrame] = []
    start, i = 0, 0
    sums: list[pl.DataFrame] = []
    top = 0
    while start < events.height:
        size = cuts[i % len(cuts)]
        part, t = chunk_sums(events.slice(start, size))
        top = max(top, t)
        sums.append(part)
        if len(sums) >= every + 1:
            sums = [merge_sums(sums, ordered=False)]
        start, i = start + size, i + 1
        parts.append(part)
    assert merge_sums(sums).equals(want)
    assert merge_sums(parts).equals(want)
    assert top == max(abs(a) for _, a in rows)
