"""Policy manifest: load, validate and hash it, and derive a window's bounds (SPEC §2, §5)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from vgos.canonical import jcs_bytes, sha256_hex
from vgos.config import validate_window_id
from vgos.errors import InputError

KINDS = ("ACK", "CT", "SPV")
_DEFAULT_ACCEPTANCE: dict[str, dict[str, Any]] = {
    # ACK from finance: fresh for 30 minutes; two distinct issuers once a window pays 100,000.00 or more.
    "ACK": {"required": True, "freshness_s": 1800, "quorum": 1,
            "high_value_minor": 10_000_000, "high_value_quorum": 2},
    # CT (compliance/KYC) per payee: valid for 30 days after issue unless it expires earlier.
    "CT": {"required": True, "freshness_s": 2_592_000, "quorum": 1},
    # SPV provider receipts: evidence after the fact, not a precondition of the first authorization.
    "SPV": {"required": False, "freshness_s": 604_800, "quorum": 1},
}
DEFAULTS: dict[str, Any] = {
    "policy_version": "v1.0",
    "currency": "USD",
    "bonus_ppm": 100_000,
    "close_time_utc": "21:00:00",
    "late_tolerance_s": 600,
    "close_grace_s": 600,
    "acceptance": _DEFAULT_ACCEPTANCE,
}
_ACCEPTANCE_KEYS = {"required": bool, "freshness_s": int, "quorum": int,
                    "high_value_minor": int, "high_value_quorum": int}
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$")
_CCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_SAFE = 2**53 - 1


def canonical_ts(t: dt.datetime) -> str:
    """SPEC §1 canonical UTC form: seconds, or six fractional digits when microseconds are non-zero."""
    t = t.astimezone(dt.UTC)
    base = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{base}.{t.microsecond:06d}Z" if t.microsecond else f"{base}Z"


@dataclass(frozen=True)
class WindowBounds:
    """A daily window named by its close date; membership is open_cutoff < ts ≤ cutoff."""

    window_id: str
    close_ts: dt.datetime
    cutoff_ts: dt.datetime
    open_cutoff_ts: dt.datetime

    def contains(self, ts: dt.datetime) -> bool:
        """Membership test of SPEC §2."""
        return self.open_cutoff_ts < ts <= self.cutoff_ts


@dataclass(frozen=True)
class Policy:
    """A validated policy manifest; `manifest()` is what the transcript stores and `policy_hash` hashes."""

    policy_version: str
    currency: str
    bonus_ppm: int
    close_time_utc: str
    late_tolerance_s: int
    close_grace_s: int
    acceptance: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)
    source: str = field(default="<defaults>", compare=False)

    def manifest(self) -> dict[str, Any]:
        """The complete manifest with defaults filled in (what `policy_hash` covers)."""
        return {
            "policy_version": self.policy_version,
            "currency": self.currency,
            "bonus_ppm": self.bonus_ppm,
            "close_time_utc": self.close_time_utc,
            "late_tolerance_s": self.late_tolerance_s,
            "close_grace_s": self.close_grace_s,
            "acceptance": copy.deepcopy(self.acceptance),
        }

    @property
    def manifest_bytes(self) -> bytes:
        """RFC 8785 bytes of the manifest."""
        return jcs_bytes(self.manifest())

    @property
    def policy_hash(self) -> str:
        """Lowercase hex SHA-256 of the RFC 8785 bytes of the manifest (SPEC §5)."""
        return sha256_hex(self.manifest_bytes)

    def window(self, window_id: str) -> WindowBounds:
        """Window bounds of SPEC §2 for a close date `YYYY-MM-DD`."""
        return window_bounds(window_id, self)


def window_bounds(window_id: str, policy: Policy) -> WindowBounds:
    """close = window_id + close_time_utc; cutoff = close − tolerance; open_cutoff = cutoff − 24 h."""
    day = dt.date.fromisoformat(validate_window_id(window_id))
    h, m, s = (int(x) for x in policy.close_time_utc.split(":"))
    close = dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=dt.UTC)
    cutoff = close - dt.timedelta(seconds=policy.late_tolerance_s)
    return WindowBounds(window_id, close, cutoff, cutoff - dt.timedelta(hours=24))


def window_id_for_close(close: dt.datetime, policy: Policy) -> str:
    """The window whose close instant is `close` (used by the close schedule)."""
    return close.astimezone(dt.UTC).date().isoformat()


def _fail(src: str, fld: str, msg: str) -> InputError:
    return InputError(f"{src}: field '{fld}': {msg}")


def _int(src: str, fld: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(src, fld, f"expected an integer, got {type(v).__name__} {v!r}")
    if not lo <= v <= hi:
        raise _fail(src, fld, f"{v} is out of range {lo}..{hi}")
    return v


def _validate_acceptance(src: str, raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise _fail(src, "acceptance", f"expected a mapping of {', '.join(KINDS)}")
    out = copy.deepcopy(_DEFAULT_ACCEPTANCE)
    for kind, spec in raw.items():
        if kind not in KINDS:
            raise _fail(src, f"acceptance.{kind}", f"unknown proof kind (allowed: {', '.join(KINDS)})")
        if not isinstance(spec, dict):
            raise _fail(src, f"acceptance.{kind}", "expected a mapping")
        for k, v in spec.items():
            fld = f"acceptance.{kind}.{k}"
            if k not in _ACCEPTANCE_KEYS:
                raise _fail(src, fld, f"unknown key (allowed: {', '.join(sorted(_ACCEPTANCE_KEYS))})")
            if _ACCEPTANCE_KEYS[k] is bool:
                if not isinstance(v, bool):
                    raise _fail(src, fld, f"expected true or false, got {v!r}")
                out[kind][k] = v
            else:
                out[kind][k] = _int(src, fld, v, 0 if k != "quorum" else 1, MAX_SAFE)
    return out


def policy_from_manifest(raw: Any, source: str = "<manifest>") -> Policy:
    """Validate a manifest mapping (unknown keys, types, ranges) and fill in the defaults."""
    if not isinstance(raw, dict):
        raise InputError(f"{source}: a policy manifest must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise _fail(source, unknown[0], f"unknown key (allowed: {', '.join(sorted(DEFAULTS))})")
    merged = {**DEFAULTS, **raw}
    version = merged["policy_version"]
    if not isinstance(version, str) or not 1 <= len(version) <= 64:
        raise _fail(source, "policy_version", f"expected a string of 1..64 characters, got {version!r}")
    ccy = merged["currency"]
    if not isinstance(ccy, str) or not _CCY_RE.match(ccy):
        raise _fail(source, "currency", f"expected an ISO 4217 code like USD, got {ccy!r}")
    close_time = merged["close_time_utc"]
    if not isinstance(close_time, str) or not _TIME_RE.fullmatch(close_time):
        raise _fail(source, "close_time_utc", f"expected HH:MM:SS (UTC), got {close_time!r}")
    return Policy(
        policy_version=version,
        currency=ccy,
        bonus_ppm=_int(source, "bonus_ppm", merged["bonus_ppm"], 0, 10_000_000),
        close_time_utc=close_time,
        late_tolerance_s=_int(source, "late_tolerance_s", merged["late_tolerance_s"], 0, 86_399),
        close_grace_s=_int(source, "close_grace_s", merged["close_grace_s"], 0, 86_399),
        acceptance=_validate_acceptance(source, merged["acceptance"]),
        source=source,
    )


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a YAML or JSON manifest (None gives the seed defaults); errors name the file and field."""
    if path is None:
        return policy_from_manifest({}, "<defaults>")
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read policy: {exc.strerror or exc}") from None
    try:
        raw = orjson.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"{p}:{line + 1}" if line is not None else str(p)
        raise InputError(f"{where}: policy is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: "
                         f"{str(exc).splitlines()[0]}") from None
    return policy_from_manifest(raw if raw is not None else {}, str(p))
