"""The `vgos` command: one entry point for operators, auditors, the demo (ARCHITECTURE.md command contract).

This module is the composition root: subcommands of the outer packages are registered here and import their
heavy dependencies only when they run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from vgos.errors import InputError, VerificationError

# Modules that add subcommands through `register(subparsers)`.
REGISTRARS = (
    "vgos.cli_acceptance",
    "vgos.cli_ledger",
    "vgos.cli_payouts",
    "connectors.netsuite.cli",
    "connectors.psp.cli",
)


def _progress_printer() -> object:
    """Progress lines on stderr when it is a terminal; silent otherwise (logs, CI)."""
    if not sys.stderr.isatty():
        return None

    def show(msg: str) -> None:
        sys.stderr.write(f"\r\x1b[2K… {msg}")
        sys.stderr.flush()

    return show


def cmd_fold(args: argparse.Namespace) -> int:
    """vgos fold: intake, fold and seal a window into --out.

    Event ids kept by the current seal of another window of --tenant (the store's idempotency index) are rejected
    DUPLICATE_PRIOR_WINDOW: the store lookup is supplied here, at the edge; the kernel only sees its result.
    """
    from vgos.fold import fold_files
    from vgos.outputs import write_fold_outputs
    from vgos.policy import load_policy
    from vgos.report import fold_summary
    from vgos.signing import load_signer
    from vgos.storage import open_store
    from vgos.store.idempotency import prior_lookup
    from vgos.transcript import write_transcript

    policy = load_policy(args.policy)
    progress = _progress_printer()
    result = fold_files(args.events, args.window_id, policy, args.tenant, progress=progress,
                        prior=prior_lookup(args.tenant, args.window_id))
    if progress:
        sys.stderr.write("\r\x1b[2K")
    signer = load_signer()
    out = write_fold_outputs(
        result, args.out, lambda folder: write_transcript(result, open_store(str(folder)), "transcript", signer))
    from vgos.audit import note

    note("fold", f"window/{args.tenant}/{args.window_id}",
         {"output_digest": result.output_digest, "out": str(out), **result.totals}, window_id=args.window_id)
    print(fold_summary(result))
    print(f"wrote {out}/ (seal.json, output_digest, rejects.jsonl, allocations.csv, normalized.parquet, "
          "transcript/)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """vgos demo: the seed window end to end on the embedded defaults."""
    from vgos.demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="vgos", description="Verifiable payout overlay")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fold", help="intake, fold and seal a window (SPEC.md)")
    p.add_argument("--events", action="append", required=True, type=Path, metavar="PATH",
                   help="event file (.jsonl, .csv, .parquet); repeat for several files")
    p.add_argument("--window-id", required=True, help="the window's close date, YYYY-MM-DD")
    p.add_argument("--policy", type=Path, help="policy manifest (YAML or JSON); default: the seed v1.0")
    p.add_argument("--tenant", default="default", help="tenant id (default: default)")
    p.add_argument("--out", required=True, type=Path, help="output folder (replaced atomically)")
    p.set_defaults(func=cmd_fold)

    p = sub.add_parser("demo", help="run the seed demo window end to end and print each step")
    p.set_defaults(func=cmd_demo)

    for name in REGISTRARS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit 0 success, 1 failed verification, 2 unusable input or configuration."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"vgos: error: {exc}", file=sys.stderr)
        return 2
    except VerificationError as exc:
        print(f"vgos: FAILED {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vgos: interrupted; nothing was half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
