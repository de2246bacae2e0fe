"""How many examples a property test draws: its full count in CI (CI=true, which `.ci/run` sets), a third of it
(at least 10) in a local `make test`, which has to stay under three minutes on two cores."""

from __future__ import annotations

import os


def examples(n: int) -> int:
    """`n` in CI, else max(10, n // 3)."""
    return n if os.environ.get("CI") == "true" else max(10, n // 3)
