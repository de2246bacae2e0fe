"""`vgos ledger verify|export|balance` and `vgos audit`: the auditor's view of the books."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vgos.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `ledger` and `audit` commands to the `vgos` parser."""
    from vgos_app.render import add_json_flag

    ledger = subparsers.add_parser("ledger", help="append-only journal: verify, export proofs, trial balance")
    sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")

    v = sub.add_parser("verify", help="recompute the hash chain and head signatures (store, or a proof file)")
    v.add_argument("file", nargs="?", metavar="FILE",
                   help="a proof package from `vgos ledger export` (checked offline); omit to check the store")
    v.add_argument(
        "--public-key",
        "--pubkey",
        dest="public_key",
        action="append",
        default=[],
        metavar="PEM",
        help="trust only these public keys (repeatable); default: the trust file (VGOS_TRUSTED_KEYS) and the "
        "local signer's key",
    )
    add_json_flag(v)
    v.set_defaults(func=cmd_verify)

    e = sub.add_parser("export", help="write a signed proof package for entries effective in a date range")
    e.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD",
                   help="first effective date of the entries to prove (inclusive)")
    e.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD",
                   help="last effective date of the entries to prove (inclusive)")
    e.add_argument("--out", required=True, metavar="FILE", help="the proof package (JSON) to write")
    e.set_defaults(func=cmd_export)

    g = sub.add_parser(
        "grant-app-role",
        help="PostgreSQL: grant the application role what it needs and nothing more (run as the owner role)",
    )
    g.add_argument("role", metavar="ROLE", help="the role the application connects as (not the tables' owner)")
    g.add_argument("--schema", default=None, help="schema of the store (default: the connection's current schema)")
    g.set_defaults(func=cmd_grant_app_role)

    b = sub.add_parser("balance", help="trial balance per account, for one window or the whole ledger")
    b.add_argument("window_id", nargs="?")
    add_json_flag(b)
    b.set_defaults(func=cmd_balance)

    a = subparsers.add_parser("audit", help="audit log of state changes, by window and/or actor")
    a.add_argument("window_id", nargs="?", help="the window's id (its close date, YYYY-MM-DD); omit with --actor")
    a.add_argument("--actor", dest="actor_id", default=None, metavar="ACTOR", help="only this actor's records")
    a.add_argument("--action", default=None, metavar="ACTION", help="only this action, e.g. batch.create")
    add_json_flag(a)
    a.set_defaults(func=cmd_audit)


def _pinned(paths: list[str]) -> list[bytes]:
    pems = []
    for p in paths:
        try:
            pems.append(Path(p).read_bytes())
        except OSError as exc:
            raise InputError(f"--public-key {p}: cannot read ({exc.strerror})") from exc
    return pems


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the store's chain against its newest anchor, or a proof file offline, under trusted keys only; a
    break raises VerificationError (exit 1)."""
    from vgos import ledger
    from vgos_app.render import print_json

    trusted = ledger.trusted_keys(_pinned(args.public_key))
    if args.file:
        rep = ledger.verify_proof(args.file, trusted=trusted)
        if args.json:
            print_json({"ok": True, "file": str(args.file), **rep})
            return 0
        rng = rep.get("range") or {}
        print(
            f"ledger proof OK: {rep['entries']} entries ({rng.get('entries_in_range')} effective "
            f"{rng.get('from')}..{rng.get('to')}), head #{rep['head_seq']} {rep['head_hash']}, "
            f"signed by trusted key {rep['trusted_key']}"
        )
        return 0
    rep = ledger.verify_chain(trusted=trusted)
    if args.json:
        print_json({"ok": True, **rep})
    else:
        if rep["anchor_seq"] is None:
            anchor = "no anchor yet (nothing posted)"
        else:
            now = " (written now)" if rep["anchored_now"] else ""
            anchor = f"anchored at #{rep['anchor_seq']} {rep['anchor_url']}{now}"
        print(
            f"ledger OK: {rep['entries']} entries, head #{rep['head_seq']} {rep['head_hash']}, "
            f"signed by {', '.join(rep['trusted_keys']) or '(no entries)'}; {anchor}"
        )
    if rep["anchor_error"]:
        print(f"vgos: warning: {rep['anchor_error']}", file=sys.stderr)
    return 0


def cmd_grant_app_role(args: argparse.Namespace) -> int:
    """Grant ROLE the application's privileges on the store's schema, then check that it cannot do more."""
    from vgos.store.db import get_engine
    from vgos.store.roles import app_role_problems, grant_app_role

    engine = get_engine()  # migrated first: the tables exist and belong to the role running this
    if engine.dialect.name != "postgresql":
        raise InputError(f"grant-app-role: the store is {engine.dialect.name}; roles exist on PostgreSQL only")
    with engine.connect() as conn:
        grants = grant_app_role(conn, args.schema, args.role)
        conn.commit()
        problems = app_role_problems(conn, args.schema, args.role)
    for line in grants:
        print(line)
    if problems:
        from vgos.errors import VerificationError

        raise VerificationError("APP_ROLE_TOO_POWERFUL", "; ".join(problems))
    print(f"role {args.role}: SELECT and INSERT, UPDATE/DELETE only where listed; cannot alter, truncate or "
          "disable triggers")
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


def _totals(rows: list[dict]) -> dict[str, list[int]]:
    totals: dict[str, list[int]] = {}
    for r in rows:
        t = totals.setdefault(r["currency"], [0, 0])
        t[0] += r["debit_minor"]
        t[1] += r["credit_minor"]
    return dict(sorted(totals.items()))


def print_trial_balance(rows: list[dict], title: str) -> None:
    """A trial balance (`vgos.ledger.trial_balance` rows) as one table, amounts as `8.36 USD`, with a total per
    currency that says `balanced` or `NOT BALANCED` (also used by the demo)."""
    from vgos_app.render import money, print_table

    if not rows:
        print(f"{title}: no postings")
        return
    body = [[r["account"], money(r["debit_minor"], r["currency"]), money(r["credit_minor"], r["currency"]),
             money(r["balance_minor"], r["currency"])] for r in rows]
    body += [["total", money(d, c), money(k, c), "balanced" if d == k else "NOT BALANCED"]
             for c, (d, k) in _totals(rows).items()]
    print_table(["account", "debit", "credit", "balance"], body, title=title)


def cmd_balance(args: argparse.Namespace) -> int:
    """Print the trial balance derived from the journal lines, with a per-currency total that must balance."""
    from vgos import ledger
    from vgos_app.render import money_json, print_json

    rows = ledger.trial_balance(args.window_id)
    if args.json:
        print_json({"window_id": args.window_id,
                    "accounts": [{"account": r["account"], "currency": r["currency"], "debit_minor": r["debit_minor"],
                                  "credit_minor": r["credit_minor"], "balance_minor": r["balance_minor"]}
                                 for r in rows],
                    "totals": [{"currency": c, "debit": money_json(d, c), "credit": money_json(k, c),
                                "balanced": d == k} for c, (d, k) in _totals(rows).items()]})
        return 0
    print_trial_balance(rows, f"trial balance, window {args.window_id}" if args.window_id
                        else "trial balance, all windows")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Print audit records for a window and/or actor."""
    from vgos import audit
    from vgos_app.render import print_json

    if not args.window_id and not args.actor_id:
        raise InputError("audit: give a window id WINDOW_ID and/or --actor")
    rows = audit.query(args.window_id, args.actor_id, action=args.action)
    if args.json:
        print_json({"window_id": args.window_id, "actor_id": args.actor_id, "action": args.action, "records": rows})
        return 0
    print(audit.format_rows(rows))
    return 0
