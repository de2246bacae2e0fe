"""Event schema (SPEC §1): readers for JSONL, JSON, CSV and Parquet, normalization to canonical events, rejects.

Two implementations of the same rules live here on purpose: `normalize_record` is the plain reference, one
record at a time; `normalize_frame` is the columnar fast path used for CSV and Parquet. Tests hold them equal.

Reading rules, the same on every path (README, "Event files"):
- Text (JSONL, JSON, CSV) is decoded by its byte order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE); without one it
  must be UTF-8. Undecodable text, or a NUL byte (UTF-16/32 without a BOM), makes the file unusable (exit 2).
- `.jsonl`/`.ndjson`: one JSON object per line. `.json`: a JSON array of events, or one event object; anything
  else is read as JSON Lines. In an array, a record's "line" is its position (1-based), like a Parquet row.
- A record with a duplicated key (at any depth), or nested deeper than `MAX_DEPTH` levels, is SCHEMA_INVALID;
  a `.json` array document that cannot be parsed (including nesting beyond `MAX_DEPTH`) is unusable (exit 2).
- A CSV header that names a column twice makes the file unusable (exit 2). An empty file has no records.
- Timestamps, integers and currency codes are ASCII only, with nothing before or after (no whitespace).
- `event_id` and `principal_id` must not contain control characters (U+0000..U+001F, U+007F..U+009F).
- Parquet string columns may be plain, large or dictionary-encoded (categorical).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from vgos.errors import InputError
from vgos.policy import canonical_ts

FIELDS = ("event_id", "ts_occurred", "principal_id", "amount_minor", "source_type", "currency")
REQUIRED = FIELDS[:5]
SOURCE_TYPES = ("earning", "adjustment", "refund")
MAX_SAFE = 2**53 - 1

SCHEMA_INVALID = "SCHEMA_INVALID"
DUPLICATE_PRIOR_WINDOW = "DUPLICATE_PRIOR_WINDOW"
DUPLICATE_EVENT = "DUPLICATE_EVENT"
EVENT_ID_CONFLICT = "EVENT_ID_CONFLICT"
CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
BEFORE_WINDOW = "BEFORE_WINDOW"
AFTER_CUTOFF = "AFTER_CUTOFF"
# In the order of the intake steps (SPEC §3); a record gets the reason of the first step that rejects it.
REASONS = (SCHEMA_INVALID, DUPLICATE_PRIOR_WINDOW, DUPLICATE_EVENT, EVENT_ID_CONFLICT, CURRENCY_MISMATCH,
           BEFORE_WINDOW, AFTER_CUTOFF)


def prior_detail(window_id: str) -> str:
    """The `detail` of a DUPLICATE_PRIOR_WINDOW reject: the window whose current seal kept the event id."""
    return f"kept in window {window_id}"

DETAIL = {
    "event_id": "must be a string of 1..128 characters without control characters",
    "ts_occurred": "must be an RFC 3339 timestamp with Z or a numeric offset and at most 6 fractional digits",
    "principal_id": "must be a string of 1..128 characters without control characters",
    "amount_minor": "must be an integer number of minor units with abs(value) <= 2^53-1",
    "source_type": "must be one of earning, adjustment, refund",
    "currency": "must be an ISO 4217 code of 3 upper-case letters",
}

# ASCII digits only (`\d` would take any Unicode digit), and Python matches them with `fullmatch` (its `$` also
# matches before a final newline; the polars/Rust `$` does not): the same strings pass on every path.
TS_RE = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$"
)
INT_RE = re.compile(r"^-?[0-9]+$")
CCY_RE = re.compile(r"^[A-Z]{3}$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, invalid in identifiers
CONTROL_CHARS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]  # the same set for polars `contains_any`
MAX_DEPTH = 64  # nesting levels of one JSON record (an event is flat; extra fields may nest a little)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MIN_TS_US = (dt.datetime(1, 1, 1, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
MAX_TS_US = (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}


@dataclass(frozen=True)
class Reject:
    """One record that was not kept, with its reason code and where it came from (file:line)."""

    event_id: str | None
    reason: str
    source: str
    field: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form written to rejects.jsonl (what `dataclasses.asdict` gives, without its generic deep copy)."""
        return {"event_id": self.event_id, "reason": self.reason, "source": self.source, "field": self.field,
                "detail": self.detail}


_new_object = object.__new__
_set_attr = object.__setattr__


def _rejects_from_columns(
    event_ids: list[str | None], reasons: list[str], sources: list[str]
) -> list[Reject]:
    """Many field-less Rejects at once, equal to `Reject(event_id, reason, source)` each.

    The frozen dataclass `__init__` sets one attribute at a time; filling the instance dict in one step is the
    same object for a fraction of the cost (Reject has no `__post_init__`, keep it that way or use `Reject(...)`).
    """
    out: list[Reject] = []
    append = out.append
    for eid, why, where in zip(event_ids, reasons, sources, strict=True):
        r = _new_object(Reject)
        _set_attr(r, "__dict__", {"event_id": eid, "reason": why, "source": where, "field": None, "detail": None})
        append(r)
    return out


class FieldError(ValueError):
    """A record breaks a rule of SPEC §1; `field` names the first offending field."""

    def __init__(self, field: str | None, detail: str) -> None:
        super().__init__(f"{field}: {detail}" if field else detail)
        self.field = field
        self.detail = detail


