"""`vgos batch create|sent|cancel` and `vgos recon parse|ingest|run|files|accept-file|cases|case`: payout rails
and reconciliation commands (over `connectors.psp` and `recon`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vgos.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `batch` and `recon` commands to the `vgos` parser."""
    from connectors.psp.ids import RAILS
    from connectors.psp.receipts import FORMATS
    from vgos_app.render import add_json_flag

    batch = subparsers.add_parser("batch", help="payout batches from ALLOW decisions (pain.001, CSV, PSP APIs)")
    bsub = batch.add_subparsers(dest="batch_command", required=True, metavar="ACTION")
    c = bsub.add_parser("create", help="render the window's batch for a rail and record its provider_batch_id")
    c.add_argument("window_id")
    c.add_argument("--rail", required=True, choices=RAILS, help=f"payout rail: {', '.join(RAILS)}")
    c.add_argument("--out", required=True, type=Path, metavar="F",
                   help="batch file: written only once the registry accepted the batch; never overwritten")
    c.add_argument("--payees", type=Path, metavar="F",
                   help="payee directory CSV (connectors/psp/payees.py); default: the demo directory")
    c.add_argument("--debtor", type=Path, metavar="F", help="debtor account JSON {name, iban, bic}")
    c.add_argument("--execution-date", metavar="YYYY-MM-DD",
                   help="requested execution date (default: the day after the window closes)")
    c.add_argument("--tenant", default="default")
    c.set_defaults(func=cmd_batch_create)
    m = bsub.add_parser("sent", help="record that a batch was handed to the bank/provider (items BATCHED → SENT)")
    m.add_argument("batch_id", metavar="BATCH_ID", help="provider_batch_id printed by `batch create`")
    m.add_argument("--reason", default="uploaded to the provider", help="why / where (recorded)")
    m.add_argument("--tenant", default="default")
    m.set_defaults(func=cmd_batch_mark, to_state="SENT")
    m = bsub.add_parser("cancel", help="void a batch that never reached the bank (items → CANCELLED, payable again)")
    m.add_argument("batch_id", metavar="BATCH_ID", help="provider_batch_id printed by `batch create`")
    m.add_argument("--reason", required=True, help="why the batch is voided (recorded)")
    m.add_argument("--tenant", default="default")
    m.set_defaults(func=cmd_batch_mark, to_state="CANCELLED")

    recon = subparsers.add_parser("recon", help="provider reports → receipts → reconciliation and SPV")
    rsub = recon.add_subparsers(dest="recon_command", required=True, metavar="ACTION")
    p = rsub.add_parser("parse", help="print a report's normalized receipts as JSON lines")
    p.add_argument("--format", required=True, choices=FORMATS, metavar="FORMAT",
                   help=f"the report's format ({', '.join(FORMATS)})")
    p.add_argument("file", type=Path, metavar="FILE", help="the provider report file")
    p.set_defaults(func=cmd_recon_parse)
    i = rsub.add_parser("ingest", help="record a report's receipts once per file hash (or quarantine it)")
    i.add_argument("--format", choices=FORMATS, metavar="FORMAT",
                   help=f"the report's format ({', '.join(FORMATS)}); default: detected from the content")
    i.add_argument("file", type=Path, metavar="FILE", help="the provider report file")
    i.add_argument("--tenant", default="default")
    i.set_defaults(func=cmd_recon_ingest)
    r = rsub.add_parser("run", help="reconcile the window's batches against stored receipts (exit 1 if not clean)")
    r.add_argument("window_id")
    r.add_argument("--tenant", default="default")
    r.add_argument("--tolerance-minor", type=int, default=0, metavar="N",
                   help="amount tolerance in minor units (default 0)")
    r.add_argument("--ingest-drops", action="store_true", help="first ingest new files in <drop zone>/reports/")
    add_json_flag(r)
    r.set_defaults(func=cmd_recon_run)
    f = rsub.add_parser("files", help="report files seen: PROCESSED, FLAGGED (self-contradicting), ACCEPTED, "
                                      "QUARANTINED, with reasons")
    f.add_argument("--status", choices=("PROCESSED", "FLAGGED", "ACCEPTED", "QUARANTINED"),
                   help="only files in this status")
    f.add_argument("--tenant", default="default")
    add_json_flag(f)
    f.set_defaults(func=cmd_recon_files)
    a = rsub.add_parser("accept-file", help="a person accepts a FLAGGED statement after checking it with the bank")
    a.add_argument("sha256", metavar="SHA256", help="the file's sha256 (at least 8 hex digits; see `recon files`)")
    a.add_argument("--reason", required=True, help="why the statement can be trusted (recorded)")
    a.add_argument("--tenant", default="default")
    a.set_defaults(func=cmd_recon_accept_file)
    c = rsub.add_parser("cases", help="the window's discrepancy cases with status and owner")
    c.add_argument("window_id")
    c.add_argument("--tenant", default="default")
    add_json_flag(c)
    c.set_defaults(func=cmd_recon_cases)
    c = rsub.add_parser("case", help="set a case's status (OPEN, RESOLVED, WRITTEN_OFF) and owner")
    c.add_argument("window_id")
    c.add_argument("case", metavar="CASE", help="case id or case key (see `vgos recon cases WINDOW_ID`)")
    c.add_argument("--status", required=True, choices=("OPEN", "RESOLVED", "WRITTEN_OFF"),
                   help="the case's new status")
    c.add_argument("--owner", help="who owns the case")
    c.add_argument("--note", help="why (required to close a case; recorded)")
    c.add_argument("--tenant", default="default")
    c.set_defaults(func=cmd_recon_case)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def cmd_batch_create(args: argparse.Namespace) -> int:
    """vgos batch create D --rail R --out F: release the window's payable items once, on one rail."""
    from connectors.psp.payees import load_payees
    from recon.service import create_window_batch, read_debtor
    from vgos.money import minor_to_decimal

    rel = create_window_batch(args.window_id, args.rail, args.out, tenant_id=args.tenant,
                              payees=load_payees(args.payees) if args.payees else None,
                              debtor=read_debtor(args.debtor) if args.debtor else None,
                              execution_date=args.execution_date)
    b = rel.batch
    print(f"batch {b.provider_batch_id} rail {b.rail}: {len(b.items)} payouts, total "
          f"{minor_to_decimal(b.ctrl_sum_minor, b.currency)} {b.currency}, output_digest {b.output_digest[:16]}…, "
          f"released at {rel.released_at} on gate run {rel.gate_run_id} → {args.out}")
    for pid, reason in rel.excluded:
        print(f"  not paid: {pid} {reason}")
    return 0


