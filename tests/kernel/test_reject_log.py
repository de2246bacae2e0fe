"""The column-wise reject log (vgos.rejects.RejectLog) writes exactly the bytes of the per-object code: rejects.jsonl,
the transcript's `rejects` segment and the counts by reason, on random windows split over several files with odd
names (quotes, backslashes, colons, non-ASCII), read-time (schema) rejects and prior-window matches."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.kernel.strategies import WINDOW, window_records
from tests.kernel.writers import write
from vgos.fold import fold_files
from vgos.outputs import rejects_jsonl
from vgos.policy import load_policy
from vgos.rejects import RejectLog
from vgos.transcript import _reject_entries, rejects_bytes, rejects_segment_bytes

POLICY = load_policy(None)
NAMES = ["events", 'q"uote', "back\\slash", "co:lon", "é😀"]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=window_records(max_size=30), split=st.integers(0, 30),
       fmts=st.tuples(*[st.sampled_from(["jsonl", "csv", "parquet"])] * 2),
       names=st.tuples(*[st.sampled_from(NAMES)] * 2), prior=st.booleans())
def test_reject_log_bytes_equal_the_per_object_bytes(records: list[dict[str, Any]], split: int,
                                                     fmts: tuple[str, str], names: tuple[str, str],
                                                     prior: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, (part, fmt, name) in enumerate(zip((records[:split], records[split:]), fmts, names, strict=True)):
            folder = Path(d) / str(i)
            folder.mkdir()
            paths.append(write(folder / name, fmt, part))
        matches = {"e3": "2025-09-20", "q\"11": "2025-09-21"} if prior else None
        result = fold_files(paths, WINDOW, POLICY, prior=matches)
    log = result.rejects
    assert isinstance(log, RejectLog)
    objects = list(log)
    assert len(log) == len(objects) and log == objects and (not log) == (not objects)
    plain = type("R", (), {"rejects": objects})()
    assert rejects_jsonl(result) == rejects_jsonl(plain)
    assert rejects_bytes(log) == rejects_segment_bytes(_reject_entries(objects))
    counts: dict[str, int] = {}
    for r in objects:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    assert result.rejects_by_reason() == dict(sorted(counts.items()))
    if objects:
        assert log[0] == objects[0] and log[-1:] == objects[-1:]
