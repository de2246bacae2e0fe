"""A typed Int64 `amount_minor` of -2^63 is SCHEMA_INVALID on every path (it used to pass the fast path, whose
bound was on abs(), and abs(-2^63) wraps to -2^63 in Int64), and so is every value just outside ±(2^53−1)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from vgos.events import SCHEMA_INVALID
from vgos.fold import fold_files, fold_reference
from vgos.policy import load_policy

POLICY = load_policy(None)
MAX_SAFE = 2**53 - 1


@pytest.mark.parametrize("amount", [-(2**63), -(MAX_SAFE + 1), MAX_SAFE + 1, 2**63 - 1])
def test_out_of_range_typed_amounts_are_rejected(tmp_path: Path, amount: int) -> None:
    path = tmp_path / "events.parquet"
    pl.DataFrame({
        "event_id": ["e-bad", "e-ok"],
        "ts_occurred": pl.Series(["2025-09-23T11:00:00", "2025-09-23T11:00:01"]).str.to_datetime(time_zone="UTC"),
        "principal_id": ["p1", "p1"], "amount_minor": pl.Series([amount, 500], dtype=pl.Int64),
        "source_type": ["earning", "earning"], "currency": ["USD", "USD"],
    }).write_parquet(path)
    fast = fold_files([path], "2025-09-23", POLICY)
    ref = fold_reference([path], "2025-09-23", POLICY)
    assert [(r.event_id, r.reason, r.field) for r in fast.rejects] == [("e-bad", SCHEMA_INVALID, "amount_minor")]
    assert [(r.event_id, r.reason, r.field) for r in ref.rejects] == [("e-bad", SCHEMA_INVALID, "amount_minor")]
    assert fast.output_digest == ref.output_digest
    assert fast.kept["amount_minor"].to_list() == [500]
