"""Stamp one window's vendor bills from sealed allocations and gate decisions, and read them back for drift."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Protocol

from gl_mappings.mapping import COMPONENT_FIELDS, GLMapping
from vgos.errors import InputError, VerificationError
from vgos.progress import Progress, silent

from .dates import parse_day
from .model import (
    BILL,
    CREDIT,
    BillSpec,
    DriftItem,
    DriftReport,
    ExpenseLine,
    RemoteBill,
    SyncReport,
    WriteResult,
    bill_external_id,
    credit_external_id,
)
from .retry import NetSuiteError
from .transcript_link import link_identity


class BillClient(Protocol):
    """What stamping needs from a transport (SuiteTalkClient or RestClient)."""

    def upsert_bills(self, specs: Sequence[BillSpec]) -> list[WriteResult]: ...
    def upsert_bill(self, spec: BillSpec) -> WriteResult: ...
    def find_window_bills(self, window_id: str, currency: str, tenant_id: str | None = None) -> list[RemoteBill]: ...


def is_eligible(decision: dict | None, output_digest: str) -> bool:
    """Eligible only for an ALLOW decision bound to this exact output_digest."""
    return bool(decision) and decision.get("decision") == "ALLOW" and decision.get("output_digest") == output_digest


def build_bill_specs(*, tenant_id: str, window_id: str, currency: str, output_digest: str, transcript_url: str,
                     provider_batch_id: str | None, allocations: list[dict], decisions: list[dict],
                     vendor_map: dict[str, str], gl_mapping: GLMapping, tran_date: str,
                     report: SyncReport | None = None) -> list[BillSpec]:
    """One BillSpec per mapped principal (a vendor credit for a negative payout); missing vendors are reported."""
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
        decision = by_principal.get(pid)
        eligible = is_eligible(decision, output_digest)
        credit = payout < 0  # the payee owes: a vendor credit with the amounts negated, nothing to pay or hold
        # coded to the liability the accrual journal credits (clearing, or held), never to expense: the journal
        # alone books the expense (docs/netsuite.md "GL model")
        lines = tuple(
            ExpenseLine(comp, ref.account, -amt if credit else amt, ref.department, ref.class_, ref.memo)
            for comp, amt in amounts.items() if amt != 0 or comp == "net"
            for ref in (gl_mapping.bill_line(comp, eligible),)
        )
        specs.append(BillSpec(
            external_id=(credit_external_id if credit else bill_external_id)(tenant_id, window_id, pid),
            principal_id=pid, vendor_id=vendor,
            tran_date=tran_date, currency=currency, currency_id=currency_id, subsidiary_id=gl_mapping.subsidiary,
            lines=lines, window_id=window_id, output_digest=output_digest, transcript_url=transcript_url,
            provider_batch_id=provider_batch_id, eligible_to_pay=eligible,
            memo=f"VGOS {window_id} {pid}" + (" credit" if credit else ""), tenant_id=tenant_id,
            record_type=CREDIT if credit else BILL,
            **({} if credit else dict(zip(("payment_hold", "vgos_hold"), hold_plan(eligible, output_digest, None),
                                          strict=True))),
        ))
    return specs


def hold_plan(eligible: bool, output_digest: str, remote: RemoteBill | None) -> tuple[bool | None, bool | None]:
    """(paymentHold, VGOS hold field) to send for a bill, so VGOS never clears or takes over a person's hold.

    None leaves the field as NetSuite holds it. VGOS sends paymentHold=false only to release a hold that it reads
    as its own (custbody_vgos_hold true); it sets paymentHold=true only together with its ownership field.
    """
    if remote is None:  # a new bill: held by VGOS unless eligible; nothing to clear
        return (None, False) if eligible else (True, True)
    held, owned = remote.payment_hold is True, remote.vgos_hold is True
    if eligible:
        return (False, False) if held and owned else (None, False)
    if held:  # already held: VGOS's hold stays VGOS's; a person's stays theirs (VGOS does not take it over)
        return None, owned
    if owned and remote.output_digest == output_digest and remote.eligible_to_pay is False:
        return None, True  # a person released VGOS's hold on this same decision: their call until a re-seal
    return True, True


def in_sync(spec: BillSpec, remote: RemoteBill) -> bool:
    """NetSuite already holds what the spec would write (holds compared only where the spec sends them)."""
    return (spec.fingerprint() == remote.fingerprint()
            and (spec.payment_hold is None or remote.payment_hold is spec.payment_hold)
            and (spec.vgos_hold is None or (remote.vgos_hold is True) == spec.vgos_hold))


def is_zeroed(remote: RemoteBill) -> bool:
    """A dropped payee's record that is already harmless: 0.00 and not eligible to pay."""
    return remote.total_minor == 0 and not (remote.record_type == BILL and remote.eligible_to_pay)


