"""Money out and evidence back: the payout batch, provider receipts, reconciliation, the report sensor and schedule."""


import datetime as dt
import re
import tempfile
from pathlib import Path
from typing import Any

import orjson
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Failure,
    MetadataValue,
    Output,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    asset,
    schedule,
    sensor,
)

from vgos_assets.acceptance import EvaluationConfig, evaluation_time
from vgos_assets.jobs import recon_job
from vgos_assets.partitions import window_partitions
from vgos_assets.resources import ArtifactStoreResource, DropZoneResource, VgosSettingsResource

GROUP = "payouts"
RAIL = "pain001"
SEEN_MAX = 5000  # report hashes remembered in the sensor cursor (duplicates beyond that are ALREADY_SEEN on ingest)
_VGOS_REF = re.compile(r"^VG[BP]?([A-Za-z0-9]{1,12})-")


def _window_state(context: AssetExecutionContext, settings: VgosSettingsResource, digest: str | None) -> Any:
    """recon.service.load_window for the partition, bound to the digest the upstream asset saw."""
    from recon.service import load_window
    from vgos.errors import InputError

    try:
        state = load_window(context.partition_key, tenant_id=settings.tenant_id, db_url=settings.db_url())
    except InputError as exc:
        raise Failure(str(exc)) from exc
    if digest is not None and state.output_digest != digest:
        raise Failure(f"window {context.partition_key} is now sealed as {state.output_digest}, not {digest}: "
                      "re-run the window's authorization first")
    return state


def _release_actor(context: AssetExecutionContext) -> Any:
    """The Dagster run as the actor, at the real clock read here (config times never release money)."""
    from vgos.acceptance import fmt_ts
    from vgos.payouts import Actor

    return Actor(f"dagster:{context.run.run_id}", "service", fmt_ts(dt.datetime.now(dt.UTC).replace(microsecond=0)))


def _items_markdown(items: list[Any]) -> str:
    rows = ["| principal_id | kind | amount_minor | state | reason | batch |", "|---|---|---:|---|---|---|"]
    rows += [f"| {i.principal_id} | {i.kind} | {i.amount_minor} | {i.state} | {i.reason} | "
             f"{i.provider_batch_id or ''} |" for i in items[:200]]
    return "\n".join(rows)


@asset(partitions_def=window_partitions, group_name=GROUP, deps=["authorization"])
def payout_items(
    context: AssetExecutionContext, transcript: dict, settings: VgosSettingsResource,
) -> Output[dict]:
    """The payout registry of the window: one item per principal and seal (accruals, held payees included)."""
    from vgos import payouts
    from vgos.errors import InputError

    try:
        res = payouts.sync(context.partition_key, settings.tenant_id, actor=_release_actor(context),
                           db_url=settings.db_url())
    except InputError as exc:
        raise Failure(str(exc)) from exc
    items = [i for i in payouts.items(context.partition_key, settings.tenant_id, settings.db_url()) if i.live]
    summary = payouts.summary(items)
    return Output({"window_id": context.partition_key, "output_digest": res["output_digest"],
                   "items": [i.to_dict() for i in items], "summary": summary},
                  metadata={"output_digest": res["output_digest"], "items": len(items),
                            "created": res["created"], "superseded": res["superseded"],
                            "by_state": MetadataValue.json(summary),
                            "items_table": MetadataValue.md(_items_markdown(items))})


