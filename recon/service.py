"""Window-level operations shared by the CLI, the Dagster assets and the demo (thin over pure functions)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.psp.batch import Batch, build_batch
from connectors.psp.payees import Payee, demo_payees
from connectors.psp.reports import detect_format, parse_bytes
from recon.match import DISCREPANCY_TYPES, ReconResult, reconcile
from vgos.errors import InputError
from vgos.storage import atomic_write_bytes

DEMO_DEBTOR = Path(__file__).resolve().parents[1] / "connectors" / "psp" / "samples" / "debtor_demo.json"


def _iso(t: dt.datetime) -> str:
    from vgos.acceptance import fmt_ts

    return fmt_ts(t)


@dataclass(frozen=True)
class WindowState:
    """What rails and recon need from the kernel: the seal's digest, currency, close and the decisions."""

    window_id: str
    tenant_id: str
    output_digest: str
    currency: str
    close_ts: str
    decisions: list[dict[str, Any]]


def load_window(window_id: str, *, tenant_id: str = "default", db_url: str | None = None) -> WindowState:
    """The window's current transcript seal and its latest gate decisions (lazy kernel imports)."""
    from vgos.gate import latest_decisions
    from vgos.transcript import current_transcript, read_seal

    ref = current_transcript(window_id, tenant_id, db_url)
    if ref is None:
        raise InputError(f"window {window_id} (tenant {tenant_id}): no published transcript")
    seal = read_seal(ref)
    decisions = latest_decisions(window_id, tenant_id, db_url)
    if decisions is None:
        raise InputError(f"window {window_id}: not authorized yet (run `vgos authorize {window_id}`)")
    w = seal["window"]
    return WindowState(window_id, tenant_id, ref.output_digest, w["currency"], w["close_ts"], decisions)


def read_debtor(path: str | Path | None) -> dict[str, Any]:
    """Debtor (payer) account JSON: {name, iban, bic, charge_bearer}; the demo one when no path is given."""
    p = Path(path) if path else DEMO_DEBTOR
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{p}: cannot read debtor JSON: {exc}") from None
    if not isinstance(d, dict):
        raise InputError(f"{p}: debtor must be a JSON object")
    return d


def next_day(date_text: str) -> str:
    """The calendar day after YYYY-MM-DD (default execution date: the day after the window closes)."""
    return (dt.date.fromisoformat(date_text[:10]) + dt.timedelta(days=1)).isoformat()


def create_window_batch(
    state: WindowState, rail: str, out: str | Path, *, payees: dict[str, Payee] | None = None,
    debtor: dict[str, Any] | None = None, execution_date: str | None = None, created_at: str | None = None,
    db_url: str | None = None,
) -> Batch:
    """Build the window's batch for a rail, write it atomically to `out`, record it in the store."""
    from recon.persist import save_batch

    batch = build_batch(
        rail, tenant_id=state.tenant_id, window_id=state.window_id, output_digest=state.output_digest,
        currency=state.currency, decisions=state.decisions, debtor=debtor or read_debtor(None),
        execution_date=execution_date or next_day(state.close_ts), payees=payees or demo_payees(),
        created_at=created_at or state.close_ts)
    atomic_write_bytes(Path(out), batch.content)
    save_batch(batch, location=str(Path(out).absolute()), db_url=db_url)
    from vgos.audit import note

    note("batch.create", f"window/{state.tenant_id}/{state.window_id}",
         {"rail": rail, "provider_batch_id": batch.provider_batch_id, "items": len(batch.items),
          "ctrl_sum_minor": batch.ctrl_sum_minor, "output_digest": state.output_digest},
         window_id=state.window_id, url=db_url)
    return batch


def ingest_report(data: bytes, name: str, fmt: str | None = None, *, tenant_id: str = "default",
                  db_url: str | None = None, now: dt.datetime | None = None) -> Any:
    """Parse and record one report (once per sha256); unknown formats are quarantined FORMAT_UNSUPPORTED."""
    from recon.persist import record_parse

    fmt = fmt or detect_format(data) or "unknown"
    result = parse_bytes(fmt, data, name)
    return record_parse(result, ingested_at=_iso(now or dt.datetime.now(dt.UTC)), tenant_id=tenant_id,
                        db_url=db_url)


def ingest_report_drops(root: str | None = None, keys: list[str] | None = None, *, tenant_id: str = "default",
                        db_url: str | None = None, now: dt.datetime | None = None) -> list[Any]:
    """Ingest drop-zone reports (all under reports/, or the given keys); already-seen files are skipped."""
    from recon.drops import PREFIX, format_hint
    from vgos import config
    from vgos.storage import open_store

    store = open_store(root or config.drop_zone_root())
    out = []
    for key in keys if keys is not None else store.list(PREFIX):
        data = store.get(key)
        out.append(ingest_report(data, store.url(key), format_hint(key, data), tenant_id=tenant_id,
                                 db_url=db_url, now=now))
    return out


