"""The `vgos` command: one entry point for operators, auditors, the demo (ARCHITECTURE.md command contract).

This module is the composition root: subcommands of the outer packages are registered here and import their
heavy dependencies only when they run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

# No command does linear algebra, but numpy's OpenBLAS starts a thread per core that spins after any BLAS call,
# taking CPU from the fold's workers on a small machine; set before numpy loads (an operator's value wins).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from vgos.errors import InputError, VerificationError  # noqa: E402 - after the environment above

if TYPE_CHECKING:
    from vgos.fold import FoldResult
    from vgos.progress import Progress

# Modules that add subcommands through `register(subparsers)`.
REGISTRARS = (
    "vgos_app.cli_acceptance",
    "vgos_app.cli_ledger",
    "vgos_app.cli_payouts",
    "vgos_app.cli_keys",
    "vgos_app.cli_netsuite",
    "vgos_app.cli_rails",
    "vgos_app.cli_report",
)


def _empty_window_line(result: FoldResult, out: Path) -> str:
    """One line for a window that kept nothing: how many records were rejected and why, the first of them."""
    totals = result.totals
    w = result.seal["window"]
    head = f"window {w['window_id']} (tenant {w['tenant_id']}) kept no events"
    if not result.rejects:
        why = "the input files hold no records"
    else:
        first = result.rejects[0]
        reasons = ", ".join(f"{k} {v:,}" for k, v in result.rejects_by_reason().items())
        why = (f"all {totals['events_rejected']:,} records rejected ({reasons}; first: {first.source} {first.reason}"
               + (f" {first.field}" if first.field else "") + ")")
    return f"{head}: {why}; nothing written to {out} (seal it anyway with --allow-empty)"


def cmd_fold(args: argparse.Namespace) -> int:
    """vgos fold: intake, fold and seal a window into --out.

    Event ids kept by the current seal of another window of --tenant (the store's idempotency index) are rejected
    DUPLICATE_PRIOR_WINDOW: the store lookup is supplied here, at the edge; the kernel only sees its result.
    A window that keeps no event (no records, or every record rejected) is sealed only with --allow-empty;
    otherwise the command exits 1 with the reject summary and writes nothing. --out is checked first
    (`vgos.outputs.check_out_dir`): it must be empty, absent or an earlier fold output.
    """
    from vgos.config import protected_paths, validate_tenant, validate_window_id
    from vgos.outputs import check_out_dir

    validate_tenant(args.tenant)
    validate_window_id(args.window_id)
    protected = protected_paths() + ([("the policy", args.policy.absolute())] if args.policy else [])
    target = check_out_dir(args.out, inputs=args.events, protected=protected)
    spool = _spool_dir(target)
    try:
        return _fold_into(args, protected, spool)
    finally:
        if spool is not None:
            import shutil

            shutil.rmtree(spool, ignore_errors=True)


def _spool_dir(target: Path) -> Path | None:
    """A temp folder beside --out where the fold writes the transcript's normalized input as it hashes it (same
    file system, so the transcript links the files in); None when none can be made (the transcript then builds
    those segments itself)."""
    import tempfile

    if not target.parent.is_dir():  # nothing is created before the fold succeeds
        return None
    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.spool-", dir=target.parent))
    except OSError:
        return None


def _fold_into(args: argparse.Namespace, protected: list[tuple[str, str | Path]], spool: Path | None) -> int:
    """The fold itself, its outputs and the audit row (`cmd_fold` after --out is checked)."""
    from vgos.early_files import EarlyFiles
    from vgos.fold import fold_files
    from vgos.outputs import write_fold_outputs
    from vgos.policy import load_policy
    from vgos.signing import load_signer
    from vgos.storage import open_store
    from vgos.store.lite import prior_lookup
    from vgos.transcript import write_transcript
    from vgos_app.render import progress_bar

    policy = load_policy(args.policy)
    # rejects.jsonl, allocations.csv and their transcript segments are made in the spool while the fold hashes
    # its input (`vgos.early_files`), then linked into the outputs
    early = EarlyFiles(spool) if spool is not None else None
    try:
        with progress_bar(f"folding window {args.window_id}") as progress:
            progress = _importing_ahead(progress, _FOLD_LATER_IMPORTS)
            result = fold_files(args.events, args.window_id, policy, args.tenant, progress=progress,
                                prior=prior_lookup(args.tenant, args.window_id), spool=spool, lazy_allocations=True,
                                keep_events=spool is None, early=early)
        if result.totals["events_kept"] == 0 and not args.allow_empty:
            print(f"vgos: {_one_line(_empty_window_line(result, args.out))}", file=sys.stderr)
            return 1
        signer = load_signer()
        out = write_fold_outputs(
            result, args.out,
            lambda folder: write_transcript(result, open_store(str(folder)), "transcript", signer, early=early),
            inputs=args.events, protected=protected, early=early)
    finally:
        if early is not None:
            early.close()  # before the spool is removed
    from vgos.audit import note

    note("fold", f"window/{args.tenant}/{args.window_id}",
         {"output_digest": result.output_digest, "out": str(out), **result.totals}, window_id=args.window_id)
    _print_fold_summary(result)
    print(f"wrote {out}/ (seal.json, output_digest, rejects.jsonl, allocations.csv, normalized.parquet, "
          "transcript/)")
    return 0


# What `vgos fold` imports only once it has read its input (the segment encoder, the Parquet writer behind it,
# the outputs' helpers), in dependency order.
_FOLD_LATER_IMPORTS = ("pyarrow.compute", "pyarrow.parquet", "vgos.segment_parquet", "vgos.parquet_concat",
                       "vgos.allocation_list", "vgos.audit", "vgos.report")


def _import_ahead(names: Sequence[str]) -> threading.Thread:
    """Import modules a command needs later on a thread now, while its input is read (the read releases the GIL),
    so no worker waits about 0.1 s for them mid-fold. A failure is left to the real import, which reports it."""
    def run() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S112 - the command's own import raises it where it matters
                continue

    thread = threading.Thread(target=run, name="vgos-import-ahead", daemon=True)
    thread.start()
    return thread


def _importing_ahead(progress: Progress, names: Sequence[str]) -> Progress:
    """`progress`, starting `_import_ahead(names)` at its first report (the fold's "reading ..."), so the imports
    run while the input is read without the GIL, not beside the command's own Python work before the read."""
    started = False

    def report(*args: Any, **kwargs: Any) -> None:
        nonlocal started
        if not started:
            started = True
            _import_ahead(names)
        progress(*args, **kwargs)

    return report


def _standalone() -> bool:
    """True when this process runs nothing but the `vgos` command (its console script, or `python -m`), so it may
    end without the interpreter's teardown; never when the command is called in-process (tests, other tools)."""
    return getattr(sys.modules.get("__main__"), "main", None) is main


def _exit_now() -> None:
    """End the process with exit code 0 now that a fold's outputs are synced, swapped in and reported: the
    interpreter's teardown (every loaded module and thread pool) buys nothing then. stdout and stderr are flushed
    first; if that fails, the normal exit reports it instead."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(0)


def _print_fold_summary(result: FoldResult) -> None:
    """The fold's counts, rejects, largest allocations (one table) and digests, through the one renderer."""
    from vgos.report import fold_summary_parts
    from vgos_app.render import print_lines, print_table

    head, headers, rows, tail = fold_summary_parts(result)
    print_lines(head)
    if rows:
        print_table(headers, rows)
    print_lines(tail)


def cmd_demo(args: argparse.Namespace) -> int:
    """vgos demo: the seed window end to end on the embedded defaults."""
    from vgos_app.demo import run_demo

    return run_demo(args)


WINDOW_HELP = "the window's id: its close date, YYYY-MM-DD"
TENANT_HELP = "tenant id, 1..64 of A-Z a-z 0-9 . _ - (default: default)"


class VgosParser(argparse.ArgumentParser):
    """argparse with the command's error contract: a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see `{self.prog} --help`)\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """As argparse, but an unrecognized argument is refused by the command it was given to
        (`vgos recon run: error: unrecognized arguments: x (see `vgos recon run --help`)`), not by `vgos`."""
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            _chosen(self, ns).error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


def _chosen(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost command parser the parsed arguments selected (`vgos recon run` for ns.command='recon' and
    ns.recon_command='run')."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub = action.choices.get(getattr(ns, action.dest, None) or "")
            if sub is not None:
                return _chosen(sub, ns)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser of the tree: the root, each command and each action of a command group."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _subcommands(sub)
    return found


def _uniform_ids(parser: argparse.ArgumentParser) -> None:
    """One name and one help text for the window and tenant arguments of every command (registered ones too):
    the positional or `--window-id` option is WINDOW_ID, `--tenant` is TENANT; `_validate_ids` checks both."""
    for sub in _subcommands(parser):
        for action in sub._actions:
            if action.dest == "window_id":
                action.metavar = "WINDOW_ID"
                action.help = action.help or WINDOW_HELP
                if action.nargs == "?":
                    action.help = action.help if "omit" in action.help else f"{action.help}; omit for every window"
            elif action.dest == "tenant":
                action.metavar = "TENANT"
                action.help = action.help or TENANT_HELP


def build_parser(registered: bool = True) -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand (`registered=False`: only this module's own
    commands, fold and demo, which parse their arguments the same way without the others)."""
    parser = VgosParser(prog="vgos", description="Verifiable payout overlay. Exit codes: 0 success, 1 a "
                        "verification or check failed, 2 unusable input or configuration, 3 internal error.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fold", help="intake, fold and seal a window (SPEC.md)")
    p.add_argument("--events", action="append", required=True, type=Path, metavar="PATH",
                   help="event file (.jsonl, .json, .csv, .parquet); repeat for several files")
    p.add_argument("--window-id", required=True, help=WINDOW_HELP)
    p.add_argument("--policy", type=Path, metavar="FILE",
                   help="policy manifest (YAML or JSON); default: the seed v1.0")
    p.add_argument("--tenant", default="default", help=TENANT_HELP)
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="output folder, replaced atomically; must be absent, empty or an earlier fold output")
    p.add_argument("--allow-empty", action="store_true",
                   help="seal a window that keeps no event (no records, or all rejected); default: exit 1")
    p.set_defaults(func=cmd_fold)

    p = sub.add_parser("demo", help="run the seed demo window end to end and print each step")
    p.set_defaults(func=cmd_demo)

    for name in REGISTRARS if registered else ():  # all in this package: a missing one is an error
        importlib.import_module(name).register(sub)
    _uniform_ids(parser)
    return parser


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def _one_line(text: str) -> str:
    """A message as one terminal line: control characters (newlines, escapes) shown as \\xNN."""
    return text.translate(_CONTROL)


