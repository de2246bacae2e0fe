"""JSON with exact decimals: Decimal values are written as number literals, never through float."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def dumps(obj: Any) -> str:
    """Serialize dict/list/str/int/bool/None/Decimal; a Decimal is written as its exact literal."""
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"not a finite decimal: {obj}")
        return format(obj, "f")
    if isinstance(obj, float):
        raise TypeError("floats are not allowed in money payloads; use Decimal")
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping every non-integer number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)
