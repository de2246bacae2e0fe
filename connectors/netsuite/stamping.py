"""Stamp one window's vendor bills from sealed allocations and gate decisions, and read them back for drift."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from gl_mappings.mapping import COMPONENT_FIELDS, GLMapping
from vgos.errors import InputError, VerificationError

from .dates import parse_day
from .model import (
    BillSpec,
    DriftItem,
    DriftReport,
    ExpenseLine,
    RemoteBill,
    SyncReport,
    WriteResult,
    bill_external_id,
)
from .retry import NetSuiteError


class BillClient(Protocol):
    """What stamping needs from a transport (SuiteTalkClient or RestClient)."""

    def upsert_bills(self, specs: Sequence[BillSpec]) -> list[WriteResult]: ...
    def upsert_bill(self, spec: BillSpec) -> WriteResult: ...
    def find_window_bills(self, window_id: str, currency: str) -> list[RemoteBill]: ...


def is_eligible(decision: dict | None, output_digest: str) -> bool:
    """Eligible only for an ALLOW decision bound to this exact output_digest."""
    return bool(decision) and decision.get("decision") == "ALLOW" and decision.get("output_digest") == output_digest


def build_bill_specs(*, tenant_id: str, window_id: str, currency: str, output_digest: str, transcript_url: str,
                     provider_batch_id: str | None, allocations: list[dict], decisions: list[dict],
                     vendor_map: dict[str, str], gl_mapping: GLMapping, tran_date: str,
                     report: SyncReport | None = None) -> list[BillSpec]:
    """One BillSpec per mapped principal; missing vendors and negative payouts go to the report, not NetSuite."""
    report = report if report is not None else SyncReport(window_id)
    tran_date = parse_day(tran_date).isoformat()  # a plain date: the window's close date in the account's zone
    by_principal = {str(d["principal_id"]): d for d in decisions}
    currency_id = gl_mapping.currency_id(currency)
    specs: list[BillSpec] = []
    for alloc in sorted(allocations, key=lambda a: str(a["principal_id"])):
        pid = str(alloc["principal_id"])
        vendor = vendor_map.get(pid)
        if not vendor:
            report.missing_vendor.append(pid)
            continue
        amounts = {}
        for comp, fld in COMPONENT_FIELDS.items():
            value = alloc.get(fld, 0)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"allocation {pid}: field {fld} must be an integer of minor units, got {value!r}")
            amounts[comp] = value
        payout = alloc.get("payout_minor")
        if payout != sum(amounts.values()):
            raise VerificationError("ALLOCATION_INCONSISTENT",
                                    f"{pid}: payout_minor {payout} != net + bonus + carry {sum(amounts.values())}")
        if payout < 0:
            report.skipped[pid] = "NEGATIVE_PAYOUT"
            continue
        lines = tuple(
            ExpenseLine(comp, gl_mapping.components[comp].account, amt, gl_mapping.components[comp].department,
                        gl_mapping.components[comp].class_, gl_mapping.components[comp].memo)
            for comp, amt in amounts.items() if amt != 0 or comp == "net"
        )
        decision = by_principal.get(pid)
        specs.append(BillSpec(
            external_id=bill_external_id(tenant_id, window_id, pid), principal_id=pid, vendor_id=vendor,
            tran_date=tran_date, currency=currency, currency_id=currency_id, subsidiary_id=gl_mapping.subsidiary,
            lines=lines, window_id=window_id, output_digest=output_digest, transcript_url=transcript_url,
            provider_batch_id=provider_batch_id, eligible_to_pay=is_eligible(decision, output_digest),
            memo=f"VGOS {window_id} {pid}",
        ))
    return specs


def _clearing_spec(remote: RemoteBill, template: dict[str, Any]) -> BillSpec:
    """Keep an orphaned bill's amounts but stamp the new digest and take its eligibility away."""
    return BillSpec(
        external_id=remote.external_id or "", principal_id="", vendor_id=remote.vendor_id or "",
        tran_date=remote.tran_date or template["tran_date"], currency=template["currency"],
        currency_id=remote.currency_id or template["currency_id"], subsidiary_id=template["subsidiary_id"],
        lines=remote.lines, window_id=template["window_id"], output_digest=template["output_digest"],
        transcript_url=template["transcript_url"], provider_batch_id=template["provider_batch_id"],
        eligible_to_pay=False, memo="VGOS: no longer in the sealed window",
    )