def run_window_recon(state: WindowState, *, as_of: dt.datetime, db_url: str | None = None,
                     amount_tolerance_minor: int = 0) -> tuple[ReconResult, int, bool]:
    """Reconcile the window's stored batches and receipts and persist the result (idempotent)."""
    from recon.persist import load_batches, save_result, window_receipts
    from vgos.gate import allowed_decisions

    batches = load_batches(state.window_id, state.output_digest, tenant_id=state.tenant_id, db_url=db_url)
    receipts = window_receipts(state.window_id, batches, tenant_id=state.tenant_id, db_url=db_url)
    # a payment is judged against the authorization it was made under, not a later HOLD
    allowed = {d["principal_id"]: d for d in allowed_decisions(state.window_id, state.output_digest,
                                                                state.tenant_id, db_url)}
    decisions = sorted([*allowed.values(), *(d for d in state.decisions if d["principal_id"] not in allowed)],
                       key=lambda d: d["principal_id"])
    result = reconcile(state.window_id, state.output_digest, decisions, batches, receipts,
                       tenant_id=state.tenant_id, amount_tolerance_minor=amount_tolerance_minor)
    run_id, changed = save_result(result, as_of=_iso(as_of), db_url=db_url)
    from vgos.audit import note

    note("recon.run", f"window/{state.tenant_id}/{state.window_id}",
         {"matched": result.n_matched, "expected": result.n_expected, "fully_reconciled": result.fully_reconciled,
          "result_digest": result.result_digest, "changed": changed}, window_id=state.window_id, url=db_url)
    return result, run_id, changed


def recon_markdown(result: ReconResult) -> str:
    """Markdown table of discrepancies (type, severity, confidence, subject, expected, actual, detail)."""
    lines = ["| type | severity | confidence | subject | expected | actual | detail |", "|---|---|---|---|---|---|---|"]
    for d in result.discrepancies:
        lines.append(f"| {d.type} | {d.severity} | {d.confidence_pct}% | {d.subject or ''} | "
                     f"{'' if d.expected_minor is None else d.expected_minor} | "
                     f"{'' if d.actual_minor is None else d.actual_minor} | {d.detail.replace('|', '/')} |")
    if not result.discrepancies:
        lines.append("| (none) | | | | | | |")
    return "\n".join(lines)


def recon_metadata(result: ReconResult) -> dict[str, Any]:
    """Materialization metadata: matched share, discrepancies by type, markdown table, result digest."""
    ppm = result.matched_ppm
    return {
        "window_id": result.window_id, "output_digest": result.output_digest,
        "expected": result.n_expected, "matched": result.n_matched,
        "matched_share": f"{ppm // 10_000}.{ppm % 10_000:04d}%",
        "fully_reconciled": result.fully_reconciled,
        "discrepancies_by_type": {k: v for k, v in result.by_type().items() if k in DISCREPANCY_TYPES},
        "batches": dict(sorted(result.batches.items())),
        "result_digest": result.result_digest,
        "preview_markdown": recon_markdown(result),
    }


def run_demo_recon(
    window_id: str, output_digest: str, decisions: list[dict[str, Any]], *, currency: str, close_ts: str,
    out_dir: str | Path, drop_root: str | None = None, tenant_id: str = "default", db_url: str | None = None,
    as_of: dt.datetime, issuer_key: Any = None,
) -> dict[str, Any]:
    """Demo: pain.001 batch → camt.054 for it in `<drop zone>/reports/` → ingest → recon → SPV proofs."""
    from connectors.psp.camt054 import camt054_for_batch
    from recon.spv import sign_spv_proofs, spv_proofs
    from vgos import config
    from vgos.storage import open_store

    state = WindowState(window_id, tenant_id, output_digest, currency, close_ts, decisions)
    debtor = read_debtor(None)
    out = Path(out_dir)
    batch = create_window_batch(state, "pain001", out / f"{batch_file_name(window_id, 'pain001')}",
                                debtor=debtor, db_url=db_url)
    camt = camt054_for_batch(batch, debtor_iban=debtor["iban"], booked_on=batch.execution_date,
                             created_at=f"{batch.execution_date}T08:00:00Z")
    drop = open_store(drop_root or config.drop_zone_root())
    key = f"reports/camt054/{window_id}-{batch.provider_batch_id}.xml"
    drop.put(key, camt)
    ingested = ingest_report_drops(drop_root or config.drop_zone_root(), [key], tenant_id=tenant_id,
                                   db_url=db_url, now=as_of)
    result, run_id, _ = run_window_recon(state, as_of=as_of, db_url=db_url)
    bodies = spv_proofs(result, issued_at=as_of, tenant_id=tenant_id)
    proofs = sign_spv_proofs(bodies, issuer_key) if issuer_key is not None else bodies
    return {"batch": batch.record(), "batch_path": str(out / batch_file_name(window_id, "pain001")),
            "report_url": drop.url(key), "ingested": [i.to_dict() for i in ingested],
            "recon": recon_metadata(result), "recon_run_id": run_id, "spv_proofs": proofs}


def batch_file_name(window_id: str, rail: str) -> str:
    """Conventional batch file name per rail."""
    ext = {"pain001": "xml", "csv": "csv", "stripe": "json", "paypal": "json"}[rail]
    return f"payout-{window_id}-{rail}.{ext}"