def cmd_batch_mark(args: argparse.Namespace) -> int:
    """vgos batch sent|cancel BATCH_ID: operator evidence for a whole batch."""
    from vgos.payouts import Actor, mark_batch

    counts = mark_batch(args.batch_id, args.to_state, args.reason, actor=Actor.now(), tenant_id=args.tenant)
    print(f"batch {args.batch_id}: {counts['moved']} item(s) → {args.to_state}, {counts['unchanged']} unchanged, "
          f"{counts['ignored']} not movable")
    return 0


def cmd_recon_parse(args: argparse.Namespace) -> int:
    """vgos recon parse --format X FILE: receipts as JSON lines; a quarantined file is exit 2 with its reason."""
    import orjson

    from connectors.psp.reports import parse_bytes

    res = parse_bytes(args.format, _read(args.file), args.file.name)
    if res.quarantined:
        q = res.quarantined[0]
        raise InputError(f"{args.file}:{q.line or '?'}: quarantined {q.reason_code}: {q.reason}")
    for r in res.receipts:
        sys.stdout.write(orjson.dumps(r.to_dict(), option=orjson.OPT_SORT_KEYS).decode() + "\n")
    return 0


def cmd_recon_ingest(args: argparse.Namespace) -> int:
    """vgos recon ingest FILE: record receipts once (sha256), or quarantine the whole file."""
    from recon.service import ingest_report

    out = ingest_report(_read(args.file), str(args.file), args.format, tenant_id=args.tenant)
    print(f"{out.status} {args.file} ({out.format}, {out.n_receipts} receipts, sha256 {out.raw_sha256[:12]}…)")
    if out.flags:
        print(f"  flagged {', '.join(out.flags)}: imported, but its receipts confirm nothing until a consistent "
              f"statement arrives or a person runs `vgos recon accept-file {out.raw_sha256[:12]} --reason ...`")
    if out.quarantine:
        raise InputError(f"{args.file}:{out.quarantine.line or '?'}: quarantined {out.quarantine.reason_code}: "
                         f"{out.quarantine.reason}")
    return 0