def _os_error_line(exc: OSError) -> str:
    """`path: reason` of an OSError (both paths of a rename), or the reason alone."""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return what
    where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
    return f"{where}: {what}"


def _internal_error(exc: BaseException, argv: Sequence[str]) -> str:
    """Write the traceback to VGOS_HOME/logs/ (0600) and return where it went (or why it could not be written)."""
    import datetime as dt
    import traceback

    from vgos.config import vgos_home

    try:
        logs = vgos_home() / "logs"
        logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = logs / f"internal-error-{stamp}-{os.getpid()}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"vgos {' '.join(argv)}\n")
            fh.write("".join(traceback.format_exception(exc)))
        return str(path)
    except Exception as log_exc:  # noqa: BLE001 - the last resort must not raise
        return f"not written: {type(log_exc).__name__}: {log_exc}"


def _interrupt_on_sigterm() -> None:
    """SIGTERM (a stopped container, a killed job) unwinds like Ctrl-C, so temp files are removed on the way out."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def _raise(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _raise)


def _validate_ids(args: argparse.Namespace) -> None:
    """Every command's `--tenant` and window id are checked once, here, before anything reads or writes."""
    from vgos.config import validate_tenant, validate_window_id

    if getattr(args, "tenant", None) is not None:
        validate_tenant(args.tenant)
    for name in ("window_id",):
        if getattr(args, name, None) is not None:
            validate_window_id(getattr(args, name))


