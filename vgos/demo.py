"""`vgos demo`: the seed window end to end on the embedded defaults, printing what each step did."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

SEED_WINDOW = "2025-09-23"


def seed_events_path() -> Path:
    """The shipped seed demo events (SPEC §6)."""
    return Path(str(resources.files("vgos") / "samples" / "seed_events.jsonl"))


def seed_ct_path() -> Path:
    """The shipped seed CT (compliance) table."""
    return Path(str(resources.files("vgos") / "samples" / "seed_ct.csv"))


def step(title: str) -> None:
    """Print a step header."""
    print(f"\n== {title}")


def run_demo(args: argparse.Namespace) -> int:
    """Run every step of the demo in order; each step prints its result."""
    from vgos import config
    from vgos.fold import fold_files
    from vgos.outputs import write_fold_outputs
    from vgos.policy import load_policy
    from vgos.report import fold_summary

    home = config.vgos_home()
    print(f"VGOS demo: window {SEED_WINDOW}, state in {home}")
    policy = load_policy()
    step("1. intake → fold → seal")
    result = fold_files([seed_events_path()], SEED_WINDOW, policy)
    print(fold_summary(result))
    for r in result.rejects:
        print(f"  reject {r.event_id} {r.reason} ({Path(r.source).name})")
    out = write_fold_outputs(result, home / "windows" / SEED_WINDOW)
    print(f"outputs in {out}")
    return 0
