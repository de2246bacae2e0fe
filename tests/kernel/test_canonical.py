"""Canonical bytes checked against the rfc8785 package (the test oracle) on random seals."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos.canonical import CanonicalError, jcs_bytes

MAX = 2**53 - 1
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)
ints = st.integers(-MAX, MAX)
allocation = st.fixed_dictionaries({
    "principal_id": text, "events": st.integers(0, 10**6), "net_minor": ints, "bonus_floor_minor": ints,
    "remainder_micro": st.integers(0, 999_999), "carry_minor": st.integers(0, 1), "payout_minor": ints,
})
seal = st.fixed_dictionaries({
    "schema": st.just("vgos.seal/1"),
    "window": st.dictionaries(text, st.one_of(text, ints), max_size=6),
    "allocations": st.lists(allocation, max_size=8),
    "totals": st.dictionaries(st.sampled_from(["net_minor", "payout_minor", "events_kept"]), ints),
    "trailer": st.fixed_dictionaries({"fold_order": st.lists(text, max_size=2), "input_digest": text}),
})


@settings(max_examples=examples(300), deadline=None)
@given(seal)
def test_jcs_bytes_equal_rfc8785_on_random_seals(value) -> None:
    assert jcs_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=examples(300), deadline=None)
@given(st.recursive(st.one_of(st.none(), st.booleans(), ints, text),
                    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(text, c, max_size=4)),
                    max_leaves=20))
def test_jcs_bytes_equal_rfc8785_on_any_json(value) -> None:
    assert jcs_bytes(value) == rfc8785.dumps(value)


def test_non_bmp_member_names_sort_by_utf16_code_units() -> None:
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+E000 although its code point is larger.
    value = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert jcs_bytes(value) == rfc8785.dumps(value)
    assert jcs_bytes(value).index("\U0001f600".encode()) < jcs_bytes(value).index("\ue000".encode())


@pytest.mark.parametrize("bad", [1.5, 2**53, -(2**53), {"a": float("nan")}, {1: "x"}])
def test_values_without_exact_form_are_refused(bad) -> None:
    with pytest.raises(CanonicalError):
        jcs_bytes(bad)