def _registered_needed(argv: Sequence[str] | None) -> bool:
    """False for `vgos fold` (this module's own command, whose subparser alone parses its arguments), so a fold
    does not import every other command group first."""
    args = sys.argv[1:] if argv is None else list(argv)
    return not (args and args[0] == "fold")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit 0 success, 1 failed verification, 2 unusable input or configuration, 3 internal error.

    Whatever happens, a user sees one line on stderr, never a traceback: an unexpected exception is reported as
    `vgos: internal error: <Type>: <message> (details: <file>)` with the traceback in VGOS_HOME/logs/.
    """
    from vgos.config import ConfigError

    _interrupt_on_sigterm()
    try:
        parser = build_parser(registered=_registered_needed(argv))
        args = parser.parse_args(argv)
        _validate_ids(args)
        code = int(args.func(args) or 0)
        if code == 0 and args.func is cmd_fold and _standalone():
            _exit_now()
        return code
    except (InputError, ConfigError) as exc:
        print(f"vgos: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except VerificationError as exc:
        print(f"vgos: FAILED {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vgos: interrupted; nothing was half-written", file=sys.stderr)
        return 130
    except OSError as exc:  # a missing file, a folder where a file was expected, a permission
        print(f"vgos: error: {_one_line(_os_error_line(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - last resort: one line, details in a log file
        where = _internal_error(exc, sys.argv[1:] if argv is None else list(argv))
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"vgos: internal error: {type(exc).__name__}: {_one_line(first)} (details: {_one_line(where)})",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
