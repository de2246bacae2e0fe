"""Event schema (SPEC §1): readers for JSONL, CSV and Parquet, normalization to canonical events, rejects.

Two implementations of the same rules live here on purpose: `normalize_record` is the plain reference, one
record at a time; `normalize_frame` is the columnar fast path used for CSV and Parquet. Tests hold them equal.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    "event_id": "must be a string of 1..128 characters",
    "ts_occurred": "must be an RFC 3339 timestamp with Z or a numeric offset and at most 6 fractional digits",
    "principal_id": "must be a string of 1..128 characters",
    "amount_minor": "must be an integer number of minor units with abs(value) <= 2^53-1",
    "source_type": "must be one of earning, adjustment, refund",
    "currency": "must be an ISO 4217 code of 3 upper-case letters",
}

TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)
INT_RE = re.compile(r"^-?[0-9]+$")
CCY_RE = re.compile(r"^[A-Z]{3}$")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MIN_TS_US = (dt.datetime(1, 1, 1, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
MAX_TS_US = (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(microseconds=1)
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
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
        """JSON form written to rejects.jsonl."""
        return asdict(self)


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
        m = TS_RE.match(value)
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
    if not isinstance(v, str) or not 1 <= len(v) <= 128:
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
    elif isinstance(v, str) and mode in ("text", "parquet") and INT_RE.match(v):
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
    elif not isinstance(ccy, str) or not CCY_RE.match(ccy):
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
    """Format from the file suffix (.jsonl/.ndjson/.json, .csv, .parquet)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown event file type {path.suffix!r} (expected .jsonl, .csv or .parquet)")
    return fmt


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read events: {exc.strerror or exc}") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed value or FieldError) for each non-blank line of a JSONL file."""
    data = _read_bytes(path)
    for no, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            yield no, orjson.loads(line)
        except orjson.JSONDecodeError:
            # orjson refuses integers beyond 64 bits; the stdlib parser tells those apart from broken JSON.
            try:
                yield no, json.loads(line.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                yield no, FieldError(None, f"invalid JSON: {str(exc).splitlines()[0]}")


def iter_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row of strings); the header is line 1."""
    try:
        text = _read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text: {exc}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    _require_columns(path, reader.fieldnames or [])
    for i, row in enumerate(reader):
        yield i + 2, row


def iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number from 1, row) of a Parquet file with Python values."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for unreadable files
        raise InputError(f"{path}: cannot read Parquet: {exc}") from None
    _require_columns(path, table.column_names)
    for i, row in enumerate(table.to_pylist()):
        yield i + 1, row


def _require_columns(path: Path, names: list[str]) -> None:
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        raise InputError(f"{path}: line 1: missing required column(s) {', '.join(missing)}")


def read_reference(path: Path, default_currency: str) -> tuple[list[dict[str, Any]], list[tuple[int, Reject]]]:
    """Reference reader: normalize every record of one file one by one; returns kept events and rejects."""
    fmt = detect_format(path)
    mode = {"jsonl": "json", "csv": "text", "parquet": "parquet"}[fmt]
    rows = {"jsonl": iter_jsonl, "csv": iter_csv, "parquet": iter_parquet}[fmt](path)
    kept: list[dict[str, Any]] = []
    rejects: list[tuple[int, Reject]] = []
    for line, rec in rows:
        try:
            if isinstance(rec, FieldError):
                raise rec
            ev = normalize_record(rec, mode=mode, default_currency=default_currency)
            ev["_line"] = line
            kept.append(ev)
        except FieldError as err:
            eid = rec.get("event_id") if isinstance(rec, dict) else None
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


def _str_rule(df: pl.DataFrame, name: str) -> pl.Expr:
    if df.schema[name] != pl.String:
        return pl.lit(False)
    return pl.col(name).str.len_chars().is_between(1, 128).fill_null(False)


def _amount_rule(df: pl.DataFrame, mode: str) -> tuple[pl.Expr, pl.Expr]:
    dtype = df.schema["amount_minor"]
    c = pl.col("amount_minor")
    if dtype.is_integer() and mode == "parquet":
        if dtype == pl.UInt64:
            ok = c <= MAX_SAFE
            return ok.fill_null(False), pl.when(ok).then(c).cast(pl.Int64)
        v = c.cast(pl.Int64)
        return v.abs().le(MAX_SAFE).fill_null(False), v
    if dtype == pl.String:
        stripped = c.str.replace(r"^(-?)0+([0-9])", "${1}${2}")
        shape = c.str.contains(INT_RE.pattern).fill_null(False) & (
            stripped.str.len_bytes() <= 17
        ).fill_null(False)
        v = pl.when(shape).then(stripped).cast(pl.Int64, strict=False)
        return (shape & v.abs().le(MAX_SAFE)).fill_null(False), v
    return pl.lit(False), pl.lit(None, dtype=pl.Int64)


def _canonical_ts_to_us(col: pl.Series) -> pl.Series | None:
    """Epoch µs when every value is already in the canonical SPEC §1 form (checked by formatting it back).

    The common case (normalized logs, replays, well-formed drops) then skips the general RFC 3339 parser; any
    other value (an offset, fewer fractional digits, a null) sends the whole column down the general path.
    """
    if col.len() == 0 or col.null_count():
        return None
    parsed = col.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%.fZ", strict=False)
    if parsed.null_count():
        return None
    us = parsed.dt.epoch("us")
    back = pl.select(pl.when(us % 1_000_000 == 0).then(parsed.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
                     .otherwise(parsed.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))).to_series()
    if not (back == col).all():
        return None
    return us.alias("ts_us")


def _ts_rule(df: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    dtype = df.schema["ts_occurred"]
    c = pl.col("ts_occurred")
    if dtype == pl.String:
        fast = _canonical_ts_to_us(df["ts_occurred"])
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


def normalize_frame(
    df: pl.DataFrame, *, source: str, mode: str, default_currency: str
) -> tuple[pl.DataFrame, list[tuple[int, Reject]]]:
    """Columnar normalization of one file's rows (with `_line`): canonical columns and SCHEMA_INVALID rejects."""
    _require_columns(Path(source), df.columns)
    v_ts, ts_us = _ts_rule(df)
    v_amt, amt = _amount_rule(df, mode)
    v_ccy, ccy = _ccy_rule(df, mode, default_currency)
    v_st = (
        pl.col("source_type").is_in(SOURCE_TYPES).fill_null(False)
        if df.schema["source_type"] == pl.String else pl.lit(False)
    )
    checks = [("event_id", _str_rule(df, "event_id")), ("ts_occurred", v_ts),
              ("principal_id", _str_rule(df, "principal_id")), ("amount_minor", v_amt),
              ("source_type", v_st), ("currency", v_ccy)]
    eid = pl.col("event_id") if df.schema["event_id"] == pl.String else pl.lit(None, dtype=pl.String)
    if df.height and df.select(pl.all_horizontal([ok for _, ok in checks]).all().alias("ok")).item():
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