def cmd_recon_run(args: argparse.Namespace) -> int:
    """vgos recon run WINDOW_ID: reconcile, persist, print the summary and the discrepancy table."""
    import datetime as dt

    from recon.service import ingest_report_drops, load_window, recon_metadata, run_window_recon
    from vgos_app.render import money, money_json, print_json, print_table, progress_bar

    if args.tolerance_minor < 0:
        raise InputError(f"--tolerance-minor {args.tolerance_minor}: must be 0 or more minor units")
    now = dt.datetime.now(dt.UTC)
    with progress_bar(f"reconciling window {args.window_id}") as progress:
        if args.ingest_drops:  # files done of those in <drop zone>/reports/
            ingest_report_drops(tenant_id=args.tenant, now=now, progress=progress)
        progress(f"reading window {args.window_id}")
        state = load_window(args.window_id, tenant_id=args.tenant)
        # stages with counts: batches loaded, receipts selected, payments reconciled, result stored
        result, run_id, changed = run_window_recon(state, as_of=now, amount_tolerance_minor=args.tolerance_minor,
                                                   progress=progress)
    meta = recon_metadata(result)
    ccy = state.currency

    def amount(v: int | None) -> str:
        return "" if v is None else money(v, ccy)

    if args.json:
        doc = {k: v for k, v in meta.items() if k not in ("preview_markdown", "fees")}
        print_json({**doc, "tenant_id": args.tenant, "run_id": run_id, "changed": changed, "currency": ccy,
                    "pending": len(result.pending), "n_receipts": result.n_receipts,
                    "fees": [{"fee_id": f.fee_id, **money_json(f.amount_minor, f.currency)} for f in result.fees],
                    "discrepancies": [{"type": d.type, "severity": d.severity, "confidence_pct": d.confidence_pct,
                                       "subject": d.subject, "principal_id": d.principal_id,
                                       "receipt_id": d.receipt_id, "batch_id": d.batch_id,
                                       "expected_minor": d.expected_minor, "actual_minor": d.actual_minor,
                                       "detail": d.detail} for d in result.discrepancies]})
        return 0 if result.fully_reconciled else 1
    print(f"recon {args.window_id} run {run_id}{'' if changed else ' (unchanged)'}: settled {meta['matched']}"
          f"/{meta['expected']} ({meta['matched_share']}), pending {len(result.pending)}, "
          f"fully reconciled: {meta['fully_reconciled']}")
    for bid, status in sorted(result.batches.items()):
        print(f"  batch {bid}: {status}")
    if result.fees:
        total = sum(f.amount_minor for f in result.fees)
        print(f"  fees booked: {len(result.fees)} ({money(total, result.fees[0].currency)}, posted to the ledger as "
              "fee expense)")
    if result.discrepancies:
        print_table(["type", "severity", "confidence", "subject", "expected", "actual", "detail"],
                    [[d.type, d.severity, f"{d.confidence_pct}%", d.subject or "", amount(d.expected_minor),
                      amount(d.actual_minor), d.detail] for d in result.discrepancies], title="discrepancies")
    else:
        print("discrepancies: none")
    return 0 if result.fully_reconciled else 1


def cmd_recon_files(args: argparse.Namespace) -> int:
    """vgos recon files: every report file seen, with its status and reasons (one line each, status first)."""
    from recon.persist import report_files
    from vgos_app.render import print_json, print_table

    rows = report_files(tenant_id=args.tenant, status=args.status)
    if args.json:
        print_json({"tenant_id": args.tenant, "status": args.status, "files": rows})
        return 0
    if not rows:
        print("no report files")
        return 0
    print_table(["status", "sha256", "format", "receipts", "name", "why"],
                [[r["status"], r["raw_sha256"][:12], r["format"], r["n_receipts"], r["name"],
                  r["reason_code"] or ", ".join(f["reason_code"] for f in r["flags"]) or ""] for r in rows],
                plain_header=False)
    return 0


def cmd_recon_accept_file(args: argparse.Namespace) -> int:
    """vgos recon accept-file SHA --reason: a person vouches for a flagged statement (audited)."""
    from recon.persist import accept_file
    from vgos.audit import note
    from vgos.payouts import Actor

    actor = Actor.now()
    out = accept_file(args.sha256, by=actor.actor_id, at=actor.at, reason=args.reason, tenant_id=args.tenant)
    note("recon.accept_file", f"report/{args.tenant}/{out['raw_sha256']}", out)
    print(f"ACCEPTED {out['name']} by {out['resolved_by']} at {out['resolved_at']}; run `vgos recon run` again")
    return 0


def cmd_recon_cases(args: argparse.Namespace) -> int:
    """vgos recon cases WINDOW_ID: the window's discrepancy cases (one line each, `#id` first)."""
    from recon.persist import list_cases
    from vgos_app.render import print_json, print_table

    rows = list_cases(args.window_id, tenant_id=args.tenant)
    if args.json:
        print_json({"window_id": args.window_id, "tenant_id": args.tenant, "cases": rows})
        return 0
    if not rows:
        print(f"window {args.window_id}: no cases")
        return 0
    print_table(["case", "status", "severity", "type", "batch", "subject", "owner"],
                [[f"#{c['id']}", c["status"], c["severity"], c["type"], c["batch_id"] or "-", c["subject"] or "-",
                  f"owner={c['owner'] or '-'}"] for c in rows], plain_header=False)
    return 0


def cmd_recon_case(args: argparse.Namespace) -> int:
    """vgos recon case D CASE --status S: a person resolves, writes off or re-opens a case (audited)."""
    from recon.persist import set_case
    from vgos.payouts import Actor

    actor = Actor.now()
    c = set_case(args.window_id, args.case, status=args.status, owner=args.owner, note=args.note, by=actor.actor_id,
                 at=actor.at, tenant_id=args.tenant)
    print(f"case #{c['id']} {c['type']} {c['subject'] or c['batch_id']}: {c['status']} (owner {c['owner'] or '-'})")
    return 0
