"""The recon result digest with a million matches: the RFC 8785 bytes of ReconResult.to_dict(), matches as columns.

The bytes are the ones `jcs_bytes(result.to_dict())` gives (a property test holds them equal); only the match list
and the outcomes are serialized column-wise and hashed in chunks instead of as a million dicts. Every match member
is a string, null or a small integer; strings that need JSON escaping (or are not ASCII) are serialized one by one
by the canonical serializer itself.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import polars as pl

from recon.frames import MATCH_FIELDS, as_match_frame
from vgos.canonical import MAX_SAFE, CanonicalError, jcs_bytes, json_string

if TYPE_CHECKING:
    from recon.match import ReconResult

CHUNK = 100_000
_PLAIN = r"^[ !#-\[\]-~]*$"  # printable ASCII without '"' and '\': its JSON form is the text in quotes


def _json(col: pl.Series) -> pl.Series:
    """Each value's RFC 8785 text (null as `null`)."""
    if col.dtype == pl.Int64:
        if col.drop_nulls().len() and not (-MAX_SAFE <= col.min() and col.max() <= MAX_SAFE):  # type: ignore[operator]
            raise CanonicalError(f"matches.{col.name}: an integer outside ±(2^53−1) has no exact JSON form")
        return col.cast(pl.String).fill_null("null")
    if col.drop_nulls().str.contains(_PLAIN).all():
        quoted = pl.concat_str([pl.lit('"'), pl.lit(col), pl.lit('"')]).fill_null("null")
        return pl.select(quoted.alias(col.name)).to_series()
    return pl.Series(col.name, [("null" if v is None else json_string(v)) for v in col.to_list()], dtype=pl.String)


def _rows(frame: pl.DataFrame) -> pl.Series:
    """One JSON object per match, members in RFC 8785 order (the field names are ASCII: plain sort)."""
    parts: list[pl.Expr] = []
    for n, f in enumerate(sorted(MATCH_FIELDS)):
        parts += [pl.lit(("{" if n == 0 else ",") + json_string(f) + ":"), pl.col(f)]
    parts.append(pl.lit("}"))
    cols = pl.DataFrame([_json(frame[f]) for f in MATCH_FIELDS])
    return cols.select(pl.concat_str(parts).alias("row"))["row"]


def _outcomes(outcomes: dict[str, str]) -> list[bytes] | None:
    """The outcomes object's members in chunks of canonical bytes, or None when a key is not plain ASCII (its
    RFC 8785 order is by UTF-16 code units: the canonical serializer sorts it)."""
    frame = pl.DataFrame({"k": list(outcomes), "v": list(outcomes.values())}, schema={"k": pl.String, "v": pl.String})
    if not (frame["k"].str.contains(_PLAIN).all() and frame["v"].str.contains(_PLAIN).all()):
        return None
    rows = frame.sort("k").select(pl.concat_str([pl.lit('"'), "k", pl.lit('":"'), "v", pl.lit('"')]).alias("m"))["m"]
    return [rows.slice(k, CHUNK).str.join(",").item().encode() for k in range(0, rows.len(), CHUNK)]


def result_digest(result: ReconResult) -> str:
    """SHA-256 of jcs_bytes(result.to_dict()), streaming the matches and the outcomes."""
    chunks = _outcomes(result.outcomes)
    head, rest = jcs_bytes(result.to_dict(matches=False, outcomes=chunks is None)).split(b'"matches":[]')
    h = hashlib.sha256(head + b'"matches":[')
    rows = _rows(as_match_frame(result.matches))
    for k in range(0, rows.len(), CHUNK):
        chunk = rows.slice(k, CHUNK).str.join(",").item()
        h.update((b"," if k else b"") + chunk.encode("utf-8"))
    h.update(b"]")
    if chunks is None:
        h.update(rest)
    else:
        mid, tail = rest.split(b'"outcomes":{}')  # the one top-level member
        h.update(mid + b'"outcomes":{' + b",".join(chunks) + b"}" + tail)
    return h.hexdigest()