def ts_to_us(t: dt.datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact)."""
    return (t - EPOCH) // dt.timedelta(microseconds=1)


def us_to_canonical(us: int) -> str:
    """Canonical SPEC §1 timestamp string of an epoch-microsecond instant."""
    return canonical_ts(EPOCH + dt.timedelta(microseconds=us))


def parse_ts(value: Any) -> int:
    """Parse an RFC 3339 string (or an aware datetime from Parquet) into epoch microseconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise FieldError("ts_occurred", "naive timestamp (no time zone)")
        us = ts_to_us(value)
    elif isinstance(value, str):
        m = TS_RE.fullmatch(value)
        if not m:
            raise FieldError("ts_occurred", DETAIL["ts_occurred"])
        y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
        if int(oh or 0) > 23 or int(om or 0) > 59:
            raise FieldError("ts_occurred", "offset out of range")
        try:
            local = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                                int((frac or "").ljust(6, "0")), tzinfo=dt.UTC)
        except ValueError as exc:
            raise FieldError("ts_occurred", f"not a valid date and time: {exc}") from None
        offset_s = 0 if z else (1 if sign == "+" else -1) * (int(oh) * 3600 + int(om) * 60)
        us = ts_to_us(local) - offset_s * 1_000_000
    else:
        raise FieldError("ts_occurred", DETAIL["ts_occurred"])
    if not MIN_TS_US <= us <= MAX_TS_US:
        raise FieldError("ts_occurred", "instant outside years 0001..9999 UTC")
    return us


def _check_str(rec: dict[str, Any], field: str) -> str:
    v = rec.get(field)
    if not isinstance(v, str) or not 1 <= len(v) <= 128 or CONTROL_RE.search(v):
        raise FieldError(field, DETAIL[field])
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError(field, "contains a lone surrogate (not valid Unicode text)") from None
    return v


def _check_amount(v: Any, mode: str) -> int:
    if isinstance(v, bool):
        raise FieldError("amount_minor", DETAIL["amount_minor"])
    if isinstance(v, int) and mode in ("json", "parquet"):
        n = v
    elif isinstance(v, str) and mode in ("text", "parquet") and INT_RE.fullmatch(v):
        n = int(v)
    else:
        raise FieldError("amount_minor", DETAIL["amount_minor"])
    if abs(n) > MAX_SAFE:
        raise FieldError("amount_minor", DETAIL["amount_minor"])
    return n


def normalize_record(rec: Any, *, mode: str, default_currency: str) -> dict[str, Any]:
    """Reference normalization of one record into a canonical event plus `_ts_us` (raises FieldError).

    mode: "json" (JSON types are checked), "text" (CSV: every value a string), "parquet" (typed columns).
    """
    if not isinstance(rec, dict):
        raise FieldError(None, "record is not a JSON object")
    if isinstance(rec, _Obj) and rec.dup is not None:
        raise FieldError(*rec.dup)
    event_id = _check_str(rec, "event_id")
    ts_us = parse_ts(rec.get("ts_occurred"))
    principal_id = _check_str(rec, "principal_id")
    amount = _check_amount(rec.get("amount_minor"), mode)
    source_type = rec.get("source_type")
    if source_type not in SOURCE_TYPES or not isinstance(source_type, str):
        raise FieldError("source_type", DETAIL["source_type"])
    ccy = rec.get("currency")
    if ccy is None or (mode == "text" and ccy == ""):
        ccy = default_currency
    elif not isinstance(ccy, str) or not CCY_RE.fullmatch(ccy):
        raise FieldError("currency", DETAIL["currency"])
    return {
        "event_id": event_id,
        "ts_occurred": us_to_canonical(ts_us),
        "principal_id": principal_id,
        "amount_minor": amount,
        "source_type": source_type,
        "currency": ccy,
        "_ts_us": ts_us,
    }


# ---------------------------------------------------------------------------------------------- readers