@asset(partitions_def=window_partitions, group_name=GROUP)
def payout_batch(
    context: AssetExecutionContext, payout_items: dict, artifacts: ArtifactStoreResource,
    settings: VgosSettingsResource,
) -> Output[dict]:
    """Release the window's payable items once (gate evaluated now); the pain.001 written once under `batches/`.

    A re-run with nothing left to pay creates no batch and reports the window's latest one."""
    from recon.persist import load_batches
    from recon.service import batch_file_name, create_window_batch
    from vgos.errors import InputError
    from vgos.money import minor_to_decimal
    from vgos.payouts import NothingToPay

    window_id, db_url = context.partition_key, settings.db_url()
    actor = _release_actor(context)
    store = artifacts.store()
    excluded: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="vgos-batch-") as tmp:
        out = Path(tmp) / batch_file_name(window_id, RAIL)
        try:
            rel = create_window_batch(window_id, RAIL, out, tenant_id=settings.tenant_id, db_url=db_url, actor=actor)
        except NothingToPay as exc:
            batches = load_batches(window_id, None, tenant_id=settings.tenant_id, db_url=db_url)
            if not batches:
                raise Failure(str(exc)) from exc
            context.log.info(f"no new batch: {exc}")
            latest = max(batches, key=lambda b: (b["created_at"], b["attempt"], b["provider_batch_id"]))
            record = latest | {"new_batch": False, "refused": str(exc)}
            key = f"batches/{window_id}/{record['provider_batch_id']}"
            return Output(record, metadata={
                "provider_batch_id": record["provider_batch_id"], "new_batch": False, "items": 0,
                "ctrl_sum_minor": 0, "rail": record["rail"], "output_digest": record["output_digest"],
                "released_at": actor.at, "refused": str(exc), "artifact_key": key})
        except InputError as exc:
            raise Failure(str(exc)) from exc
        batch = rel.batch
        excluded = rel.excluded
        key = f"batches/{window_id}/{batch.provider_batch_id}-{batch_file_name(window_id, RAIL)}"
        url = store.put(key, batch.content, write_once=True)
    record = orjson.loads(orjson.dumps(batch.record()))
    record.update({"url": url, "artifact_key": key, "new_batch": True, "released_at": rel.released_at,
                   "gate_run_id": rel.gate_run_id})
    md = "\n".join(["| principal_id | end_to_end_id | amount_minor |", "|---|---|---:|"]
                   + [f"| {i.principal_id} | {i.end_to_end_id} | {i.amount_minor} |" for i in batch.items[:200]])
    return Output(record, metadata={
        "provider_batch_id": batch.provider_batch_id, "new_batch": True, "items": len(batch.items),
        "ctrl_sum": f"{minor_to_decimal(batch.ctrl_sum_minor, batch.currency)} {batch.currency}",
        "ctrl_sum_minor": batch.ctrl_sum_minor, "excluded": len(excluded), "rail": batch.rail,
        "output_digest": batch.output_digest, "sha256": batch.sha256, "batch_url": url,
        "released_at": rel.released_at, "gate_run_id": rel.gate_run_id,
        "not_paid": MetadataValue.json([{"principal_id": p, "reason": r} for p, r in excluded]),
        "items_table": MetadataValue.md(md)})


@asset(partitions_def=window_partitions, group_name=GROUP)
def provider_receipts(
    context: AssetExecutionContext, config: EvaluationConfig, drop_zone: DropZoneResource,
    settings: VgosSettingsResource,
) -> Output[dict]:
    """Every report under `<drop zone>/reports/` parsed into receipts once per file hash (or quarantined)."""
    from recon.service import ingest_report_drops

    as_of = evaluation_time(context, config)
    outcomes = ingest_report_drops(drop_zone.resolved_root(), tenant_id=settings.tenant_id,
                                   db_url=settings.db_url(), now=as_of)
    files = [o.to_dict() for o in outcomes]
    by_status: dict[str, int] = {}
    for o in outcomes:
        by_status[o.status] = by_status.get(o.status, 0) + 1
    md = "\n".join(["| file | format | status | receipts | why |", "|---|---|---|---:|---|"]
                   + [f"| {o.name} | {o.format} | {o.status} | {o.n_receipts} | "
                      f"{o.quarantine.reason_code if o.quarantine else ', '.join(o.flags)} |" for o in outcomes[:200]])
    return Output({"window_id": context.partition_key, "as_of": as_of.isoformat(), "files": files},
                  metadata={"files": len(files), "processed": by_status.get("PROCESSED", 0),
                            "already_seen": by_status.get("ALREADY_SEEN", 0),
                            "quarantined": by_status.get("QUARANTINED", 0),
                            "flagged": by_status.get("FLAGGED", 0),  # imported, but confirm nothing yet
                            "receipts": sum(o.n_receipts for o in outcomes if o.status in ("PROCESSED", "FLAGGED")),
                            "drop_zone": drop_zone.store().url("reports"), "files_table": MetadataValue.md(md)})


@asset(partitions_def=window_partitions, group_name=GROUP, deps=["provider_receipts"],
       check_specs=[AssetCheckSpec("recon_completeness", asset="recon_results", partitions_def=window_partitions,
                                   description="every expected payment matched and no open discrepancy (WARN while "
                                               "provider evidence is pending, ERROR on an open discrepancy)")])
def recon_results(
    context: AssetExecutionContext, config: EvaluationConfig, payout_batch: dict, settings: VgosSettingsResource,
):
    """The window's batches matched against stored receipts; discrepancies by type; persisted idempotently."""
    from recon.service import recon_metadata, run_window_recon

    state = _window_state(context, settings, None)
    as_of = evaluation_time(context, config)
    result, run_id, changed = run_window_recon(state, as_of=as_of, db_url=settings.db_url(),
                                               actor=_release_actor(context))
    meta: dict[str, Any] = recon_metadata(result)
    meta["discrepancies_by_type"] = MetadataValue.json(meta["discrepancies_by_type"])
    meta["batches"] = MetadataValue.json(meta["batches"])
    meta["preview_markdown"] = MetadataValue.md(meta["preview_markdown"])
    meta.update({"recon_run_id": run_id, "changed": changed, "as_of": as_of.isoformat()})
    # the SPV proofs derived from this result are the downstream asset `settlement_evidence` (lineage)
    value = result.to_dict() | {"result_digest": result.result_digest, "recon_run_id": run_id,
                                "as_of": as_of.isoformat()}
    yield Output(value, metadata=meta)
    # not blocking: the ledger records what settled even while evidence is pending or a case is open
    open_cases = len(result.open_discrepancies())
    yield AssetCheckResult(
        check_name="recon_completeness", passed=bool(result.fully_reconciled),
        severity=AssetCheckSeverity.ERROR if open_cases else AssetCheckSeverity.WARN,
        metadata={"expected": result.n_expected, "matched": result.n_matched, "matched_ppm": result.matched_ppm,
                  "pending": len(result.pending), "open_discrepancies": open_cases,
                  "discrepancies": len(result.discrepancies), "receipts": result.n_receipts,
                  **{f"outcome_{k.lower()}": v for k, v in sorted(meta["outcomes"].items())}})


