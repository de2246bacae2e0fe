"""Column-wise canonical event arrays (transcript chunks) equal RFC 8785 and refuse anything non-canonical."""

from __future__ import annotations

import polars as pl
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos.fold import CANONICAL_EVENT_SCHEMA, canonical_events_bytes, events_from_canonical_bytes

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
event = st.fixed_dictionaries({
    "event_id": text, "ts_occurred": st.sampled_from(["2025-09-23T11:00:00Z", "2025-09-23T11:00:00.000001Z"]),
    "principal_id": text, "amount_minor": st.integers(-(2**53 - 1), 2**53 - 1),
    "source_type": st.sampled_from(["earning", "adjustment", "refund"]), "currency": st.just("USD"),
})


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(event, max_size=8))
def test_column_wise_bytes_equal_rfc8785_and_round_trip(events) -> None:
    df = pl.DataFrame(events, schema=CANONICAL_EVENT_SCHEMA)
    data = canonical_events_bytes(df)
    assert data == rfc8785.dumps(events)
    assert events_from_canonical_bytes(data).equals(df)


GOOD = rfc8785.dumps([{"amount_minor": 5, "currency": "USD", "event_id": "e1", "principal_id": "P",
                       "source_type": "earning", "ts_occurred": "2025-09-23T11:00:00Z"}])


@pytest.mark.parametrize("bad", [
    GOOD.replace(b'"amount_minor":5', b'"amount_minor":5.0'),
    GOOD.replace(b'"currency":"USD",', b'"currency":"USD","extra":1,'),
    GOOD.replace(b',"currency":"USD"', b""),
    GOOD.replace(b"[{", b"[ {"),
    GOOD.replace(b'"amount_minor":5,"currency":"USD"', b'"currency":"USD","amount_minor":5'),
    b"[{]",
])
def test_non_canonical_chunks_are_refused(bad: bytes) -> None:
    assert events_from_canonical_bytes(GOOD).height == 1
    with pytest.raises(ValueError):
        events_from_canonical_bytes(bad)