def _zeroing_spec(remote: RemoteBill, template: dict[str, Any]) -> BillSpec:
    """A record of a payee the new seal no longer owes: same lines at 0.00, new digest, not eligible.

    The bill stays (its history is NetSuite's system notes) but owes nothing; its hold is left as it is.
    """
    return BillSpec(
        external_id=remote.external_id or "", principal_id="", vendor_id=remote.vendor_id or "",
        tran_date=remote.tran_date or template["tran_date"], currency=template["currency"],
        currency_id=remote.currency_id or template["currency_id"], subsidiary_id=template["subsidiary_id"],
        lines=tuple(replace(line, amount_minor=0) for line in remote.lines), window_id=template["window_id"],
        output_digest=template["output_digest"], transcript_url=template["transcript_url"],
        provider_batch_id=template["provider_batch_id"], eligible_to_pay=False,
        memo="VGOS: payee not in the sealed window; zeroed", tenant_id=template["tenant_id"],
        record_type=remote.record_type,
    )


def tenant_records(client: BillClient, tenant_id: str, window_id: str, currency: str) -> dict[str, RemoteBill]:
    """The tenant's bills and credits of the window by externalId; another tenant's are never included."""
    found = client.find_window_bills(window_id, currency, tenant_id)
    return {b.external_id or "": b for b in found if b.tenant_id == tenant_id}


def default_concurrency(client: BillClient) -> int:
    """Parallel batches when the caller gives none: the client's configured value, else the safe default."""
    from .config import DEFAULT_CONCURRENCY

    config = getattr(client, "config", None)
    return getattr(config, "concurrency", None) or DEFAULT_CONCURRENCY


