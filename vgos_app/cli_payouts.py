"""`vgos payouts show|history|sync D`: the payout registry of a window, as finance and auditors read it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def print_items(items: Sequence[Any]) -> None:
    """Payout items (`vgos.payouts.Item`) as one table, amounts as `3.80 USD` (also used by the demo)."""
    from vgos_app.render import money, print_table

    print_table(["principal_id", "kind", "amount", "state", "reason", "seal", "batch", "since"],
                [[i.principal_id, i.kind, money(i.amount_minor, i.currency), i.state, i.reason,
                  i.output_digest[:12], i.provider_batch_id or "", i.at] for i in items])


def cmd_show(args: argparse.Namespace) -> int:
    """vgos payouts show WINDOW_ID: every item with its state, amount and batch; totals per state."""
    from vgos import payouts
    from vgos.errors import InputError
    from vgos.transcript import current_transcript
    from vgos_app.render import money, money_json, print_json, print_table

    ref = current_transcript(args.window_id, args.tenant)
    if ref is None:
        raise InputError(f"window {args.window_id} (tenant {args.tenant}): no published transcript")
    its = payouts.items(args.window_id, args.tenant)
    shown = its if args.all else [i for i in its if i.live]
    totals = payouts.summary(its)
    ccy = its[0].currency if its else None
    if args.json:
        print_json({"window_id": args.window_id, "tenant_id": args.tenant, "output_digest": ref.output_digest,
                    "currency": ccy, "all": args.all,
                    "items": [{**i.to_dict(), "live": i.live} for i in shown],
                    "totals": {state: {"items": t["items"], **money_json(t["amount_minor"], ccy or "")}
                               for state, t in totals.items()}})
        return 0
    print(f"window {args.window_id} · sealed {ref.output_digest[:16]}… · {len(shown)} item(s)"
          f"{'' if args.all else ' (superseded items hidden; --all shows them)'}")
    print_items(shown)
    if totals and ccy:
        print_table(["state", "items", "amount"],
                    [[state, t["items"], money(t["amount_minor"], ccy)] for state, t in totals.items()],
                    title="totals per state (live items)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """vgos payouts history WINDOW_ID: every transition (who, when, why, evidence), oldest first."""
    from vgos import payouts
    from vgos_app.render import print_json, print_table

    rows = payouts.history(args.window_id, args.tenant)
    if args.json:
        print_json({"window_id": args.window_id, "tenant_id": args.tenant, "transitions": rows})
        return 0
    if not rows:
        print(f"window {args.window_id} (tenant {args.tenant}): no payout transitions")
        return 0
    print_table(["at", "principal_id", "from", "to", "reason", "batch", "actor", "evidence"],
                [[r["at"], r["principal_id"], r["from_state"] or "", r["to_state"], r["reason"],
                  r["provider_batch_id"] or "", r["actor_id"], (r["evidence"] or "")[:60]] for r in rows])
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """vgos payouts sync WINDOW_ID: create the current seal's items (accruals), supersede what a re-seal replaced."""
    from vgos import payouts

    res = payouts.sync(args.window_id, args.tenant, actor=payouts.Actor.now())
    print(f"window {args.window_id}: sealed {res['output_digest'][:16]}…, {res['created']} item(s) created, "
          f"{res['superseded']} superseded")
    return 0


def register(subparsers: Any) -> None:
    """Add `payouts` to the `vgos` command."""
    from vgos_app.render import add_json_flag

    p = subparsers.add_parser("payouts", help="the payout registry: items, states, transitions")
    ps = p.add_subparsers(dest="payouts_command", required=True, metavar="ACTION")
    for name, func, text in (("show", cmd_show, "items of a window and their states"),
                             ("history", cmd_history, "every transition of a window's items"),
                             ("sync", cmd_sync, "create items for the window's current seal")):
        q = ps.add_parser(name, help=text)
        q.add_argument("window_id")
        q.add_argument("--tenant", default="default")
        if name == "show":
            q.add_argument("--all", action="store_true", help="also items superseded by a re-seal")
        if name in ("show", "history"):
            add_json_flag(q)
        q.set_defaults(func=func)
