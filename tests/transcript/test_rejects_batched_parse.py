"""`vgos verify` parses a large rejects segment in batches (so 1.7M reject objects never live at once: verify stays
within the fold's memory); the batched parse must answer exactly as the one-piece parse, or hand over to it.

Random arrays (ids and sources holding `},{"`, escaped quotes, nested objects and arrays of objects, non-object
elements, whitespace, truncation) with batches of a few bytes: the same (count, prior-window ids) or the same
REJECTS_MALFORMED failure as `orjson.loads` of the whole segment gives.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vgos.replay as replay
from tests.examples import examples
from vgos.events import DUPLICATE_PRIOR_WINDOW

_text = st.sampled_from(['},{"', '"},{"event_id":', "plain", "\\", "é", ""]) | st.text(max_size=8)
_value = st.recursive(st.none() | st.integers(-(2**53), 2**53) | _text,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                      max_leaves=6)
_reject = st.fixed_dictionaries({"event_id": _text, "field": st.none() | _text,
                                 "reason": st.sampled_from([DUPLICATE_PRIOR_WINDOW, "BEFORE_WINDOW", "X"]),
                                 "source": _text}, optional={"extra": _value})
_element = _reject | _value


def _whole(data: bytes) -> tuple[int, set] | str:
    try:
        entries = orjson.loads(data)
    except orjson.JSONDecodeError:
        return "REJECTS_MALFORMED"
    if not isinstance(entries, list) or not all(isinstance(r, dict) for r in entries):
        return "REJECTS_MALFORMED"
    return len(entries), {r.get("event_id") for r in entries if r.get("reason") == DUPLICATE_PRIOR_WINDOW}


def _batched(data: bytes) -> tuple[int, set] | str:
    try:
        return replay._rejects_facts(data)
    except replay._Fail as exc:
        return exc.reason


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(_reject, _element), max_size=12), st.integers(1, 40),
       st.sampled_from(["canonical", "spaced", "truncated"]))
def test_batched_parse_answers_as_the_whole_parse(elements: list, batch: int, form: str) -> None:
    data = orjson.dumps(elements, option=orjson.OPT_SORT_KEYS)
    if form == "spaced":
        data = data.replace(b",", b", ")
    elif form == "truncated" and len(data) > 3:
        data = data[:-2] + b"]"
    old = replay._REJECT_BATCH_BYTES
    replay._REJECT_BATCH_BYTES = batch
    try:
        assert _batched(data) == _whole(data)
    finally:
        replay._REJECT_BATCH_BYTES = old


def test_large_canonical_segment_is_parsed_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    rejects = [{"event_id": f"e{i}", "field": None, "reason": DUPLICATE_PRIOR_WINDOW if i % 7 == 0 else "X",
                "source": "f:1"} for i in range(5000)]
    data = orjson.dumps(rejects, option=orjson.OPT_SORT_KEYS)
    monkeypatch.setattr(replay, "_REJECT_BATCH_BYTES", 1000)
    seen: list[int] = []
    real = orjson.loads
    monkeypatch.setattr(replay.orjson, "loads", lambda b: (seen.append(len(b)), real(b))[1])
    assert replay._rejects_facts(data) == (5000, {f"e{i}" for i in range(0, 5000, 7)})
    assert len(seen) > 100 and max(seen) < 2000  # batches, never the whole segment
