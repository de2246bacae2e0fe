"""The replay's shortcut (`_fold_kept_as_given`: the events are exactly what the intake keeps) gives the seal the
general intake gives, and declines whenever it would not: duplicated ids, rows out of fold order, another currency,
events outside the window, non-canonical timestamps, invalid values (random windows, hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.kernel.strategies import WINDOW, window_records
from tests.kernel.writers import write
from vgos.fold import _fold_kept_as_given, fold_canonical, fold_files
from vgos.policy import load_policy

POLICY = load_policy(None)


def _swap(df: pl.DataFrame, i: int) -> pl.DataFrame:
    idx = list(range(df.height))
    j = (i + 1) % df.height
    idx[i], idx[j] = idx[j], idx[i]
    return df[idx]


def _set(df: pl.DataFrame, col: str, i: int, value: Any) -> pl.DataFrame:
    values = df[col].to_list()
    values[i] = value
    return df.with_columns(pl.Series(col, values, dtype=df.schema[col]))


MUTATIONS = {
    "none": lambda df, i: df,
    "duplicate": lambda df, i: pl.concat([df, df[i:i + 1]]).sort(["ts_occurred", "event_id"]),
    "swap": _swap,
    "currency": lambda df, i: _set(df, "currency", i, "EUR"),
    "late": lambda df, i: _set(df, "ts_occurred", i, "2025-09-23T20:50:01Z"),
    "early": lambda df, i: _set(df, "ts_occurred", i, "2025-09-22T20:50:00Z"),
    "offset": lambda df, i: _set(df, "ts_occurred", i, df["ts_occurred"][i].replace("Z", "+00:00")),
    "amount": lambda df, i: _set(df, "amount_minor", i, 2**60),
    "source": lambda df, i: _set(df, "source_type", i, "bonus"),
    "id": lambda df, i: _set(df, "event_id", i, "bad\x01id"),
}


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=window_records(max_size=25), mutation=st.sampled_from(sorted(MUTATIONS)), at=st.integers(0, 100),
       rejected=st.integers(0, 3), cuts=st.lists(st.integers(1, 30), max_size=3))
def test_shortcut_equals_the_general_replay(records: list[dict[str, Any]], mutation: str, at: int,
                                            rejected: int, cuts: list[int]) -> None:
    """`cuts` split the events into chunks (as a transcript holds them): repeats and order across chunk boundaries
    are checked too."""
    with tempfile.TemporaryDirectory() as d:
        kept = fold_files([write(Path(d) / "events", "jsonl", records)], WINDOW, POLICY).kept
    if kept.height == 0:
        return
    events = MUTATIONS[mutation](kept, at % kept.height)
    bounds = sorted({0, *(c for c in cuts if c < events.height), events.height})
    chunks = [events.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    fast = _fold_kept_as_given(chunks if len(chunks) > 1 else events, WINDOW, POLICY, "default", rejected,
                               source="<normalized>", policy_hash=None, input_digest=None)
    via_chunks = fold_canonical(chunks, WINDOW, POLICY, "default", rejected, allocation_objects=False)
    if mutation == "none":
        assert fast is not None
    general = fold_canonical(events, WINDOW, POLICY, "default", rejected, allocation_objects=True)
    assert via_chunks.seal_bytes == general.seal_bytes
    if fast is not None:
        assert (fast.seal_bytes, fast.output_digest, fast.input_digest) == \
            (general.seal_bytes, general.output_digest, general.input_digest)
        assert fast.kept.equals(general.kept)
    else:  # declined: the intake does not keep these events exactly as given
        assert not general.kept.equals(events) or len(general.rejects) > 0 or mutation in ("offset",)