def sync_window(client: BillClient, *, tenant_id: str, window_id: str, currency: str, output_digest: str,
                transcript_url: str, provider_batch_id: str | None, allocations: list[dict],
                decisions: list[dict], vendor_map: dict[str, str], gl_mapping: GLMapping, tran_date: str,
                dry_run: bool = False, concurrency: int | None = None, batch_size: int = 100,
                progress: Progress = silent) -> SyncReport:
    """Upsert the window's bills so NetSuite matches the seal and the gate; idempotent and crash-safe.

    Only the tenant's own records are read and written. Holds follow hold_plan (a person's hold is never
    cleared); bills and credits of payees the seal dropped are zeroed. The client retries whole requests
    (its RetryPolicy); only a record-level error inside a good response is retried alone, once.
    concurrency None: the client's configured value (pipeline.sync_and_verify passes the account's limit).
    `progress` hears `reading the window's bills`, then `stamping bills` with the records written of those to
    write, once per upsertList batch.
    """
    report = SyncReport(window_id, dry_run=dry_run)
    lock = threading.Lock()
    retries_before = getattr(client, "retries", 0)
    concurrency = concurrency or default_concurrency(client)

    specs = build_bill_specs(
        tenant_id=tenant_id, window_id=window_id, currency=currency, output_digest=output_digest,
        transcript_url=transcript_url, provider_batch_id=provider_batch_id, allocations=allocations,
        decisions=decisions, vendor_map=vendor_map, gl_mapping=gl_mapping, tran_date=tran_date, report=report)
    progress("reading the window's bills", unit="bills")
    existing = tenant_records(client, tenant_id, window_id, currency)
    category: dict[str, str] = {}
    to_write: list[BillSpec] = []
    for spec in specs:
        remote = existing.get(spec.external_id)
        if spec.record_type == BILL:
            hold, owned = hold_plan(spec.eligible_to_pay, output_digest, remote)
            spec = replace(spec, payment_hold=hold, vgos_hold=owned)
        if remote is not None and in_sync(spec, remote):
            report.unchanged.append(spec.external_id)
            continue
        category[spec.external_id] = "created" if remote is None else "updated"
        to_write.append(spec)
    wanted = {s.external_id for s in specs}
    template = {"tran_date": tran_date, "currency": currency, "currency_id": gl_mapping.currency_id(currency),
                "subsidiary_id": gl_mapping.subsidiary, "window_id": window_id, "output_digest": output_digest,
                "transcript_url": transcript_url, "provider_batch_id": provider_batch_id, "tenant_id": tenant_id}
    for ext, remote in sorted(existing.items()):
        if ext not in wanted and not is_zeroed(remote):
            category[ext] = "zeroed"
            to_write.append(_zeroing_spec(remote, template))
    if dry_run:
        for spec in to_write:
            getattr(report, category[spec.external_id]).append(spec.external_id)
        return report
    written = [0]
    progress("stamping bills", done=0, total=len(to_write), unit="bills")

    def record(result: WriteResult) -> None:
        with lock:
            if result.ok:
                getattr(report, category[result.external_id]).append(result.external_id)
            else:
                report.failed.append(result)

    def send_chunk(chunk: list[BillSpec]) -> None:
        try:
            results = client.upsert_bills(chunk)
        except NetSuiteError as exc:  # the request failed as a whole: sending its records one by one cannot help
            for spec in chunk:
                record(WriteResult(spec.external_id, False, None, exc.code, str(exc), request_failed=True))
            return
        for spec, result in zip(chunk, results, strict=True):
            if result.ok or result.request_failed:
                record(result)
                continue
            try:  # a record-level error inside a successful response: that record alone, once
                record(client.upsert_bill(spec))
            except NetSuiteError as exc:
                record(WriteResult(spec.external_id, False, None, exc.code, str(exc), request_failed=True))

    def write_chunk(chunk: list[BillSpec]) -> None:
        try:
            send_chunk(chunk)
        finally:
            with lock:  # one call per batch, under the lock: the counts only grow
                written[0] += len(chunk)
                progress("stamping bills", done=written[0], total=len(to_write), unit="bills")

    chunks = [to_write[i: i + batch_size] for i in range(0, len(to_write), batch_size)]
    if concurrency <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            write_chunk(chunk)
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="netsuite-sync") as pool:
            list(pool.map(write_chunk, chunks))
    for name in ("created", "updated", "unchanged", "zeroed"):
        getattr(report, name).sort()
    report.retries = getattr(client, "retries", 0) - retries_before
    return report


