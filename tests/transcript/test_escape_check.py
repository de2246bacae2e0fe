"""The escape check that picks the plain row builder is made on the values, not on the finished rows.

`vgos.canonical_rows` builds each chunk's canonical rows without escaping when no string value needs it, and
decides that from the value bytes of each string column (`_plain_values`, `_compact`) instead of scanning the
738 MB of rows. These properties hold the check to a per-character oracle of RFC 8785 (a quote, a backslash or a
character below U+0020 is escaped; nothing else is), on every Arrow layout the fold gives it (string views inline
and out of line, sliced, in several chunks, after a gather), and hold the rows it picks to `jcs_bytes`.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from vgos.canonical import jcs_bytes
from vgos.canonical_rows import _RENDERED_PLAIN, _compact, _plain_values, _row_bytes, _ts_strings
from vgos.fold import _seal_bytes_from_frame, allocations_body
from vgos.policy import load_policy, window_bounds

_COLS = ("event_id", "ts_occurred", "principal_id", "amount_minor", "source_type", "currency")
_plain_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\',
                                             min_codepoint=0x20), max_size=30)
_any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_escaping = st.sampled_from(['"', "\\", "\x00", "\x1f", "\n", "\t"])


def _needs_escape(value: str) -> bool:
    return any(ch in '"\\' or ord(ch) < 0x20 for ch in value)


@st.composite
def _chunks(draw: st.DrawFn) -> pl.DataFrame:
    """A chunk whose string columns may each hold one escaping value, in a random Arrow layout."""
    n = draw(st.integers(1, 40))
    cols: dict[str, list] = {
        "event_id": [draw(_plain_text) for _ in range(n)],
        "ts_occurred": [draw(st.sampled_from(["2025-09-23T11:00:00Z", "2025-09-22T20:50:00.000001Z"]))
                        for _ in range(n)],
        "principal_id": [draw(_plain_text) for _ in range(n)],
        "amount_minor": [draw(st.integers(-(2**53 - 1), 2**53 - 1)) for _ in range(n)],
        "source_type": [draw(st.sampled_from(["earning", "adjustment", "refund-with-a-long-name"])) for _ in range(n)],
        "currency": ["USD"] * n,
    }
    for name in draw(st.lists(st.sampled_from(["event_id", "principal_id", "ts_occurred", "source_type",
                                               "currency"]), max_size=2, unique=True)):
        i = draw(st.integers(0, n - 1))
        value = cols[name][i]
        at = draw(st.integers(0, len(value)))
        cols[name][i] = value[:at] + draw(_escaping) + value[at:]
    df = pl.DataFrame(cols, schema={c: pl.Int64 if c == "amount_minor" else pl.String for c in _COLS})
    layout = draw(st.sampled_from(["as built", "gathered", "sliced", "chunked"]))
    if layout == "gathered":  # views into the old buffers, as the fold-order gather leaves them
        df = df[pl.Series(draw(st.permutations(range(n))), dtype=pl.get_index_type())]
    elif layout == "sliced":
        pad = pl.DataFrame({c: [cols[c][0]] * 3 for c in _COLS}, schema=df.schema)
        df = pl.concat([pad, df, pad], rechunk=True).slice(3, n)
    elif layout == "chunked" and n > 1:
        cut = draw(st.integers(1, n - 1))
        df = pl.concat([df.slice(0, cut), df.slice(cut)], rechunk=False)
    return df


def _oracle(df: pl.DataFrame, currency: str | None) -> bool:
    names = ["event_id", "principal_id", "ts_occurred", "source_type", *([] if currency else ["currency"])]
    values = [v for c in names for v in df[c].to_list()] + ([currency] if currency else [])
    return not any(_needs_escape(v) for v in values)


@settings(max_examples=examples(150), deadline=None)
@given(_chunks(), st.sampled_from([None, "USD", 'U"D']))
def test_plain_check_agrees_with_a_per_character_oracle(df: pl.DataFrame, currency: str | None) -> None:
    expected = _oracle(df, currency)
    assert _plain_values(df, currency) is expected
    compacted, plain = _compact(df, currency)
    assert plain is expected
    assert compacted.equals(df)
    # the fold's chunks skip the check of the timestamps they render themselves; here that column may escape
    if not any(_needs_escape(v) for v in df["ts_occurred"].to_list()):
        compacted, plain = _compact(df, currency, _RENDERED_PLAIN)
        assert plain is expected and compacted.equals(df)


# The instants SPEC §1 can write: years 0001 to 9999.
_MIN_US, _MAX_US = -62_135_596_800_000_000, 253_402_300_799_999_999


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.integers(_MIN_US, _MAX_US) | st.sampled_from([0, -1, 1, _MIN_US, _MAX_US]), max_size=60),
       st.integers(0, 60_000))
def test_rendered_timestamps_never_need_escaping(instants: list[int], pad: int) -> None:
    """What `_compact` may take as plain without a look (`_RENDERED_PLAIN`): every string `_ts_strings` renders,
    on its table path too (50,000 values or more) and across many days, is free of what RFC 8785 escapes."""
    values = pl.Series((instants * (1 + pad // max(len(instants), 1)))[:max(pad, len(instants))], dtype=pl.Int64)
    rendered = _ts_strings(values).to_list()
    assert len(rendered) == len(values)
    assert not any(_needs_escape(v) for v in set(rendered))


@settings(max_examples=examples(100), deadline=None)
@given(_chunks())
def test_rows_equal_rfc8785_whenever_only_ids_may_escape(df: pl.DataFrame) -> None:
    """The fold's values: source type, currency and timestamps never escape (the intake checked them); ids may."""
    if any(_needs_escape(v) for c in ("ts_occurred", "source_type", "currency") for v in df[c].to_list()):
        return
    built = b"".join(bytes(b) for b in _row_bytes(df, None))
    members = [jcs_bytes(r) for r in df.select(sorted(df.columns)).to_dicts()]
    assert built == b"".join(m + b"," for m in members)


def test_an_escaping_constant_currency_is_never_plain() -> None:
    df = pl.DataFrame({c: ["x"] if c != "amount_minor" else [1] for c in _COLS})
    assert _plain_values(df, "USD")
    assert not _plain_values(df, "US\\D")
    assert not _compact(df, "US\x01")[1]


@pytest.mark.parametrize("principals", [["P1", "P2"], ['P"1', "P\\2", "P\x013", "Ünï"]])
def test_allocations_body_built_early_gives_the_same_seal(principals: list[str]) -> None:
    """The fold builds the seal's allocation objects while it hashes; the seal bytes are the same either way,
    and each object is its RFC 8785 form."""
    policy = load_policy()
    window = window_bounds("2025-09-23", policy)
    n = len(principals)
    g = pl.DataFrame({
        "principal_id": sorted(principals), "events": list(range(1, n + 1)), "net_minor": [100 * i for i in range(n)],
        "bonus_floor_minor": [10 * i for i in range(n)], "remainder_micro": [0] * n, "carry_minor": [0] * n,
        "payout_minor": [110 * i for i in range(n)],
    })
    body = allocations_body(g)
    assert body == b",".join(jcs_bytes(r) for r in g.to_dicts())
    early = _seal_bytes_from_frame(window, policy, "default", g, n, 0, "ab" * 32, None, body)[1]
    late = _seal_bytes_from_frame(window, policy, "default", g, n, 0, "ab" * 32, None)[1]
    assert early == late
