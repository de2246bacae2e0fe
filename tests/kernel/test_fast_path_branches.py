"""The fast path's parallel and chunked branches (normally only above 1M rows) equal the plain reference."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import vgos.canonical_rows
import vgos.fold
from tests.kernel.strategies import EVENT_IDS, PRINCIPALS
from tests.kernel.writers import write
from vgos.fold import fold_files, fold_reference
from vgos.policy import load_policy


def _window(n: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    recs = []
    for _ in range(n):
        rec = {"event_id": f"{rnd.choice(EVENT_IDS)}-{rnd.randint(0, n * 9 // 10)}",
               "principal_id": rnd.choice(PRINCIPALS) + str(rnd.randint(0, 40)),
               "ts_occurred": f"2025-09-{rnd.choice(['22', '23', '23', '24'])}T{rnd.randint(0, 23):02d}:"
                              f"{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}"
                              f"{rnd.choice(['', '.5', '.000001'])}Z",
               "amount_minor": rnd.randint(-5000, 250_000), "source_type": rnd.choice(["earning", "refund"]),
               "currency": rnd.choice(["USD", "USD", None, "EUR"])}
        recs.append(rec)
        if rnd.random() < 0.03:
            recs.append(dict(rec))
    return recs


@pytest.mark.parametrize("seed", [1, 2])
def test_parallel_and_chunked_branches_equal_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       seed: int) -> None:
    recs = _window(4000, seed)
    paths = [write(tmp_path / "a", "parquet", recs[:1500]), write(tmp_path / "b", "csv", recs[1500:3000]),
             write(tmp_path / "c", "jsonl", recs[3000:])]
    ref = fold_reference(paths, "2025-09-23", load_policy())
    monkeypatch.setattr(vgos.canonical_rows, "_PARALLEL_MIN", 100)
    monkeypatch.setattr(vgos.fold, "HASH_CHUNK", 257)
    fast = fold_files(paths, "2025-09-23", load_policy())
    assert fast.seal_bytes == ref.seal_bytes
    assert fast.rejects == ref.rejects
    assert fast.kept.equals(ref.kept)
    assert fast.totals["events_kept"] > 1000 and fast.totals["events_rejected"] > 100