def detect_format(path: Path) -> str:
    """Format from the file suffix (.jsonl/.ndjson, .json, .csv, .parquet/.pq)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None and not path.exists():
        raise InputError(f"{path}: no such events file")
    if fmt is None:
        raise InputError(f"{path}: unknown event file type {path.suffix!r} (expected .jsonl, .json, .csv or "
                         ".parquet)")
    return fmt


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an events file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read events: {exc.strerror or exc}") from None


# Byte order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\xef\xbb\xbf", "utf-8"),
         (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))


def _bom(head: bytes) -> tuple[str | None, int]:
    """(encoding, length) of the byte order mark at the start of `head`, or (None, 0)."""
    for mark, enc in _BOMS:
        if head.startswith(mark):
            return enc, len(mark)
    return None, 0


def _line_at(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError, line: int | None = None) -> InputError:
    """The one-line error for undecodable text: file, line, and what was wrong."""
    where = line if line is not None else _line_at(data, exc.start)
    return InputError(f"{path}: line {where}: not UTF-8 text ({exc.reason}); UTF-16 and UTF-32 files need a byte "
                      "order mark")


def _utf8_text(path: Path, data: bytes) -> bytes:
    """A text file's bytes as UTF-8 without a byte order mark: decoded by its BOM, else taken as UTF-8.

    UTF-8 validity of BOM-less data is checked by the caller (lazily, where it parses); a NUL byte is refused
    here: no events file holds one, and UTF-16/UTF-32 text without a BOM is full of them.
    """
    enc, n = _bom(data[:4])
    if enc is not None and enc != "utf-8":
        try:
            data = data[n:].decode(enc).encode("utf-8")
        except UnicodeError as exc:
            prefix = data[n:n + exc.start].decode(enc, errors="replace") if isinstance(exc, UnicodeDecodeError) \
                else ""
            raise InputError(f"{path}: line {prefix.count(chr(10)) + 1}: not valid {enc.upper()} text") from None
    elif n:
        data = data[n:]
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{path}: line {_line_at(data, nul)}: NUL byte: not UTF-8 text (UTF-16 and UTF-32 files "
                         "need a byte order mark)")
    return data


class _Obj(dict):
    """A JSON object from the duplicate-checking parser; `dup` = (field, detail) when a key repeats inside it."""

    __slots__ = ("dup",)


def _pairs(pairs: list[tuple[str, Any]]) -> _Obj:
    obj = _Obj(pairs)
    obj.dup = None
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                obj.dup = (k, f"key {k!r} appears more than once")
                break
            seen.add(k)
    else:
        for k, v in pairs:
            if _holds_dup(v):
                obj.dup = (k, "holds an object with a duplicated key")
                break
    return obj


def _holds_dup(v: Any) -> bool:
    if isinstance(v, _Obj):
        return v.dup is not None
    return isinstance(v, list) and any(_holds_dup(x) for x in v)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _depth_exceeded(raw: bytes, limit: int) -> int | None:
    """Byte offset (in `raw` without its string literals) where nesting first exceeds `limit`, else None."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return None
    bare = _STRING_RE.sub(b'""', raw)
    a = np.frombuffer(bare, dtype=np.uint8)
    step = ((a == 0x5B) | (a == 0x7B)).astype(np.int32) - ((a == 0x5D) | (a == 0x7D)).astype(np.int32)
    depth = np.cumsum(step)
    over = np.flatnonzero(depth > limit)
    return int(over[0]) if over.size else None