def _read_frame_csv(path: Path) -> pl.DataFrame:
    try:
        df = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except Exception as exc:  # noqa: BLE001 - polars raises several types for unreadable CSV
        raise InputError(f"{path}: cannot read CSV: {str(exc).splitlines()[0]}") from None
    # CSV has no null: an empty cell is the empty string, as the csv module reads it.
    df = df.with_columns(pl.all().fill_null(""))
    return df.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64))


def _read_frame_parquet(path: Path) -> pl.DataFrame:
    try:
        schema = pl.read_parquet_schema(path)
        cols = [c for c in FIELDS if c in schema]
        df = pl.scan_parquet(path).select(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_line"), *cols
        ).collect()
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot read Parquet: {str(exc).splitlines()[0]}") from None
    return df.select(*cols, "_line")


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
    """Fast reader: one file into canonical columns (CSV and Parquet vectorized; JSONL record by record)."""
    fmt = detect_format(path)
    if not path.is_file():
        raise InputError(f"{path}: no such events file")
    if fmt == "jsonl":
        kept, rejects = read_reference(path, default_currency)
        return _frame_from_events(kept), rejects
    df = _read_frame_csv(path) if fmt == "csv" else _read_frame_parquet(path)
    return normalize_frame(df, source=str(path), mode="text" if fmt == "csv" else "parquet",
                           default_currency=default_currency)
