"""Byte equality of the cheaper output builders with the implementations they replaced (kept here as oracles):
the rejects segment and rejects.jsonl without `dataclasses.asdict` and the generic canonical walk, the allocations
segment as a slice of the seal bytes, the largest-payout table without sorting every principal. Random windows
(hypothesis) with schema rejects, duplicates, conflicts, out-of-window events and escaped characters."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.kernel.strategies import WINDOW, window_records
from tests.kernel.writers import write
from vgos.canonical import jcs_bytes
from vgos.events import Reject
from vgos.fold import fold_files
from vgos.outputs import rejects_jsonl
from vgos.policy import load_policy
from vgos.report import fold_summary, markdown_allocations
from vgos.seal import Allocation
from vgos.transcript import (
    _reject_entry,
    allocations_segment_bytes,
    build_segments,
    rejects_segment_bytes,
)

POLICY = load_policy(None)


# ---------------------------------------------------------------------------------------------- the oracles


def _old_to_dict(x: Any) -> dict[str, Any]:
    if isinstance(x, dict):
        return dict(x)
    return dataclasses.asdict(x)


def _old_reject_entry(r: Any) -> dict[str, Any]:
    d = _old_to_dict(r)
    src = str(d.get("source") or "")
    name, _, line = src.rpartition(":")
    source = f"{name.replace(chr(92), '/').rsplit('/', 1)[-1]}:{line}" if name and line.isdigit() else src
    return {"event_id": d.get("event_id"), "reason": d.get("reason"), "field": d.get("field"), "source": source}


def _old_rejects_jsonl(rejects: list[Reject]) -> bytes:
    return b"".join(orjson.dumps(dataclasses.asdict(r)) + b"\n" for r in rejects)


def _old_segments(result: Any) -> dict[str, bytes]:
    seal = orjson.loads(result.seal_bytes)
    return {"rejects": jcs_bytes([_old_reject_entry(r) for r in result.rejects]),
            "allocations": jcs_bytes(seal["allocations"])}


def _old_largest(allocations: list[Allocation], n: int) -> list[Allocation]:
    return sorted(allocations, key=lambda a: (-a.payout_minor, a.principal_id))[:n]


# ---------------------------------------------------------------------------------------------- the properties


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=window_records(max_size=30), fmt=st.sampled_from(["jsonl", "csv", "parquet"]),
       max_rows=st.integers(-3, 6))
def test_outputs_equal_the_previous_implementation(records: list[dict[str, Any]], fmt: str, max_rows: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "events", fmt, records)
        result = fold_files([path], WINDOW, POLICY)
    segs = {name: data for name, _kind, data in build_segments(result)}
    old = _old_segments(result)
    assert segs["rejects"] == old["rejects"]
    assert segs["allocations"] == old["allocations"]
    assert rejects_jsonl(result) == _old_rejects_jsonl(result.rejects)
    assert [r.to_dict() for r in result.rejects] == [dataclasses.asdict(r) for r in result.rejects]
    import vgos.report as report

    assert report._largest(result.allocations, max_rows) == _old_largest(result.allocations, max_rows)
    assert fold_summary(result, max_rows=max(max_rows, 0)) is not None
    assert markdown_allocations(result, limit=max(max_rows, 0)) is not None


_text = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(['q"', "b\\s", "t\tab", "😀", "\ue000", "a:7"]))


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(_text, st.sampled_from(["SCHEMA_INVALID", "DUPLICATE_EVENT"]), _text, _text, _text),
                max_size=8))
def test_rejects_segment_on_any_reject_values(rows: list[tuple]) -> None:
    rejects = [Reject(e, r, s if s is not None else "f.jsonl:1", f, dt) for e, r, s, f, dt in rows]
    entries = [_reject_entry(r) for r in rejects]
    assert entries == [_old_reject_entry(r) for r in rejects]
    assert rejects_segment_bytes(entries) == jcs_bytes(entries)
    assert rejects_jsonl(type("R", (), {"rejects": rejects})()) == _old_rejects_jsonl(rejects)


def test_rejects_segment_falls_back_for_other_values() -> None:
    odd = [{"event_id": 12, "reason": "SCHEMA_INVALID", "field": None, "source": "f:1"}]
    assert rejects_segment_bytes(odd) == jcs_bytes(odd)


_pid = st.text(min_size=1, max_size=8) | st.sampled_from(['],"schema":"vgos.seal/1",', '"]', "\\", "]"])


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(_pid, st.integers(-(2**53) + 1, 2**53 - 1)), max_size=5, unique_by=lambda t: t[0]))
def test_allocations_slice_of_any_seal(rows: list[tuple[str, int]]) -> None:
    seal = {"schema": "vgos.seal/1", "window": {"window_id": WINDOW}, "totals": {"events_kept": 1},
            "trailer": {"input_digest": "00"},
            "allocations": [{"principal_id": p, "events": 1, "net_minor": v, "bonus_floor_minor": 0,
                             "remainder_micro": 0, "carry_minor": 0, "payout_minor": v} for p, v in sorted(rows)]}
    raw = jcs_bytes(seal)
    assert allocations_segment_bytes(raw) == jcs_bytes(orjson.loads(raw)["allocations"])


def test_allocations_of_other_seal_bytes_are_reserialized() -> None:
    raw = b'{"schema":"vgos.seal/1", "allocations":[{"principal_id":"a","events":1}]}'
    assert allocations_segment_bytes(raw) == b'[{"events":1,"principal_id":"a"}]'