def _slow_json(raw: bytes) -> Any:
    """Parse with the stdlib (duplicate keys marked, depth bounded); raises FieldError or UnicodeDecodeError."""
    text = raw.decode("utf-8")
    if _depth_exceeded(raw, MAX_DEPTH) is not None:
        raise FieldError(None, f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise FieldError(None, f"invalid JSON: {str(exc).splitlines()[0]}") from None


def _unique_keys(raw: bytes, value: Any) -> bool:
    """True when orjson's `value` is exactly what `raw` says: no key repeated (orjson keeps the last silently).

    Every colon of a JSON text separates one key from its value or sits inside a string (only a `\\u003a` escape
    hides one), and orjson writes no escaped colon: so equal colon counts prove that no key was dropped.
    """
    return b"\\u003" not in raw and orjson.dumps(value).count(b":") == raw.count(b":")


def _flat(v: Any) -> bool:
    """An array element that nests at most two levels (a scalar, or an object of scalars)."""
    if type(v) is dict:
        return not any(type(x) is dict or type(x) is list for x in v.values())
    return type(v) is not list


def _shallow(raw: bytes) -> bool:
    """Cheap proof that a record nests at most MAX_DEPTH levels (else `_slow_json` measures it)."""
    return raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH


def _json_record(path: Path, no: int, raw: bytes) -> Any:
    """One JSON text holding one record: its value, or a FieldError when it is not usable JSON."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if _shallow(raw) and _unique_keys(raw, value):
            return value
    try:
        return _slow_json(raw)
    except FieldError as err:
        return err
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, raw, exc, no) from None


def _iter_lines(path: Path, data: bytes) -> Iterator[tuple[int, Any]]:
    for no, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.strip()
        if line:
            yield no, _json_record(path, no, line)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed value or FieldError) for each non-blank line of a JSONL file."""
    yield from _iter_lines(path, _utf8_text(path, _read_bytes(path)))


def iter_json(path: Path) -> Iterator[tuple[int, Any]]:
    """A `.json` file: a JSON array of events (line = position), one event object, or else JSON Lines."""
    data = _utf8_text(path, _read_bytes(path))
    body = data.strip()
    if not body:
        return
    first = _line_at(data, len(data) - len(data.lstrip()))
    if body[:1] == b"[":
        yield from enumerate(_json_array(path, body, first), start=1)
        return
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        try:  # the stdlib also takes what orjson refuses (a lone surrogate escape): then still one document
            _slow_json(body)
        except (FieldError, UnicodeDecodeError):  # not one JSON document: read it line by line
            yield from _iter_lines(path, data)
            return
    yield first, _json_record(path, first, body)


def _json_array(path: Path, body: bytes, first_line: int) -> list[Any]:
    """The elements of a JSON array document; an unparsable document is unusable input (one line, exit 2)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, list) and all(map(_flat, value)) and _unique_keys(body, value):
        return value
    where = _depth_exceeded(body, MAX_DEPTH + 1)
    if where is not None:
        bare = _STRING_RE.sub(b'""', body)  # raw newlines never sit inside a JSON string: line numbers hold
        raise InputError(f"{path}: line {first_line - 1 + _line_at(bare, where)}: JSON nested deeper than "
                         f"{MAX_DEPTH} levels in an event")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, body, exc) from None
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", 1)
        raise InputError(f"{path}: line {first_line - 1 + line}: not a JSON array of events: "
                         f"{getattr(exc, 'msg', str(exc))}") from None
    if not isinstance(value, list):
        raise InputError(f"{path}: line {first_line}: not a JSON array of events")
    return value


def _csv_rows(path: Path, data: bytes) -> csv.DictReader | None:
    """A DictReader over a CSV file's text, header checked; None when the file holds nothing."""
    data = _utf8_text(path, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc) from None
    if not text.strip():
        return None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    names = reader.fieldnames or []
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        raise InputError(f"{path}: line 1: the header names column {dup!r} more than once")
    _require_columns(path, names)
    return reader


def iter_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row of strings); the header is line 1."""
    reader = _csv_rows(path, _read_bytes(path))
    if reader is None:
        return
    for i, row in enumerate(reader):
        yield i + 2, row


def iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number from 1, row) of a Parquet file with Python values."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for unreadable files
        raise InputError(f"{path}: cannot read Parquet: {_first_line(exc)}") from None
    _require_unique(path, table.column_names)
    _require_columns(path, table.column_names)
    for i, row in enumerate(table.to_pylist()):
        yield i + 1, row


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _require_unique(path: Path, names: list[str]) -> None:
    dup = next((n for i, n in enumerate(names) if n in FIELDS and n in names[:i]), None)
    if dup is not None:
        raise InputError(f"{path}: column {dup!r} appears more than once")


def _require_columns(path: Path, names: list[str]) -> None:
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        raise InputError(f"{path}: line 1: missing required column(s) {', '.join(missing)}")


_READERS = {"jsonl": iter_jsonl, "json": iter_json, "csv": iter_csv, "parquet": iter_parquet}
_MODES = {"jsonl": "json", "json": "json", "csv": "text", "parquet": "parquet"}


def read_reference(path: Path, default_currency: str) -> tuple[list[dict[str, Any]], list[tuple[int, Reject]]]:
    """Reference reader: normalize every record of one file one by one; returns kept events and rejects."""
    fmt = detect_format(path)
    mode = _MODES[fmt]
    kept: list[dict[str, Any]] = []
    rejects: list[tuple[int, Reject]] = []
    for line, rec in _READERS[fmt](path):
        try:
            if isinstance(rec, FieldError):
                raise rec
            ev = normalize_record(rec, mode=mode, default_currency=default_currency)
            ev["_line"] = line
            kept.append(ev)
        except FieldError as err:
            eid = rec.get("event_id") if isinstance(rec, dict) else None
            if isinstance(rec, _Obj) and rec.dup is not None and rec.dup[0] == "event_id":
                eid = None  # which of the repeated ids would be arbitrary
            rejects.append((line, Reject(eid if isinstance(eid, str) else None, SCHEMA_INVALID,
                                         f"{path}:{line}", err.field, err.detail)))
    return kept, rejects

# ---------------------------------------------------------------------------------------------- fast path

CANON_SCHEMA = {
    "event_id": pl.String, "ts_us": pl.Int64, "principal_id": pl.String, "amount_minor": pl.Int64,
    "source_type": pl.String, "currency": pl.String, "_line": pl.Int64,
}


def _days_from_civil(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm, integers only)."""
    y2 = y - (m <= 2).cast(pl.Int64)
    era = y2 // 400
    yoe = y2 - era * 400
    mp = pl.when(m > 2).then(m - 3).otherwise(m + 9)
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y: pl.Expr, m: pl.Expr) -> pl.Expr:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return (
        pl.when(m == 2).then(pl.when(leap).then(29).otherwise(28))
        .when(m.is_in([4, 6, 9, 11])).then(30)
        .otherwise(31)
    )