def compare_bill(spec: BillSpec, remote: RemoteBill | None) -> list[DriftItem]:
    """Drift of one bill or credit: missing, amount, digest, eligibility/hold, or another stamped field."""
    def item(kind: str, expected: object, actual: object) -> DriftItem:
        return DriftItem(spec.principal_id, spec.external_id, kind, str(expected), str(actual))

    if remote is None:
        return [item("MISSING_BILL", spec.total_minor, "absent")]
    out = []
    if sorted(ln.key() for ln in spec.lines) != sorted(ln.key() for ln in remote.lines):
        out.append(item("AMOUNT_DIFFERS", spec.total_minor, remote.total_minor))
    if remote.output_digest != spec.output_digest:
        out.append(item("DIGEST_DIFFERS", spec.output_digest, remote.output_digest))
    if spec.record_type == BILL and not hold_ok(spec.eligible_to_pay, remote):
        out.append(item("ELIGIBILITY_DIFFERS", f"eligible={spec.eligible_to_pay} hold={not spec.eligible_to_pay}",
                        f"eligible={remote.eligible_to_pay} hold={remote.payment_hold} "
                        f"vgos_hold={remote.vgos_hold}"))
    others = [("vendor", spec.vendor_id, remote.vendor_id), ("currency", spec.currency_id, remote.currency_id),
              ("window_id", spec.window_id, remote.window_id),
              ("transcript_url", spec.transcript_url, remote.transcript_url),
              ("provider_batch_id", spec.provider_batch_id or "", remote.provider_batch_id or ""),
              ("tran_date", spec.tran_date, remote.tran_date or ""), ("record_type", spec.record_type,
                                                                       remote.record_type)]
    for name, want, got in others:
        # a presigned link is compared without its query: a next day's signature of the same transcript is no drift
        same = link_identity(want) == link_identity(got) if name == "transcript_url" else want == got
        if not same:
            out.append(item("FIELD_DIFFERS", f"{name}={want}", f"{name}={got}"))
    return out


def hold_ok(eligible: bool, remote: RemoteBill) -> bool:
    """The bill's eligibility field and hold agree with the gate (a person's extra hold is allowed)."""
    if remote.eligible_to_pay != eligible:
        return False
    if not eligible:
        return remote.payment_hold is True  # held by anyone; released by a person shows here as drift
    return not remote.held_by_vgos  # VGOS's own hold must be released; a person's hold is theirs


def verify_window(client: BillClient, *, tenant_id: str, window_id: str, currency: str, output_digest: str,
                  transcript_url: str, provider_batch_id: str | None, allocations: list[dict],
                  decisions: list[dict], vendor_map: dict[str, str], gl_mapping: GLMapping,
                  tran_date: str, progress: Progress = silent) -> DriftReport:
    """Read the window's bills back and list every drift from what the seal and the gate require.
    `progress` hears `reading back bills`: 0 of the window's bills, then all of them once compared."""
    scratch = SyncReport(window_id)
    specs = build_bill_specs(
        tenant_id=tenant_id, window_id=window_id, currency=currency, output_digest=output_digest,
        transcript_url=transcript_url, provider_batch_id=provider_batch_id, allocations=allocations,
        decisions=decisions, vendor_map=vendor_map, gl_mapping=gl_mapping, tran_date=tran_date, report=scratch)
    progress("reading back bills", done=0, total=len(specs), unit="bills")
    remote = tenant_records(client, tenant_id, window_id, currency)
    report = DriftReport(window_id, checked=len(specs))
    for spec in specs:
        found = remote.get(spec.external_id)
        report.items.extend(compare_bill(spec, found))
        if found is not None and spec.record_type == BILL and found.payment_hold and not found.held_by_vgos:
            report.manual_holds.append(spec.external_id)
    for pid in scratch.missing_vendor:
        report.items.append(DriftItem(pid, "", "MISSING_VENDOR_MAPPING", "vendor id", "none"))
    wanted = {s.external_id for s in specs}
    for ext, bill in sorted(remote.items()):
        if ext in wanted:
            continue
        if bill.record_type == BILL and bill.eligible_to_pay:
            report.items.append(DriftItem("", ext, "UNEXPECTED_ELIGIBLE_BILL", "not eligible",
                                          f"eligible={bill.eligible_to_pay} hold={bill.payment_hold}"))
        if bill.total_minor != 0:  # a payee the seal no longer owes must owe (or be owed) nothing
            report.items.append(DriftItem("", ext, "DROPPED_PAYEE_NOT_ZEROED", "0", str(bill.total_minor)))
    progress("reading back bills", done=len(specs), total=len(specs), unit="bills")
    return report

