"""`vgos ledger verify|export|balance` and `vgos audit`: the auditor's view of the books."""

from __future__ import annotations

import argparse
from pathlib import Path

from vgos.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `ledger` and `audit` commands to the `vgos` parser."""
    ledger = subparsers.add_parser("ledger", help="append-only journal: verify, export proofs, trial balance")
    sub = ledger.add_subparsers(dest="ledger_command", required=True)

    v = sub.add_parser("verify", help="recompute the hash chain and head signatures (store, or a proof file)")
    v.add_argument("file", nargs="?", help="a proof package from `vgos ledger export` (checked offline)")
    v.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="PEM",
        help="pin the signer: only signatures by these public keys are accepted (repeatable)",
    )
    v.set_defaults(func=cmd_verify)

    e = sub.add_parser("export", help="write a signed proof package for entries effective in a date range")
    e.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    e.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    e.add_argument("--out", required=True, metavar="F")
    e.set_defaults(func=cmd_export)

    b = sub.add_parser("balance", help="trial balance per account, for one window or the whole ledger")
    b.add_argument("window_id", nargs="?", metavar="D")
    b.set_defaults(func=cmd_balance)

    a = subparsers.add_parser("audit", help="audit log of state changes, by window and/or actor")
    a.add_argument("window_id", nargs="?", metavar="D")
    a.add_argument("--actor", dest="actor_id", default=None)
    a.add_argument("--action", default=None)
    a.set_defaults(func=cmd_audit)


def _pinned(paths: list[str]) -> set[str] | None:
    if not paths:
        return None
    from vgos.ledger import trusted_key_ids

    pems = []
    for p in paths:
        try:
            pems.append(Path(p).read_bytes())
        except OSError as exc:
            raise InputError(f"--public-key {p}: cannot read ({exc.strerror})") from exc
    try:
        return trusted_key_ids(pems)
    except (ValueError, TypeError) as exc:
        raise InputError(f"--public-key: not a PEM public key ({exc})") from exc


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the store's chain, or a proof file offline; a break raises VerificationError (exit 1)."""
    from vgos import ledger

    trusted = _pinned(args.public_key)
    if args.file:
        rep = ledger.verify_proof(args.file, trusted=trusted)
        rng = rep.get("range") or {}
        print(
            f"ledger proof OK: {rep['entries']} entries ({rng.get('entries_in_range')} effective "
            f"{rng.get('from')}..{rng.get('to')}), head #{rep['head_seq']} {rep['head_hash']}, "
            f"signed by key {rep['key_id']}{'' if trusted else ' (key not pinned)'}"
        )
        return 0
    if trusted is None:
        from vgos.signing import load_signer

        trusted = {load_signer().key_id}
    rep = ledger.verify_chain(trusted=trusted)
    print(
        f"ledger OK: {rep['entries']} entries, head #{rep['head_seq']} {rep['head_hash']}, "
        f"signed by {', '.join(rep['key_ids']) or '(no entries)'}"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the signed proof package for entries effective between --from and --to."""
    from vgos import ledger

    rep = ledger.export_proof(args.date_from, args.date_to, args.out)
    print(
        f"wrote {args.out}: {rep['entries']} entries ({rep['entries_in_range']} in range), "
        f"signed head #{rep['head_seq']} by key {rep['key_id']}"
    )
    return 0


def cmd_balance(args: argparse.Namespace) -> int:
    """Print the trial balance, derived from the journal lines."""
    from vgos import ledger

    title = f"trial balance, window {args.window_id}" if args.window_id else "trial balance, all windows"
    print(ledger.format_trial_balance(ledger.trial_balance(args.window_id), title))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Print audit records for a window and/or actor."""
    from vgos import audit

    if not args.window_id and not args.actor_id:
        raise InputError("audit: give a window id D and/or --actor")
    print(audit.format_rows(audit.query(args.window_id, args.actor_id, action=args.action)))
    return 0
