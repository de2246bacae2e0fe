"""`vgos payouts show|history|sync D`: the payout registry of a window, as finance and auditors read it."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_show(args: argparse.Namespace) -> int:
    """vgos payouts show D: every item with its state, amount and batch; totals per state."""
    import orjson

    from vgos import payouts
    from vgos.errors import InputError
    from vgos.money import minor_to_decimal
    from vgos.report import table
    from vgos.transcript import current_transcript

    ref = current_transcript(args.window_id, args.tenant)
    if ref is None:
        raise InputError(f"window {args.window_id} (tenant {args.tenant}): no published transcript")
    its = payouts.items(args.window_id, args.tenant)
    if args.json:
        sys.stdout.write(orjson.dumps([i.to_dict() for i in its], option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    shown = its if args.all else [i for i in its if i.live]
    print(f"window {args.window_id} · sealed {ref.output_digest[:16]}… · {len(shown)} item(s)"
          f"{'' if args.all else ' (superseded items hidden; --all shows them)'}")
    print(table(["principal_id", "kind", "amount", "state", "reason", "seal", "batch", "since"],
                [[i.principal_id, i.kind, minor_to_decimal(i.amount_minor, i.currency), i.state, i.reason,
                  i.output_digest[:12], i.provider_batch_id or "", i.at] for i in shown]))
    for state, s in payouts.summary(its).items():
        ccy = its[0].currency
        print(f"  {state:<11} {s['items']:>6} item(s)  {minor_to_decimal(s['amount_minor'], ccy):>14} {ccy}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """vgos payouts history D: every transition (who, when, why, evidence), oldest first."""
    from vgos import payouts
    from vgos.report import table

    rows = payouts.history(args.window_id, args.tenant)
    print(table(["at", "principal_id", "from", "to", "reason", "batch", "actor", "evidence"],
                [[r["at"], r["principal_id"], r["from_state"] or "", r["to_state"], r["reason"],
                  r["provider_batch_id"] or "", r["actor_id"], (r["evidence"] or "")[:60]] for r in rows]))
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """vgos payouts sync D: create the current seal's items (accruals) and supersede what a re-seal replaced."""
    from vgos import payouts

    res = payouts.sync(args.window_id, args.tenant, actor=payouts.Actor.now())
    print(f"window {args.window_id}: sealed {res['output_digest'][:16]}…, {res['created']} item(s) created, "
          f"{res['superseded']} superseded")
    return 0


def register(subparsers: Any) -> None:
    """Add `payouts` to the `vgos` command."""
    p = subparsers.add_parser("payouts", help="the payout registry: items, states, transitions")
    ps = p.add_subparsers(dest="payouts_command", required=True, metavar="ACTION")
    for name, func, text in (("show", cmd_show, "items of a window and their states"),
                             ("history", cmd_history, "every transition of a window's items"),
                             ("sync", cmd_sync, "create items for the window's current seal")):
        q = ps.add_parser(name, help=text)
        q.add_argument("window_id", metavar="D", help="the window's id (its close date, YYYY-MM-DD)")
        q.add_argument("--tenant", default="default")
        if name == "show":
            q.add_argument("--all", action="store_true", help="also items superseded by a re-seal")
            q.add_argument("--json", action="store_true", help="items as JSON")
        q.set_defaults(func=func)