def sync_window(client: BillClient, *, tenant_id: str, window_id: str, currency: str, output_digest: str,
                transcript_url: str, provider_batch_id: str | None, allocations: list[dict],
                decisions: list[dict], vendor_map: dict[str, str], gl_mapping: GLMapping, tran_date: str,
                dry_run: bool = False, concurrency: int = 5, batch_size: int = 100) -> SyncReport:
    """Upsert the window's bills so NetSuite matches the seal and the gate; idempotent and crash-safe.

    The client retries concurrency faults per call (its RetryPolicy); records that fail inside an
    upsertList are retried alone once; upsert by externalId means a re-run after a crash adds nothing.
    """
    report = SyncReport(window_id, dry_run=dry_run)
    lock = threading.Lock()
    retries_before = getattr(client, "retries", 0)

    specs = build_bill_specs(
        tenant_id=tenant_id, window_id=window_id, currency=currency, output_digest=output_digest,
        transcript_url=transcript_url, provider_batch_id=provider_batch_id, allocations=allocations,
        decisions=decisions, vendor_map=vendor_map, gl_mapping=gl_mapping, tran_date=tran_date, report=report)
    existing = {b.external_id: b for b in client.find_window_bills(window_id, currency)}
    category: dict[str, str] = {}
    to_write: list[BillSpec] = []
    for spec in specs:
        remote = existing.get(spec.external_id)
        if remote is not None and remote.fingerprint() == spec.fingerprint():
            report.unchanged.append(spec.external_id)
            continue
        category[spec.external_id] = "created" if remote is None else "updated"
        to_write.append(spec)
    wanted = {s.external_id for s in specs}
    template = {"tran_date": tran_date, "currency": currency, "currency_id": gl_mapping.currency_id(currency),
                "subsidiary_id": gl_mapping.subsidiary, "window_id": window_id, "output_digest": output_digest,
                "transcript_url": transcript_url, "provider_batch_id": provider_batch_id}
    for ext, remote in sorted(existing.items(), key=lambda kv: kv[0] or ""):
        if ext not in wanted and (remote.eligible_to_pay or remote.payment_hold is False
                                  or remote.output_digest != output_digest):
            category[ext or ""] = "updated"
            to_write.append(_clearing_spec(remote, template))
    if dry_run:
        for spec in to_write:
            getattr(report, category[spec.external_id]).append(spec.external_id)
        return report

    def record(result: WriteResult) -> None:
        with lock:
            if result.ok:
                getattr(report, category[result.external_id]).append(result.external_id)
            else:
                report.failed.append(result)

    def write_chunk(chunk: list[BillSpec]) -> None:
        try:
            results = client.upsert_bills(chunk)
        except NetSuiteError as exc:
            results = [WriteResult(s.external_id, False, None, exc.code, str(exc)) for s in chunk]
        for spec, result in zip(chunk, results, strict=True):
            if result.ok:
                record(result)
                continue
            try:  # a record that failed inside the list is retried alone
                record(client.upsert_bill(spec))
            except NetSuiteError as exc:
                record(WriteResult(spec.external_id, False, None, exc.code, str(exc)))

    chunks = [to_write[i: i + batch_size] for i in range(0, len(to_write), batch_size)]
    if concurrency <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            write_chunk(chunk)
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="netsuite-sync") as pool:
            list(pool.map(write_chunk, chunks))
    for name in ("created", "updated", "unchanged"):
        getattr(report, name).sort()
    report.retries = getattr(client, "retries", 0) - retries_before
    return report


def compare_bill(spec: BillSpec, remote: RemoteBill | None) -> list[DriftItem]:
    """Drift of one bill: missing, amount, digest, eligibility, or another stamped field."""
    def item(kind: str, expected: object, actual: object) -> DriftItem:
        return DriftItem(spec.principal_id, spec.external_id, kind, str(expected), str(actual))

    if remote is None:
        return [item("MISSING_BILL", spec.total_minor, "absent")]
    out = []
    if sorted(ln.key() for ln in spec.lines) != sorted(ln.key() for ln in remote.lines):
        out.append(item("AMOUNT_DIFFERS", spec.total_minor, remote.total_minor))
    if remote.output_digest != spec.output_digest:
        out.append(item("DIGEST_DIFFERS", spec.output_digest, remote.output_digest))
    if remote.eligible_to_pay != spec.eligible_to_pay or remote.payment_hold != spec.payment_hold:
        out.append(item("ELIGIBILITY_DIFFERS", f"eligible={spec.eligible_to_pay} hold={spec.payment_hold}",
                        f"eligible={remote.eligible_to_pay} hold={remote.payment_hold}"))
    others = [("vendor", spec.vendor_id, remote.vendor_id), ("currency", spec.currency_id, remote.currency_id),
              ("window_id", spec.window_id, remote.window_id),
              ("transcript_url", spec.transcript_url, remote.transcript_url),
              ("provider_batch_id", spec.provider_batch_id or "", remote.provider_batch_id or ""),
              ("tran_date", spec.tran_date, remote.tran_date or "")]
    for name, want, got in others:
        if want != got:
            out.append(item("FIELD_DIFFERS", f"{name}={want}", f"{name}={got}"))
    return out


def verify_window(client: BillClient, *, tenant_id: str, window_id: str, currency: str, output_digest: str,
                  transcript_url: str, provider_batch_id: str | None, allocations: list[dict],
                  decisions: list[dict], vendor_map: dict[str, str], gl_mapping: GLMapping,
                  tran_date: str) -> DriftReport:
    """Read the window's bills back and list every drift from what the seal and the gate require."""
    scratch = SyncReport(window_id)
    specs = build_bill_specs(
        tenant_id=tenant_id, window_id=window_id, currency=currency, output_digest=output_digest,
        transcript_url=transcript_url, provider_batch_id=provider_batch_id, allocations=allocations,
        decisions=decisions, vendor_map=vendor_map, gl_mapping=gl_mapping, tran_date=tran_date, report=scratch)
    remote = {b.external_id: b for b in client.find_window_bills(window_id, currency)}
    report = DriftReport(window_id, checked=len(specs))
    for spec in specs:
        report.items.extend(compare_bill(spec, remote.get(spec.external_id)))
    for pid in scratch.missing_vendor:
        report.items.append(DriftItem(pid, "", "MISSING_VENDOR_MAPPING", "vendor id", "none"))
    wanted = {s.external_id for s in specs}
    for ext, bill in sorted(remote.items(), key=lambda kv: kv[0] or ""):
        if ext not in wanted and (bill.eligible_to_pay or bill.payment_hold is False):
            report.items.append(DriftItem("", ext or "", "UNEXPECTED_ELIGIBLE_BILL", "not eligible",
                                          f"eligible={bill.eligible_to_pay} hold={bill.payment_hold}"))
    return report