def report_windows(data: bytes, fmt: str | None, name: str, keys: set[str]) -> list[str]:
    """Window partitions a report concerns: window references, and VGOS batch/EndToEnd ids (`VG[B|P]<tag>-…`)."""
    from connectors.psp.ids import window_tag
    from connectors.psp.reports import parse_bytes

    if not fmt:
        return []
    try:
        parsed = parse_bytes(fmt, data, name)
    except Exception:  # noqa: BLE001 - an unreadable report is quarantined at ingestion, not here
        return []
    by_tag = {window_tag(k): k for k in keys}
    found: set[str] = set()
    for r in parsed.receipts:
        if r.window_ref in keys:
            found.add(r.window_ref)
        for ref in (r.batch_ref, r.end_to_end_id, r.provider_ref):
            m = _VGOS_REF.match(ref or "")
            if m and m.group(1) in by_tag:
                found.add(by_tag[m.group(1)])
    return sorted(found)


@sensor(job=recon_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="provider reports under <drop zone>/reports/ start reconciliation of the windows they concern")
def provider_report_sensor(context: SensorEvaluationContext, drop_zone: DropZoneResource):
    """One run per (report content, window); a re-dropped or renamed copy of a seen report starts nothing."""
    from recon.drops import scan_report_drops

    state = orjson.loads(context.cursor) if context.cursor else {}
    store = drop_zone.store()
    scan = scan_report_drops(drop_zone.resolved_root(), state.get("scan"), store=store)
    seen: list[str] = list(state.get("seen", []))
    known = set(seen)
    keys = set(window_partitions.get_partition_keys())
    batched = context.instance.get_materialized_partitions(AssetKey("payout_batch")) if scan.drops else set()
    requests = []
    for d in scan.drops:
        if d.sha256 in known:
            context.log.info(f"{d.key}: same content as a report already seen ({d.sha256[:12]}…), no run")
            continue
        known.add(d.sha256)
        seen.append(d.sha256)
        windows = report_windows(store.get(d.key), d.format, d.url, keys)
        if not windows:
            context.log.warning(f"{d.key}: no window partition found in the report; the daily recon ingests it")
        unbatched = [w for w in windows if w not in batched]
        if unbatched:  # recon_results reads the window's payout_batch: without one the run could only fail
            context.log.info(f"{d.key}: no payout_batch materialization for {', '.join(unbatched)}, no run; "
                             "the disbursement run and the daily recon ingest the report")
        for w in (w for w in windows if w in batched):
            requests.append(RunRequest(run_key=f"{d.run_key}:{w}", partition_key=w,
                                       tags={"vgos/trigger": "provider_report", "vgos/report": d.key[-200:],
                                             "vgos/report_sha256": d.sha256}))
    context.update_cursor(orjson.dumps({"scan": scan.cursor, "seen": seen[-SEEN_MAX:]}).decode())
    return requests or SkipReason("no new provider reports")


RECON_LOOKBACK_DAYS = 7


def recon_windows(scheduled: dt.datetime, batched: set[str], lookback_days: int = RECON_LOOKBACK_DAYS) -> list[str]:
    """Windows closed in the `lookback_days` before the tick that have a payout batch, oldest first."""
    day = scheduled.astimezone(dt.UTC).date()
    recent = {(day - dt.timedelta(days=n)).isoformat() for n in range(1, lookback_days + 1)}
    return sorted(recent & batched)


@schedule(name="daily_recon_schedule", cron_schedule="0 6 * * *", job=recon_job, execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING,
          description="every day at 06:00 UTC: ingest reports and reconcile the last week's batched windows")
def daily_recon_schedule(context: ScheduleEvaluationContext):
    """One run per recently batched window; run keys name the tick so each day reconciles again."""
    batched = context.instance.get_materialized_partitions(AssetKey("payout_batch"))
    tick = context.scheduled_execution_time
    windows = recon_windows(tick, batched)
    if not windows:
        return SkipReason("no batched window in the last week")
    return [RunRequest(run_key=f"daily-recon:{tick.date().isoformat()}:{w}", partition_key=w,
                       tags={"vgos/trigger": "daily_recon"}) for w in windows]
