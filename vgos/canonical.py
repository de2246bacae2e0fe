"""RFC 8785 (JCS) canonical bytes and SHA-256 helpers: the only way VGOS turns values into hashed bytes."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

MAX_SAFE = 2**53 - 1


class CanonicalError(ValueError):
    """A value that has no exact RFC 8785 form in VGOS (floats, unsafe integers, non-string keys)."""


def _utf16_key(s: str) -> list[int]:
    """RFC 8785 sorts member names by their UTF-16 code units."""
    b = s.encode("utf-16-be")
    return [int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2)]


def _path(p: Any) -> str:
    """The JSON path of a stack entry's location: ((root, key), key)... built only when a value is rejected."""
    parts = []
    while isinstance(p, tuple):
        p, key = p
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return p + "".join(reversed(parts))


def _check(obj: Any, path: str) -> bool:
    """Validate the value tree; return True when some dict has non-ASCII keys (needs UTF-16 ordering)."""
    resort = False
    stack: list[tuple[Any, Any]] = [(obj, path)]
    while stack:
        o, p = stack.pop()
        if isinstance(o, str) or o is None or isinstance(o, bool):
            continue
        if isinstance(o, int):
            if not -MAX_SAFE <= o <= MAX_SAFE:
                raise CanonicalError(f"{_path(p)}: integer {o} is outside ±(2^53−1) and has no exact JSON form")
        elif isinstance(o, dict):
            for k, v in o.items():
                if not isinstance(k, str):
                    raise CanonicalError(f"{_path(p)}: member name {k!r} is not a string")
                if not k.isascii():
                    resort = True
                if not (v is None or isinstance(v, str)):  # strings and null need no check: no path built
                    stack.append((v, (p, k)))
        elif isinstance(o, list | tuple):
            stack.extend((v, (p, i)) for i, v in enumerate(o) if not (v is None or isinstance(v, str)))
        elif isinstance(o, float):
            raise CanonicalError(f"{_path(p)}: floating-point value {o!r} is not allowed in canonical data")
        else:
            raise CanonicalError(f"{_path(p)}: unsupported type {type(o).__name__}")
    return resort


def _resorted(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _resorted(o[k]) for k in sorted(o, key=_utf16_key)}
    if isinstance(o, list | tuple):
        return [_resorted(v) for v in o]
    return o


def jcs_bytes(obj: Any) -> bytes:
    """RFC 8785 bytes of a JSON value made of dicts, lists, strings, safe integers, booleans and null."""
    if _check(obj, "$"):
        return orjson.dumps(_resorted(obj))
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def json_string(s: str) -> str:
    """The RFC 8785 serialization of one string (quotes included)."""
    return orjson.dumps(s).decode()


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def digest(obj: Any) -> str:
    """Lowercase hex SHA-256 of the RFC 8785 bytes of a value."""
    return sha256_hex(jcs_bytes(obj))
