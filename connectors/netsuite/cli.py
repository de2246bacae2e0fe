"""`vgos netsuite sync D [--dry-run]`, `vgos netsuite verify D` and `vgos netsuite doctor`."""

from __future__ import annotations

import argparse
import os
from typing import Any

from vgos.errors import InputError, VerificationError


def register(subparsers: Any) -> None:
    """Add the `netsuite` command group to the vgos argparse subparsers."""
    ns = subparsers.add_parser("netsuite", help="stamp vendor bills in NetSuite and read them back")
    sub = ns.add_subparsers(dest="netsuite_command", required=True)
    for name, func, help_ in (("sync", _sync, "upsert the window's vendor bills"),
                              ("verify", _verify, "read the window's bills back and report drift")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("window_id")
        p.add_argument("--vendor-map", default=os.environ.get("VGOS_NETSUITE_VENDOR_MAP"),
                       help="principal -> vendor mapping (YAML or CSV); default $VGOS_NETSUITE_VENDOR_MAP")
        p.add_argument("--gl-mapping", default=None, help="GL mapping override file (default per tenant)")
        p.add_argument("--transport", choices=["soap", "rest"], default=None)
        p.add_argument("--tenant", default="default", help="tenant id (default: default)")
        if name == "sync":
            p.add_argument("--dry-run", action="store_true")
        p.set_defaults(func=func)
    d = sub.add_parser("doctor", help="check the account's setup for VGOS (login, fields, vendors, GL) and say "
                                      "what to fix; exit 0 all good, 1 problems, 2 configuration error")
    d.add_argument("--vendor-map", default=os.environ.get("VGOS_NETSUITE_VENDOR_MAP"),
                   help="principal -> vendor mapping to check (default $VGOS_NETSUITE_VENDOR_MAP; none = skip)")
    d.add_argument("--gl-mapping", default=None, help="GL mapping override file (default per tenant)")
    d.add_argument("--tenant", default="default", help="tenant whose GL mapping is checked (default: default)")
    d.add_argument("--currency", action="append", default=None,
                   help="ISO code bills are made in (repeatable; default: the policy's currency)")
    d.set_defaults(func=_doctor)


def _load_window(args: argparse.Namespace, config: Any) -> dict[str, Any]:
    """Seal, transcript, gate decisions and recorded payout batch of the window, from the store."""
    from gl_mappings import load_gl_mapping
    from recon.persist import load_batches
    from vgos.gate import latest_decisions
    from vgos.transcript import current_transcript, read_seal

    from .pipeline import window_kwargs
    from .transcript_link import transcript_link
    from .vendor_map import load_vendor_map

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
    from .config import NetSuiteConfig

    overrides = {"transport": args.transport} if getattr(args, "transport", None) else {}
    config = NetSuiteConfig.from_env(**overrides)
    if config.transport == "soap":
        config.wsdl_path()
    return config


def _sync(args: argparse.Namespace) -> int:
    from .dates import zone_label
    from .pipeline import sync_and_verify
    from .retry import NetSuiteError

    config = _config(args)
    window = _load_window(args, config)
    try:
        report, drift = sync_and_verify(config, window, dry_run=args.dry_run)
    except NetSuiteError as exc:
        raise VerificationError(exc.code, str(exc)) from exc
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
    return 0 if report.ok and (drift is None or drift.ok) else 1


def _verify(args: argparse.Namespace) -> int:
    from .rest_client import make_client
    from .retry import NetSuiteError
    from .stamping import verify_window

    config = _config(args)
    window = _load_window(args, config)
    try:
        drift = verify_window(make_client(config), **window)
    except NetSuiteError as exc:
        raise VerificationError(exc.code, str(exc)) from exc
    print(f"netsuite verify {args.window_id}: checked={drift.checked} drift={len(drift.items)}")
    for item in drift.items:
        print(f"  {item.kind} {item.principal_id} {item.external_id}: expected {item.expected}, got {item.actual}")
    return 0 if drift.ok else 1


def _doctor(args: argparse.Namespace) -> int:
    """Check login, fields, vendors and GL records; one line per problem with its fix (exit 0/1, 2 on config)."""
    from dataclasses import replace

    from gl_mappings import load_gl_mapping
    from vgos.policy import load_policy

    from .doctor import Doctor
    from .retry import NetSuiteError, RetryPolicy
    from .soap_client import SuiteTalkClient
    from .transcript_link import check_link_config
    from .vendor_map import load_vendor_map

    config = replace(_config(args), transport="soap")  # doctor reads setup records over SOAP
    config.wsdl_path()
    links = check_link_config(config)
    # a doctor answers in seconds: few retries, short waits (a sync keeps the configured policy)
    client = SuiteTalkClient(config, retry=RetryPolicy.from_config(config, max_attempts=min(3, config.max_attempts),
                                                                     budget_s=10.0))
    gl_mapping = load_gl_mapping(args.tenant, args.gl_mapping)
    vendor_map = load_vendor_map(args.vendor_map) if args.vendor_map else None
    currencies = args.currency or [load_policy().currency]
    print(f"netsuite doctor: account {config.credentials.account} at {config.root_url} (tenant {args.tenant})")
    try:
        report = Doctor(client).run(vendor_map=vendor_map, gl_mapping=gl_mapping, currencies=currencies)
    except NetSuiteError as exc:
        print(f"  PROBLEM NetSuite refused a setup read: {exc.code}: {exc}. Fix: give the VGOS role the View "
              "permissions listed in docs/netsuite.md (Setting up an account)")
        return 1
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
