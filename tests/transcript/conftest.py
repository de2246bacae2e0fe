"""Fixtures for transcript tests: the seed fold and a moto server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED_EVENTS = REPO / "vgos" / "samples" / "seed_events.jsonl"
SEED_WINDOW = "2025-09-23"


@pytest.fixture
def seed_result():
    """The seed demo window folded with the default policy."""
    from vgos.fold import fold_files
    from vgos.policy import load_policy

    return fold_files([SEED_EVENTS], SEED_WINDOW, load_policy(None))



