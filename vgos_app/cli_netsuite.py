"""`vgos netsuite sync WINDOW_ID [--dry-run]`, `vgos netsuite verify WINDOW_ID` and `vgos netsuite doctor`
(the commands over `connectors.netsuite`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from vgos.errors import InputError, VerificationError


def register(subparsers: Any) -> None:
    """Add the `netsuite` command group to the vgos argparse subparsers."""
    ns = subparsers.add_parser("netsuite", help="stamp vendor bills in NetSuite and read them back")
    from vgos_app.render import add_json_flag

    sub = ns.add_subparsers(dest="netsuite_command", required=True, metavar="ACTION")
    for name, func, help_ in (("sync", _sync, "upsert the window's vendor bills"),
                              ("verify", _verify, "read the window's bills back and report drift")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("window_id")
        p.add_argument("--vendor-map", default=os.environ.get("VGOS_NETSUITE_VENDOR_MAP"), metavar="FILE",
                       help="principal -> vendor mapping (YAML or CSV); default $VGOS_NETSUITE_VENDOR_MAP")
        p.add_argument("--gl-mapping", default=None, metavar="FILE",
                       help="GL mapping override file (default per tenant)")
        p.add_argument("--transport", choices=["soap", "rest"], default=None,
                       help="SuiteTalk SOAP or REST (default: $NETSUITE_TRANSPORT, else soap)")
        p.add_argument("--tenant", default="default")
        if name == "sync":
            p.add_argument("--dry-run", action="store_true",
                           help="compute and validate the bills, write nothing to NetSuite")
        add_json_flag(p)
        p.set_defaults(func=func)
    d = sub.add_parser("doctor", help="check the account's setup for VGOS (login, fields, vendors, GL) and say "
                                      "what to fix; exit 0 all good, 1 problems, 2 configuration error")
    d.add_argument("--vendor-map", default=os.environ.get("VGOS_NETSUITE_VENDOR_MAP"), metavar="FILE",
                   help="principal -> vendor mapping to check (default $VGOS_NETSUITE_VENDOR_MAP; none = skip)")
    d.add_argument("--gl-mapping", default=None, metavar="FILE", help="GL mapping override file (default per tenant)")
    d.add_argument("--tenant", default="default", help="tenant whose GL mapping is checked (default: default)")
    d.add_argument("--currency", action="append", default=None, metavar="CCY",
                   help="ISO code bills are made in (repeatable; default: the policy's currency)")
    add_json_flag(d)
    d.set_defaults(func=_doctor)


def _load_window(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    """Seal, transcript, gate decisions and recorded payout batch of the window, from the store."""
    from connectors.netsuite.pipeline import window_kwargs
    from connectors.netsuite.transcript_link import transcript_link
    from connectors.netsuite.vendor_map import load_vendor_map
    from gl_mappings import load_gl_mapping
    from recon.persist import load_batches
    from vgos.gate import latest_decisions
    from vgos.transcript import current_transcript, read_seal

    tenant = getattr(args, "tenant", None) or "default"
    ref = current_transcript(args.window_id, tenant)
    if ref is None:
        raise InputError(f"window {args.window_id} (tenant {tenant}): no sealed transcript; run the fold first")
    decisions = latest_decisions(args.window_id, tenant)
    if decisions is None:
        raise InputError(f"window {args.window_id}: not authorized yet; run `vgos authorize {args.window_id}`")
    if not args.vendor_map:
        raise InputError("--vendor-map (or VGOS_NETSUITE_VENDOR_MAP) is required: vendors are never guessed")
    seal = read_seal(ref)
    batches = load_batches(args.window_id, ref.output_digest, tenant_id=tenant)
    batch_ids = sorted({b["provider_batch_id"] for b in batches})
    return window_kwargs(
        tenant_id=tenant, window_id=args.window_id, currency=seal["window"]["currency"],
        output_digest=ref.output_digest, transcript_url=transcript_link(ref.url, config),
        provider_batch_id=",".join(batch_ids) or None, allocations=list(seal["allocations"]),
        decisions=decisions, vendor_map=load_vendor_map(args.vendor_map),
        gl_mapping=load_gl_mapping(tenant, args.gl_mapping),
    )


def _config(args: argparse.Namespace):  # -> NetSuiteConfig
    """NETSUITE_* settings, checked before the store is read: a bad WSDL or field id is exit 2 up front."""
    from connectors.netsuite.config import NetSuiteConfig

    overrides = {"transport": args.transport} if getattr(args, "transport", None) else {}
    config = NetSuiteConfig.from_env(**overrides)
    if config.transport == "soap":
        config.wsdl_path()
    return config


def _drift_json(drift: Any) -> dict[str, Any] | None:
    if drift is None:
        return None
    return {"ok": drift.ok, "checked": drift.checked, "counts": drift.counts(), "manual_holds": drift.manual_holds,
            "items": [{"kind": i.kind, "principal_id": i.principal_id, "external_id": i.external_id,
                       "expected": i.expected, "actual": i.actual} for i in drift.items]}


def _print_drift(drift: Any) -> None:
    from vgos_app.render import print_table

    if drift.items:
        print_table(["kind", "principal_id", "external_id", "expected", "actual"],
                    [[i.kind, i.principal_id, i.external_id, i.expected, i.actual] for i in drift.items],
                    title="drift")


def _sync(args: argparse.Namespace) -> int:
    from connectors.netsuite.dates import zone_label
    from connectors.netsuite.pipeline import sync_and_verify
    from connectors.netsuite.retry import NetSuiteError
    from vgos_app.render import print_json, progress_bar

    config = _config(args)
    window = _load_window(args, config)
    try:
        with progress_bar(f"stamping the bills of window {args.window_id}") as progress:
            report, drift = sync_and_verify(config, window, dry_run=args.dry_run, progress=progress)
    except NetSuiteError as exc:
        raise VerificationError(exc.code, str(exc)) from exc
    code = 0 if report.ok and (drift is None or drift.ok) else 1
    if args.json:
        print_json({"window_id": args.window_id, "tenant_id": args.tenant, "dry_run": args.dry_run, "ok": code == 0,
                    "bill_date": window["tran_date"], "counts": report.counts(), "journal": report.journal or None,
                    "missing_vendor": report.missing_vendor,
                    "failed": [{"external_id": f.external_id, "code": f.code, "message": f.message}
                               for f in report.failed],
                    "read_back": _drift_json(drift)})
        return code
    counts = " ".join(f"{k}={v}" for k, v in report.counts().items() if not k.startswith("journal_"))
    print(f"netsuite sync {args.window_id}{' (dry run)' if args.dry_run else ''}: {counts}")
    print(f"  bill date {window['tran_date']}, {zone_label(config)}")
    if report.journal:
        print("  journal: " + " ".join(f"{k}={v}" for k, v in report.journal.items()))
    else:
        why = "dry run" if args.dry_run else "bills not all written; the next sync posts it"
        print(f"  journal: not posted ({why})")
    for pid in report.missing_vendor:
        print(f"  MISSING_VENDOR_MAPPING {pid}")
    for f in report.failed:
        print(f"  FAILED {f.external_id} {f.code}: {f.message}")
    if drift is not None:
        print(f"  read-back: checked={drift.checked} drift={len(drift.items)}")
        _print_drift(drift)
    return code


def _verify(args: argparse.Namespace) -> int:
    from connectors.netsuite.rest_client import make_client
    from connectors.netsuite.retry import NetSuiteError
    from connectors.netsuite.stamping import verify_window
    from vgos_app.render import print_json, progress_bar

    config = _config(args)
    window = _load_window(args, config)
    try:
        with progress_bar(f"reading back the bills of window {args.window_id}") as progress:
            drift = verify_window(make_client(config), **window, progress=progress)
    except NetSuiteError as exc:
        raise VerificationError(exc.code, str(exc)) from exc
    if args.json:
        print_json({"window_id": args.window_id, "tenant_id": args.tenant, **(_drift_json(drift) or {})})
        return 0 if drift.ok else 1
    print(f"netsuite verify {args.window_id}: checked={drift.checked} drift={len(drift.items)}")
    _print_drift(drift)
    return 0 if drift.ok else 1


def _doctor(args: argparse.Namespace) -> int:
    """Check login, fields, vendors and GL records; one line per problem with its fix (exit 0/1, 2 on config)."""
    from dataclasses import replace

    from connectors.netsuite.doctor import Doctor
    from connectors.netsuite.retry import NetSuiteError, RetryPolicy
    from connectors.netsuite.soap_client import SuiteTalkClient
    from connectors.netsuite.transcript_link import check_link_config
    from connectors.netsuite.vendor_map import load_vendor_map
    from gl_mappings import load_gl_mapping
    from vgos.policy import load_policy
    from vgos_app.render import print_json

    config = replace(_config(args), transport="soap")  # doctor reads setup records over SOAP
    config.wsdl_path()
    links = check_link_config(config)
    # a doctor answers in seconds: few retries, short waits (a sync keeps the configured policy)
    client = SuiteTalkClient(config, retry=RetryPolicy.from_config(config, max_attempts=min(3, config.max_attempts),
                                                                     budget_s=10.0))
    gl_mapping = load_gl_mapping(args.tenant, args.gl_mapping)
    vendor_map = load_vendor_map(args.vendor_map) if args.vendor_map else None
    currencies = args.currency or [load_policy().currency]
    head = f"netsuite doctor: account {config.credentials.account} at {config.root_url} (tenant {args.tenant})"
    if not args.json:
        print(head)
    try:
        report = Doctor(client).run(vendor_map=vendor_map, gl_mapping=gl_mapping, currencies=currencies)
    except NetSuiteError as exc:
        problem = (f"NetSuite refused a setup read: {exc.code}: {exc}", "give the VGOS role the View permissions "
                   "listed in docs/netsuite.md (Setting up an account)")
        if args.json:
            print_json({"ok": False, "account": config.credentials.account, "tenant_id": args.tenant,
                        "passed": [], "problems": [{"subject": "setup read", "issue": problem[0], "fix": problem[1]}]})
        else:
            print(f"  PROBLEM {problem[0]}. Fix: {problem[1]}")
        return 1
    if args.json:
        print_json({"ok": report.ok, "account": config.credentials.account, "root_url": config.root_url,
                    "tenant_id": args.tenant, "transcript_links": links, "vendors_checked": vendor_map is not None,
                    "passed": report.passed,
                    "problems": [{"subject": p.subject, "issue": p.issue, "fix": p.fix} for p in report.problems]})
        return 0 if report.ok else 1
    for line in report.passed:
        print(f"  ok {line}")
    print(f"  ok transcript links: {links}")
    if vendor_map is None:
        print("  skipped vendors: no --vendor-map (or VGOS_NETSUITE_VENDOR_MAP)")
    for problem in report.problems:
        print(f"  {problem.line()}")
    n = len(report.problems)
    print(f"netsuite doctor: {'all good' if not n else f'{n} problem' + ('s' if n > 1 else '')}")
    return 0 if report.ok else 1