def _ts_string_to_us(col: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Vectorized RFC 3339 parse: (valid mask, epoch microseconds)."""
    g = col.str.extract_groups(TS_RE.pattern)
    names = ["y", "mo", "d", "h", "mi", "s", "frac", "z", "sign", "oh", "om"]
    parts = {n: g.struct.field(str(i + 1)) for i, n in enumerate(names)}
    num = {n: parts[n].cast(pl.Int64, strict=False) for n in ("y", "mo", "d", "h", "mi", "s", "oh", "om")}
    frac = parts["frac"].fill_null("").str.pad_end(6, "0").cast(pl.Int64, strict=False)
    off = pl.when(parts["z"].is_not_null()).then(0).otherwise(
        pl.when(parts["sign"] == "+").then(1).otherwise(-1) * (num["oh"] * 3600 + num["om"] * 60)
    )
    days = _days_from_civil(num["y"], num["mo"], num["d"])
    secs = days * 86400 + num["h"] * 3600 + num["mi"] * 60 + num["s"] - off
    us = secs * 1_000_000 + frac
    valid = (
        col.str.contains(TS_RE.pattern).fill_null(False)
        & num["y"].is_between(1, 9999) & num["mo"].is_between(1, 12)
        & (num["d"] >= 1) & (num["d"] <= _days_in_month(num["y"], num["mo"]))
        & (num["h"] <= 23) & (num["mi"] <= 59) & (num["s"] <= 59)
        & (parts["z"].is_not_null() | ((num["oh"] <= 23) & (num["om"] <= 59)))
    )
    valid = valid.fill_null(False) & us.is_between(MIN_TS_US, MAX_TS_US).fill_null(False)
    return valid, us


def _str_rule(df: pl.DataFrame, name: str, printable: frozenset[str] = frozenset()) -> pl.Expr:
    """1..128 characters, no control character; the per-value search for control characters is left out for a
    column in `printable` (one whose bytes a scan found all printable ASCII: `_printable`)."""
    if df.schema[name] != pl.String:
        return pl.lit(False)
    c = pl.col(name)
    rule = c.str.len_chars().is_between(1, 128)
    if name not in printable:
        rule = rule & ~c.str.contains_any(CONTROL_CHARS)
    return rule.fill_null(False)


_ID_FIELDS = ("event_id", "principal_id")  # the free-text fields `_str_rule` checks


def _printable(df: pl.DataFrame) -> frozenset[str]:
    """The id columns of `df` whose value bytes are all printable ASCII (then none holds a control character): a
    few numpy reductions a column instead of a search of every value for 65 characters."""
    from vgos.string_bytes import printable_ascii

    cols = [c for c in _ID_FIELDS if df.height and df.schema.get(c) == pl.String]
    if df.height < _TS_SPLIT:
        return frozenset(c for c in cols if printable_ascii(df[c]))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(cols) or 1) as pool:  # the export, the copies and numpy free the GIL
        found = list(pool.map(lambda c: printable_ascii(df[c]), cols))
    return frozenset(c for c, ok in zip(cols, found, strict=True) if ok)


def _amount_rule(df: pl.DataFrame, mode: str) -> tuple[pl.Expr, pl.Expr]:
    dtype = df.schema["amount_minor"]
    c = pl.col("amount_minor")
    if dtype.is_integer() and mode == "parquet":
        if dtype == pl.UInt64:
            ok = c <= MAX_SAFE
            return ok.fill_null(False), pl.when(ok).then(c).cast(pl.Int64)
        v = c.cast(pl.Int64)
        # a range test, never abs(): abs(-2^63) wraps to -2^63 in Int64 and would pass a bound on abs
        return v.is_between(-MAX_SAFE, MAX_SAFE).fill_null(False), v
    if dtype == pl.String:
        stripped = c.str.replace(r"^(-?)0+([0-9])", "${1}${2}")
        shape = c.str.contains(INT_RE.pattern).fill_null(False) & (
            stripped.str.len_bytes() <= 17
        ).fill_null(False)
        v = pl.when(shape).then(stripped).cast(pl.Int64, strict=False)
        return (shape & v.is_between(-MAX_SAFE, MAX_SAFE)).fill_null(False), v
    return pl.lit(False), pl.lit(None, dtype=pl.Int64)


def _canonical_ts_to_us(col: pl.Series) -> pl.Series | None:
    """Epoch µs when every value is already in the canonical SPEC §1 form (checked by formatting it back).

    The common case (normalized logs, replays, well-formed drops) then skips the general RFC 3339 parser; any
    other value (an offset, fewer fractional digits, a null) sends the whole column down the general path.
    """
    if col.len() == 0 or col.null_count():
        return None
    if col.len() >= _TS_SPLIT:  # each polars parse/format call runs on one thread: two halves side by side
        from concurrent.futures import ThreadPoolExecutor

        half = col.len() // 2
        with ThreadPoolExecutor(max_workers=2) as pool:
            parts = list(pool.map(_canonical_part, [col.slice(0, half), col.slice(half)]))
        if parts[0] is None or parts[1] is None:
            return None
        return parts[0].append(parts[1]).alias("ts_us")
    return _canonical_part(col)


_TS_SPLIT = 200_000


_CANONICAL_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$"
_US_DAY = 86_400_000_000


_TS_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18], dtype=np.intp)
_TS_SEPARATORS = {4: ord("-"), 7: ord("-"), 10: ord("T"), 13: ord(":"), 16: ord(":")}


def _fixed_width_ts_us(col: pl.Series) -> pl.Series | None:
    """`_civil_ts_us` for the usual column, whose strings all have one length (20: whole seconds, 27: with a
    fraction): the digits read as one byte matrix with numpy, no per-field string slices. None whenever it cannot
    decide on its own (another shape, mixed lengths, a null, a bad value): `_civil_ts_us` then decides."""
    import pyarrow as pa

    n = len(col)
    if n == 0 or col.null_count():
        return None
    arr = col.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + n + 1]
    width = int(offsets[1] - offsets[0])
    if width not in (20, 27) or int(offsets[-1] - offsets[0]) != width * n:
        return None  # mixed lengths: the general path
    rows = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(n, width)
    seps = {**_TS_SEPARATORS, **({19: ord("."), 26: ord("Z")} if width == 27 else {19: ord("Z")})}
    for at, byte in seps.items():
        if not (rows[:, at] == byte).all():
            return None
    digit_cols = np.concatenate([_TS_DIGITS, np.arange(20, 26)]) if width == 27 else _TS_DIGITS
    if not ((rows[:, digit_cols] - np.uint8(48)) <= 9).all():  # uint8 wraps below '0': one test per byte
        return None

    def field(at: int, count: int) -> np.ndarray:
        out = rows[:, at].astype(np.int64) - 48
        for k in range(at + 1, at + count):
            out = out * 10 + (rows[:, k].astype(np.int64) - 48)
        return out

    y, m, d, hh, mi, ss = field(0, 4), field(5, 2), field(8, 2), field(11, 2), field(14, 2), field(17, 2)
    frac = field(20, 6) if width == 27 else np.zeros(n, dtype=np.int64)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = np.where(m == 2, np.where(leap, 29, 28), np.where(np.isin(m, (4, 6, 9, 11)), 30, 31))
    valid = ((y >= 1) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= dim) & (hh < 24) & (mi < 60) & (ss < 60)
             & ((frac > 0) if width == 27 else True))
    if not valid.all():
        return None
    yy = y - (m <= 2)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146_097 + doe - 719_468
    us = days * _US_DAY + hh * 3_600_000_000 + mi * 60_000_000 + ss * 1_000_000 + frac
    return pl.Series("ts_us", us, dtype=pl.Int64)


def _civil_ts_us(col: pl.Series) -> pl.Series | None:
    """Epoch µs of strings that are all in the canonical SPEC §1 form with a valid calendar date and time of day
    (years 0001–9999, no leap second, a fraction only when non-zero), by integer arithmetic on their digits; None
    when any value is not (the caller then takes the formatting round trip, which decides)."""
    fixed = _fixed_width_ts_us(col)
    return fixed if fixed is not None else _civil_ts_us_polars(col)


def _civil_ts_us_polars(col: pl.Series) -> pl.Series | None:
    """`_civil_ts_us` on any mix of shapes, with polars string slices (the reference for the numpy fast path)."""
    frame = pl.DataFrame({"s": col})
    s = pl.col("s")
    if not frame.select(s.str.contains(_CANONICAL_SHAPE).all()).item():
        return None

    def num(start: int, length: int) -> pl.Expr:
        return s.str.slice(start, length).cast(pl.Int64)

    long = s.str.len_bytes() == 27
    f = frame.select(y=num(0, 4), m=num(5, 2), d=num(8, 2), hh=num(11, 2), mi=num(14, 2), ss=num(17, 2),
                     frac=pl.when(long).then(num(20, 6)).otherwise(0), long=long)
    y, m, d = pl.col("y"), pl.col("m"), pl.col("d")
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = (pl.when(m == 2).then(pl.when(leap).then(29).otherwise(28))
           .when(m.is_in([4, 6, 9, 11])).then(30).otherwise(31))
    valid = ((y >= 1) & m.is_between(1, 12) & (d >= 1) & (d <= dim) & (pl.col("hh") < 24) & (pl.col("mi") < 60)
             & (pl.col("ss") < 60) & (~pl.col("long") | (pl.col("frac") > 0)))
    if not f.select(valid.all()).item():
        return None
    # days from the civil date (H. Hinnant's algorithm; every year here is >= 0 after the March shift)
    yy = y - (m <= 2).cast(pl.Int64)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (m + pl.when(m > 2).then(-3).otherwise(9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146_097 + doe - 719_468
    us = (days * _US_DAY + pl.col("hh") * 3_600_000_000 + pl.col("mi") * 60_000_000 + pl.col("ss") * 1_000_000
          + pl.col("frac"))
    return f.select(us.alias("ts_us")).to_series()


def _canonical_part(col: pl.Series) -> pl.Series | None:
    """`_canonical_ts_to_us` of a slice without nulls (element-wise, so halves can be done apart)."""
    fast = _civil_ts_us(col)
    return fast if fast is not None else _round_trip_ts_us(col)


def _round_trip_ts_us(col: pl.Series) -> pl.Series | None:
    """Epoch µs when every value parses with the canonical format and formats back to itself, else None: the
    definition the digit arithmetic of `_civil_ts_us` must agree with (tests hold it to this)."""
    parsed = col.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%.fZ", strict=False)
    if parsed.null_count():
        return None
    us = parsed.dt.epoch("us")
    back = pl.select(pl.when(us % 1_000_000 == 0).then(parsed.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
                     .otherwise(parsed.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))).to_series()
    if not (back == col).all():
        return None
    return us.alias("ts_us")


def _ts_rule(df: pl.DataFrame, canonical_ts: pl.Series | None = None) -> tuple[pl.Expr, pl.Expr]:
    dtype = df.schema["ts_occurred"]
    c = pl.col("ts_occurred")
    if dtype == pl.String:
        fast = _canonical_ts_to_us(df["ts_occurred"]) if canonical_ts is None else canonical_ts
        if fast is not None:
            return pl.lit(True), pl.lit(fast)
        return _ts_string_to_us(c)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        raw = c.dt.convert_time_zone("UTC").dt.epoch("ns") if dtype.time_unit == "ns" else None
        if raw is not None:
            ok = (raw % 1000 == 0).fill_null(False)
            us = raw // 1000
        else:
            us = c.dt.epoch("us")
            ok = us.is_not_null()
        return ok & us.is_between(MIN_TS_US, MAX_TS_US).fill_null(False), us
    return pl.lit(False), pl.lit(None, dtype=pl.Int64)


def _ccy_rule(df: pl.DataFrame, mode: str, default_currency: str) -> tuple[pl.Expr, pl.Expr]:
    if "currency" not in df.columns:
        return pl.lit(True), pl.lit(default_currency)
    c = pl.col("currency")
    if df.schema["currency"] == pl.Null:
        return pl.lit(True), pl.lit(default_currency)
    if df.schema["currency"] != pl.String:
        return c.is_null(), pl.lit(default_currency)
    if CCY_RE.match(default_currency) and df.height and df.select(
        (c == default_currency).fill_null(False).all()
    ).item():
        return pl.lit(True), c  # every value is already the default currency (a valid code): skip the pattern
    absent = c.is_null() | ((c == "") if mode == "text" else pl.lit(False))
    ok = absent | c.str.contains(CCY_RE.pattern).fill_null(False)
    return ok.fill_null(False), pl.when(absent).then(pl.lit(default_currency)).otherwise(c)


def _checks(df: pl.DataFrame, v_ts: pl.Expr, v_amt: pl.Expr, v_ccy: pl.Expr,
            printable: frozenset[str] = frozenset()) -> list[tuple[str, pl.Expr]]:
    """(field, row is valid) per field in field order: one list for `normalize_frame` and the checked Parquet read
    (`printable`: id columns known to hold only printable ASCII, see `_str_rule`)."""
    v_st = (
        pl.col("source_type").is_in(SOURCE_TYPES).fill_null(False)
        if df.schema["source_type"] == pl.String else pl.lit(False)
    )
    return [("event_id", _str_rule(df, "event_id", printable)), ("ts_occurred", v_ts),
            ("principal_id", _str_rule(df, "principal_id", printable)), ("amount_minor", v_amt),
            ("source_type", v_st), ("currency", v_ccy)]


def normalize_frame(
    df: pl.DataFrame, *, source: str, mode: str, default_currency: str, canonical_ts: pl.Series | None = None,
    valid: bool = False, printable: frozenset[str] | None = None,
) -> tuple[pl.DataFrame, list[tuple[int, Reject]]]:
    """Columnar normalization of one file's rows (with `_line`): canonical columns and SCHEMA_INVALID rejects.

    `canonical_ts`, when the caller already has it, is `_canonical_ts_to_us(df["ts_occurred"])` (not None).
    `valid=True`: the caller evaluated these checks on every row of `df` (`_read_parquet_checked`), all passed.
    `printable`: `_printable(df)` when the caller has it already."""
    _require_columns(Path(source), df.columns)
    v_ts, ts_us = _ts_rule(df, canonical_ts)
    v_amt, amt = _amount_rule(df, mode)
    v_ccy, ccy = _ccy_rule(df, mode, default_currency)
    if valid:
        printable = frozenset()  # the checks are not evaluated
    elif printable is None:
        printable = _printable(df)
    checks = _checks(df, v_ts, v_amt, v_ccy, printable)
    eid = pl.col("event_id") if df.schema["event_id"] == pl.String else pl.lit(None, dtype=pl.String)
    if df.height and (valid or df.select(pl.all_horizontal([ok for _, ok in checks]).all().alias("ok")).item()):
        # Every row is valid (the common case): no reject bookkeeping, no filtering copies.
        kept = df.select(
            eid.alias("event_id"), ts_us.alias("ts_us"), pl.col("principal_id").cast(pl.String, strict=False),
            amt.alias("amount_minor"), pl.col("source_type").cast(pl.String, strict=False),
            ccy.alias("currency"), pl.col("_line"),
        ).cast(CANON_SCHEMA)
        return kept, []
    bad_field = pl.lit(None, dtype=pl.String)
    for name, ok in reversed(checks):
        bad_field = pl.when(~ok).then(pl.lit(name)).otherwise(bad_field)
    out = df.select(
        eid.alias("event_id"), ts_us.alias("ts_us"), pl.col("principal_id").cast(pl.String, strict=False),
        amt.alias("amount_minor"), pl.col("source_type").cast(pl.String, strict=False),
        ccy.alias("currency"), pl.col("_line"), bad_field.alias("_bad"),
    )
    bad = out.filter(pl.col("_bad").is_not_null())
    rejects = [
        (line, Reject(e, SCHEMA_INVALID,
                      f"{source}:{line}", f, DETAIL[f]))
        for e, line, f in zip(bad["event_id"], bad["_line"], bad["_bad"], strict=True)
    ]
    kept = out.filter(pl.col("_bad").is_null()).drop("_bad").cast(CANON_SCHEMA)
    return kept, rejects


_SMALL = 1 << 16  # CSV files up to this size are decoded in Python and handed to polars as bytes


def _csv_source(path: Path) -> str | bytes | None:
    """What polars reads for a CSV file: its path, or its UTF-8 bytes (BOM decoded); None for an empty file.

    A large BOM-less or UTF-8-BOM file stays a path (polars maps it and strips a UTF-8 BOM itself) after a NUL
    scan of the mapped bytes; UTF-8 validity is then checked by polars.
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(4)
            enc, _ = _bom(head)
            if size <= _SMALL or enc not in (None, "utf-8"):
                data = _utf8_text(path, head + fh.read())
                return data if data.strip() else None
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                nul = mm.find(b"\x00")
                if nul >= 0:
                    _utf8_text(path, mm[:nul + 1])  # raises, naming the line
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an events file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read events: {exc.strerror or exc}") from None
    return str(path)


def _read_frame_csv(path: Path) -> pl.DataFrame | None:
    source = _csv_source(path)
    if source is None:
        return None
    try:
        df = pl.read_csv(source, infer_schema=False, encoding="utf8")
    except Exception as exc:  # noqa: BLE001 - polars raises several types for unreadable CSV
        # The reference reader names the line of bad UTF-8 (or a bad header); else report what polars says.
        reader = _csv_rows(path, source if isinstance(source, bytes) else _read_bytes(path))
        if reader is None:
            return None  # only blank lines
        width = len(reader.fieldnames or [])
        for row in reader:  # name the first row polars could not take: a wrong number of fields
            found = width + len(row.get(None) or []) - sum(1 for k, v in row.items() if k is not None and v is None)
            if found != width:
                raise InputError(f"{path}: line {reader.line_num}: expected {width} fields, found {found}") from None
        raise InputError(f"{path}: cannot read CSV: {_first_line(exc)}") from None
    if any("_duplicated_" in c for c in df.columns) or any(f not in df.columns for f in REQUIRED):
        # polars renames a repeated header, and takes a blank line for one: check the header as the reference does
        if _csv_rows(path, source if isinstance(source, bytes) else _read_bytes(path)) is None:
            return None
    # CSV has no null: an empty cell is the empty string, as the csv module reads it.
    df = df.with_columns(pl.all().fill_null(""))
    return df.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64))


