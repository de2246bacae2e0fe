"""Hypothesis strategies for random settlement windows around the seed window's bounds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

WINDOW = "2025-09-23"
CUTOFF = dt.datetime(2025, 9, 23, 20, 50, tzinfo=dt.UTC)
EVENT_IDS = ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "é-9", "日本-10", "q\"11", "b\\12", "t\t13", "😀14"]
PRINCIPALS = ["CRE-0001", "CRE-0002", "CRE-0003", "Zoë", "ß-7", "😀", "a\"q", "Ωmega", "\ue000x"]


def _fmt_ts(t: dt.datetime, style: int) -> str:
    if style == 0:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "") + "Z"
    if style == 1:
        local = t.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
        return local.isoformat()
    local = t.astimezone(dt.timezone(-dt.timedelta(hours=7)))
    frac = f".{local.microsecond:06d}".rstrip("0") if local.microsecond else ""
    return local.strftime("%Y-%m-%dT%H:%M:%S") + frac + "-07:00"


@st.composite
def record(draw: st.DrawFn, ids: list[str] = EVENT_IDS) -> dict[str, Any]:
    """A record near the window bounds; mostly valid, sometimes broken in one field."""
    offset_s = draw(st.one_of(st.integers(-25 * 3600, 2 * 3600), st.sampled_from([0, 1, -86400, -86401])))
    micro = draw(st.sampled_from([0, 0, 0, 1, 500000, 999999]))
    t = CUTOFF + dt.timedelta(seconds=offset_s, microseconds=micro)
    rec = {
        "event_id": draw(st.sampled_from(ids)),
        "ts_occurred": _fmt_ts(t, draw(st.integers(0, 2))),
        "principal_id": draw(st.sampled_from(PRINCIPALS)),
        "amount_minor": draw(st.one_of(st.integers(-50_000, 1_000_000), st.sampled_from([0, 1, 999_999]))),
        "source_type": draw(st.sampled_from(["earning", "earning", "adjustment", "refund"])),
        "currency": draw(st.sampled_from(["USD", "USD", "USD", None, "EUR"])),
    }
    breakage = draw(st.integers(0, 19))
    if breakage == 0:
        rec["ts_occurred"] = "2025-09-23 11:00:00"
    elif breakage == 1:
        rec["source_type"] = "bonus"
    elif breakage == 2:
        rec["currency"] = "usd"
    elif breakage == 3:
        rec["event_id"] = ""
    elif breakage == 4:
        rec["ts_occurred"] = "2025-02-30T10:00:00Z"
    return rec


@st.composite
def window_records(draw: st.DrawFn, max_size: int = 40) -> list[dict[str, Any]]:
    """A list of records with some exact duplicates mixed in."""
    recs = draw(st.lists(record(), min_size=0, max_size=max_size))
    dups = draw(st.lists(st.integers(0, max(len(recs) - 1, 0)), max_size=5)) if recs else []
    return recs + [dict(recs[i]) for i in dups]