def _read_frame_parquet(path: Path, default_currency: str | None = None) -> pl.DataFrame:
    """The file's event columns and `_line`; with `default_currency`, also `_ok`: the row passes every check of
    `normalize_frame` (evaluated while the file is decoded, on its threads), when the checks allow it."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        _require_unique(path, names)
        schema = pl.read_parquet_schema(path)
        cols = [c for c in FIELDS if c in schema]
        # Dictionary-encoded (categorical) strings are strings: read them as such.
        exprs = [pl.col(c).cast(pl.String) if isinstance(schema[c], (pl.Categorical, pl.Enum)) else pl.col(c)
                 for c in cols]
        ok = None if default_currency is None else _row_check(
            {c: pl.String if isinstance(schema[c], (pl.Categorical, pl.Enum)) else schema[c] for c in cols},
            default_currency)
        df = pl.scan_parquet(path).select(*exprs).with_row_index("_line", offset=1).select(
            pl.col("_line").cast(pl.Int64), *cols, *([] if ok is None else [ok.alias("_ok")])
        ).collect()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot read Parquet: {_first_line(exc)}") from None
    return df.select(*cols, "_line", *(["_ok"] if ok is not None else []))


def _row_check(schema: dict[str, pl.DataType], default_currency: str) -> pl.Expr | None:
    """All of `normalize_frame`'s checks of one typed row, the currency held to the default (where its fast path
    keeps the column as it is); None when a check needs the whole column first (string timestamps)."""
    if any(f not in schema for f in REQUIRED) or schema["ts_occurred"] == pl.String:
        return None
    empty = pl.DataFrame(schema=schema)
    if schema.get("currency") == pl.String:
        if not CCY_RE.match(default_currency):
            return None
        v_ccy = (pl.col("currency") == default_currency).fill_null(False)
    else:
        v_ccy = _ccy_rule(empty, "parquet", default_currency)[0]
    # The ids' control-character search is left to `_read_parquet_checked`, which scans their bytes once read.
    checks = _checks(empty, _ts_rule(empty)[0], _amount_rule(empty, "parquet")[0], v_ccy, frozenset(_ID_FIELDS))
    return pl.all_horizontal([c for _, c in checks])


def _read_parquet_checked(path: Path, default_currency: str) -> tuple[pl.DataFrame, bool, frozenset[str] | None]:
    """(event columns and `_line`, every row valid, `_printable` of them when it was computed): the checks run
    with the decoding, not in a second pass."""
    df = _read_frame_parquet(path, default_currency)
    if "_ok" not in df.columns:
        return df, False, None
    ok = bool(df.height) and bool(df["_ok"].all())
    df = df.drop("_ok")
    if not ok:
        return df, False, None
    # `_ok` leaves out the ids' control-character search: their bytes all printable ASCII settles it; anything
    # else is not vouched for here (`normalize_frame` then runs every check, that search included).
    printable = _printable(df)
    return df, printable == frozenset(_ID_FIELDS), printable


def _frame_from_events(kept: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [e["event_id"] for e in kept],
            "ts_us": [e["_ts_us"] for e in kept],
            "principal_id": [e["principal_id"] for e in kept],
            "amount_minor": [e["amount_minor"] for e in kept],
            "source_type": [e["source_type"] for e in kept],
            "currency": [e["currency"] for e in kept],
            "_line": [e["_line"] for e in kept],
        },
        schema=CANON_SCHEMA,
    )


def read_fast(path: Path, default_currency: str) -> tuple[pl.DataFrame, list[tuple[int, Reject]]]:
    """Fast reader: one file into canonical columns (CSV and Parquet vectorized; JSON record by record)."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an events file")
    fmt = detect_format(path)
    if not path.exists():
        raise InputError(f"{path}: no such events file")
    if fmt in ("jsonl", "json"):
        kept, rejects = read_reference(path, default_currency)
        return _frame_from_events(kept), rejects
    if fmt == "parquet":
        df, valid, printable = _read_parquet_checked(path, default_currency)
        return normalize_frame(df, source=str(path), mode="parquet", default_currency=default_currency,
                               valid=valid, printable=printable)
    df = _read_frame_csv(path)
    if df is None:
        return pl.DataFrame(schema=CANON_SCHEMA), []
    return normalize_frame(df, source=str(path), mode="text", default_currency=default_currency)
