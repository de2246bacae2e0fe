"""Window-level operations shared by the CLI, the Dagster assets and the demo (thin over pure functions)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.psp.batch import Batch, build_batch
from connectors.psp.payees import Payee, demo_payees
from connectors.psp.reports import detect_format, parse_bytes
from recon.match import DISCREPANCY_TYPES, ReconResult
from vgos.errors import InputError
from vgos.progress import Progress, silent

if TYPE_CHECKING:
    import polars as pl

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


@dataclass(frozen=True)
class Release:
    """A batch the registry accepted: the batch, what was not paid and why, and the gate run it was released on."""

    batch: Batch
    excluded: list[tuple[str, str]]
    gate_run_id: int | None
    released_at: str
    out: Path | None


def _check_out(out: Path) -> None:
    if out.exists() or out.is_symlink():
        raise InputError(f"{out}: already exists; a batch file is never overwritten (choose another --out)")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: no such folder for --out")


def create_window_batch(
    window_id: str, rail: str, out: str | Path | None, *, tenant_id: str = "default",
    payees: dict[str, Payee] | None = None, debtor: dict[str, Any] | None = None, execution_date: str | None = None,
    db_url: str | None = None, actor: Any = None,
) -> Release:
    """Release the window's payable items on a rail, at most once.

    The clock is read here, at the boundary, and recorded: the gate is evaluated at that time (purpose
    `release`), the registry claims each ALLOW item that nobody is paying under the window lock, and the file is
    written to a temporary name, fsynced, and linked to `out` only after the commit (never over a file)."""
    import os

    from connectors.psp.ids import RAILS
    from vgos import payouts
    from vgos.gate import authorize
    from vgos.storage import fsync_dir, synced_temp_file
    from vgos.transcript import current_seal

    if rail not in RAILS:
        raise InputError(f"--rail: unknown rail {rail!r} (expected one of {', '.join(RAILS)})")
    if execution_date is not None:
        from vgos.config import validate_window_id

        try:
            validate_window_id(execution_date)  # the same rule: a real calendar date YYYY-MM-DD
        except InputError:
            raise InputError(f"--execution-date {execution_date!r}: expected a calendar date YYYY-MM-DD") from None
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        _check_out(out_path)
    actor = actor or payouts.Actor.now()  # the real clock, read at this boundary
    now = dt.datetime.fromisoformat(actor.at.replace("Z", "+00:00"))
    gate = authorize(window_id, as_of=now, tenant_id=tenant_id, db_url=db_url, purpose="release")
    seal = current_seal(window_id, tenant_id, db_url)
    w = seal["window"]
    debtor = debtor or read_debtor(None)
    payees = payees or demo_payees()
    tmp: list[Path] = []
    extra: list[tuple[str, str]] = []

    def render(selected: list[Any], attempt: int) -> Batch:
        decisions = [{"principal_id": i.principal_id, "payout_minor": i.amount_minor, "decision": "ALLOW",
                      "output_digest": gate.output_digest} for i in selected]
        batch = build_batch(rail, tenant_id=tenant_id, window_id=window_id, output_digest=gate.output_digest,
                            currency=w["currency"], decisions=decisions, debtor=debtor,
                            execution_date=execution_date or next_day(w["close_ts"]), payees=payees,
                            created_at=actor.at, attempt=attempt)
        extra.extend((x.principal_id, x.reason_code) for x in batch.excluded)
        if out_path is not None:
            try:
                tmp.append(Path(synced_temp_file(out_path, batch.content, 0o644)))
            except OSError as exc:  # the registry transaction rolls back: nothing was released
                raise InputError(f"{out_path}: cannot write the batch file: {exc.strerror or exc}") from None
        return batch

    try:
        batch, sel = payouts.release(window_id, tenant_id, output_digest=gate.output_digest, rail=rail,
                                     decisions=gate.decisions, gate_ref=f"gate run {gate.run_id} at {gate.as_of}",
                                     render=render, actor=actor, db_url=db_url,
                                     location=str(out_path.absolute()) if out_path is not None else None)
        if out_path is not None:
            try:
                os.link(tmp[0], out_path)  # fails rather than replace a file that appeared meanwhile
            except FileExistsError:
                raise InputError(f"{out_path}: appeared while the batch was created; the batch "
                                 f"{batch.provider_batch_id} is recorded, its bytes are at {tmp.pop()}") from None
            fsync_dir(out_path.parent)
    finally:
        for t in tmp:
            t.unlink(missing_ok=True)
    from vgos.audit import note

    note("batch.create", f"window/{tenant_id}/{window_id}",
         {"rail": rail, "provider_batch_id": batch.provider_batch_id, "items": len(batch.items),
          "ctrl_sum_minor": batch.ctrl_sum_minor, "output_digest": gate.output_digest, "gate_run": gate.run_id,
          "released_at": actor.at}, window_id=window_id, url=db_url)
    return Release(batch, [*sel.excluded, *extra], gate.run_id, actor.at, out_path)


def ingest_report(data: bytes, name: str, fmt: str | None = None, *, tenant_id: str = "default",
                  db_url: str | None = None, now: dt.datetime | None = None) -> Any:
    """Parse and record one report (once per sha256); unknown formats are quarantined FORMAT_UNSUPPORTED."""
    from recon.persist import record_parse

    fmt = fmt or detect_format(data) or "unknown"
    result = parse_bytes(fmt, data, name)
    return record_parse(result, ingested_at=_iso(now or dt.datetime.now(dt.UTC)), tenant_id=tenant_id,
                        db_url=db_url)


def ingest_report_drops(root: str | None = None, keys: list[str] | None = None, *, tenant_id: str = "default",
                        db_url: str | None = None, now: dt.datetime | None = None,
                        progress: Progress = silent) -> list[Any]:
    """Ingest drop-zone reports (all under reports/, or the given keys); already-seen files are skipped.
    `progress` hears `ingesting report files` with the files done of the total, once per file."""
    from recon.drops import PREFIX, format_hint
    from vgos import config
    from vgos.storage import open_store

    store = open_store(root or config.drop_zone_root())
    out: list[Any] = []
    todo = list(keys if keys is not None else store.list(PREFIX))
    progress("ingesting report files", done=0, total=len(todo), unit="files")
    for key in todo:
        data = store.get(key)
        out.append(ingest_report(data, store.url(key), format_hint(key, data), tenant_id=tenant_id,
                                 db_url=db_url, now=now))
        progress("ingesting report files", done=len(out), total=len(todo), unit="files")
    return out


def run_window_recon(state: WindowState, *, as_of: dt.datetime, db_url: str | None = None,
                     amount_tolerance_minor: int = 0, actor: Any = None,
                     progress: Progress = silent) -> tuple[ReconResult, int, bool]:
    """Reconcile every batch of the window (all seals) against stored receipts, persist the result (idempotent),
    and move the payout items by the evidence: SETTLED on a booking, RETURNED on a return, FAILED on a reject.

    Batches, items and receipts are read as columns and the clean payments settled by a join (recon.fast); the
    rest are judged one by one by the exact rules, with the same result. `progress` hears the stages with counts:
    loading batches, selecting receipts, reconciling N payments, storing (result, payout items, fees)."""
    from recon.fast import reconcile_frames
    from recon.persist import load_batch_frame, resolved_cases, save_result, window_receipt_frame
    from vgos import payouts

    progress("loading batches", unit="batches")
    batches, items = load_batch_frame(state.window_id, None, tenant_id=state.tenant_id, db_url=db_url)
    progress("loading batches", done=len(batches), total=len(batches), unit="batches")
    refs = {b["provider_batch_id"] for b in batches} | {b["payment_info_id"] for b in batches}
    progress("selecting receipts", unit="receipts")
    receipts = window_receipt_frame(state.window_id, refs, items["end_to_end_id"], tenant_id=state.tenant_id,
                                    db_url=db_url)
    progress("selecting receipts", done=receipts.height, total=receipts.height, unit="receipts")
    # batch lines come from the registry, which paid each item once under a release-time ALLOW; lines it voided
    # (cancelled, rejected) are expected to stay unbooked
    voided = payouts.voided_lines(state.window_id, state.tenant_id, db_url)
    live_batches, live, dead = _split_voided(batches, items, voided)
    resolved = resolved_cases(state.window_id, tenant_id=state.tenant_id, db_url=db_url)
    result = reconcile_frames(state.window_id, state.output_digest, live_batches, live, receipts,
                              tenant_id=state.tenant_id, amount_tolerance_minor=amount_tolerance_minor,
                              resolved=resolved, progress=progress)
    _flag_paid_after_void(result, dead)
    digest = result.result_digest
    progress("storing", done=0, total=3, unit="steps")
    run_id, changed = save_result(result, as_of=_iso(as_of), db_url=db_url, result_digest=digest)
    progress("storing", done=1, total=3, unit="steps")
    actor = actor or payouts.Actor.now()  # the real clock, read at this boundary
    moved = payouts.apply_evidence(state.window_id, state.tenant_id, payout_evidence(result, items),
                                   actor=actor, db_url=db_url)
    progress("storing", done=2, total=3, unit="steps")
    fees = post_fees(result, batches, actor=actor, db_url=db_url)
    progress("storing", done=3, total=3, unit="steps")
    from vgos.audit import note

    note("recon.run", f"window/{state.tenant_id}/{state.window_id}",
         {"matched": result.n_matched, "expected": result.n_expected, "fully_reconciled": result.fully_reconciled,
          "pending": len(result.pending), "result_digest": digest, "changed": changed,
          "payout_items": moved, "fees_posted": fees}, window_id=state.window_id, url=db_url)
    return result, run_id, changed


BANK_PROVIDERS = frozenset({"bank"})


def post_fees(result: ReconResult, batches: list[dict[str, Any]], *, actor: Any, db_url: str | None = None) -> int:
    """Charges the provider booked become fee expense: against the bank account for a bank's charge, against the
    rail's clearing account for a fee a PSP took from its balance. Idempotent per fee id; returns entries posted."""
    from vgos import ledger

    rail = {b["provider_batch_id"]: (b["rail"], b["output_digest"]) for b in batches}
    n = 0
    for f in result.fees:
        r, digest = rail.get(f.batch_id or "", (None, result.output_digest))
        counter = ledger.BANK if f.provider in BANK_PROVIDERS or r is None else ledger.clearing(r)
        out = ledger.post_fee(result.window_id, digest, f.currency, f.amount_minor, f.fee_id, provider=f.provider,
                              effective_at=actor.at, counter_account=counter, actor_id=actor.actor_id,
                              actor_type=actor.actor_type, url=db_url)
        n += len(getattr(out, "posted", ()) or ())
    return n


def _split_voided(batches: list[dict[str, Any]], items: pl.DataFrame, voided: set[tuple[str, str]]
                  ) -> tuple[list[dict[str, Any]], pl.DataFrame, dict[str, dict[str, Any]]]:
    """Batches with only their live lines (totals recomputed), those lines, and the voided lines by EndToEndId."""
    import polars as pl

    gone = pl.DataFrame(sorted(voided), schema={"provider_batch_id": pl.String, "payout_item_id": pl.String},
                        orient="row")
    dead_rows = items.join(gone, on=["provider_batch_id", "payout_item_id"], how="semi")
    live = items.join(gone, on=["provider_batch_id", "payout_item_id"], how="anti", maintain_order="left")
    sums = {b: (n, t) for b, n, t in live.group_by("provider_batch_id").agg(
        pl.len(), pl.col("amount_minor").cast(pl.Decimal(38, 0)).sum()).iter_rows()}  # no int64 wrap
    out = []
    for b in batches:
        n, total = sums.get(b["provider_batch_id"], (0, 0))
        out.append(b | {"n_items": n, "ctrl_sum_minor": int(total)})
    return out, live, {r["end_to_end_id"]: r for r in dead_rows.iter_rows(named=True)}


def _flag_paid_after_void(result: ReconResult, dead: dict[str, dict[str, Any]]) -> None:
    """A booking on a cancelled or rejected line is money that moved twice: CRITICAL, never 'external only'."""
    from recon.match import SEVERITY, Discrepancy

    out = []
    for d in result.discrepancies:
        line = dead.get(d.subject or "")
        if d.type == "EXTERNAL_ONLY" and line is not None:
            d = Discrepancy("PAID_AFTER_VOID", SEVERITY["PAID_AFTER_VOID"], 100, d.subject, line["principal_id"],
                            d.receipt_id, 0, d.actual_minor,
                            f"booked although the line was cancelled or rejected in batch {line['provider_batch_id']};"
                            f" the payee may have been paid twice ({d.detail})", line["provider_batch_id"])
        out.append(d)
    result.discrepancies = sorted(out, key=lambda d: d.order_key)


def payout_evidence(result: ReconResult, items: pl.DataFrame) -> list[Any]:
    """What the reconciliation proves about each batch line: settled, returned, or rejected by the provider."""
    from recon.frames import as_match_frame
    from vgos.payouts import FAILED, RETURNED, SETTLED, Evidence

    batch_of = dict(zip(items["end_to_end_id"].to_list(), items["provider_batch_id"].to_list(), strict=True))
    mf = as_match_frame(result.matches)
    match_of = dict(zip(mf["end_to_end_id"].to_list(), zip(mf["receipt_id"].to_list(), mf["method"].to_list(),
                                                           strict=True), strict=True))
    why: dict[str, str] = {}
    for d in result.discrepancies:
        if d.type in ("RETURNED", "BATCH_REVERSED"):
            for e2e in ([d.subject] if d.type == "RETURNED" else
                        [e for e, b in batch_of.items() if b == d.batch_id]):
                why.setdefault(e2e or "", f"receipt {d.receipt_id}: {d.detail}"[:1000])
    out = []
    for e2e, outcome in sorted(result.outcomes.items()):
        if e2e not in batch_of or outcome == "PENDING":
            continue  # pending keeps the item SENT
        if outcome == "SETTLED":
            receipt_id, method = match_of[e2e]
            out.append(Evidence(e2e, batch_of[e2e], SETTLED, "SETTLEMENT_EVIDENCE", f"receipt {receipt_id} ({method})"))
        else:
            out.append(Evidence(e2e, batch_of[e2e], FAILED if outcome == "FAILED" else RETURNED,
                                "PROVIDER_REJECTED" if outcome == "FAILED" else "PROVIDER_RETURN",
                                why.get(e2e, f"{outcome.lower()} by the provider")))
    return out


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
        "pending": len(result.pending),
        "outcomes": {k: sum(1 for v in result.outcomes.values() if v == k)
                     for k in ("SETTLED", "PENDING", "RETURNED", "FAILED")},
        "open_discrepancies": len(result.open_discrepancies()),
        "fees": [{"fee_id": f.fee_id, "amount_minor": f.amount_minor, "currency": f.currency} for f in result.fees],
        "result_digest": result.result_digest,
        "preview_markdown": recon_markdown(result),
    }


def run_demo_recon(
    window_id: str, *, out_dir: str | Path, drop_root: str | None = None, tenant_id: str = "default",
    db_url: str | None = None, as_of: dt.datetime, issuer_key: Any = None,
) -> dict[str, Any]:
    """Demo: pain.001 batch → camt.054 for it in `<drop zone>/reports/` → ingest → recon → SPV proofs.

    A window that was already paid is not paid again: the existing batch is reconciled once more."""
    from connectors.psp.camt054 import camt054_for_batch
    from recon.persist import load_batches
    from recon.spv import sign_spv_proofs, spv_proofs
    from vgos import config
    from vgos.payouts import NothingToPay
    from vgos.storage import open_store

    debtor = read_debtor(None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drop = open_store(drop_root or config.drop_zone_root())
    try:
        path = out / batch_file_name(window_id, "pain001")
        n = 1
        while path.exists():
            n += 1
            path = out / batch_file_name(window_id, "pain001", n)
        rel = create_window_batch(window_id, "pain001", path, tenant_id=tenant_id, debtor=debtor, db_url=db_url)
        batch, refused = rel.batch.record(), None
        camt = camt054_for_batch(rel.batch, debtor_iban=debtor["iban"], booked_on=rel.batch.execution_date,
                                 created_at=f"{rel.batch.execution_date}T08:00:00Z")
        key = f"reports/camt054/{window_id}-{rel.batch.provider_batch_id}.xml"
        drop.put(key, camt)
        keys: list[str] | None = [key]
        excluded = rel.excluded
    except NothingToPay as exc:
        refused, keys, excluded, path = str(exc), [], [], None
        batch = max(load_batches(window_id, None, tenant_id=tenant_id, db_url=db_url),
                    key=lambda b: (b["created_at"], b["attempt"], b["provider_batch_id"]))
    ingested = ingest_report_drops(drop_root or config.drop_zone_root(), keys, tenant_id=tenant_id,
                                   db_url=db_url, now=as_of)
    state = load_window(window_id, tenant_id=tenant_id, db_url=db_url)
    result, run_id, _ = run_window_recon(state, as_of=as_of, db_url=db_url)
    bodies = spv_proofs(result, issued_at=as_of, tenant_id=tenant_id)
    proofs = sign_spv_proofs(bodies, issuer_key) if issuer_key is not None else bodies
    return {"batch": batch, "batch_path": str(path) if path else None, "refused": refused, "excluded": excluded,
            "report_url": drop.url(keys[0]) if keys else None, "ingested": [i.to_dict() for i in ingested],
            "recon": recon_metadata(result), "recon_run_id": run_id, "spv_proofs": proofs}


def batch_file_name(window_id: str, rail: str, n: int = 1) -> str:
    """Conventional batch file name per rail (`-2`, `-3` … for later batches of the window)."""
    ext = {"pain001": "xml", "csv": "csv", "stripe": "json", "paypal": "json"}[rail]
    return f"payout-{window_id}-{rail}{'' if n == 1 else f'-{n}'}.{ext}"


def submit_recon_spv(recon: dict[str, Any], *, as_of: dt.datetime, tenant_id: str = "default",
                     db_url: str | None = None) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """SPV proofs of a stored reconciliation (`ReconResult.to_dict()`), signed by the recon issuer key and submitted.

    Returns (proof bodies, submit results); results are None when no recon issuer key is configured. Only what
    `recon.spv.spv_proofs` reads is rebuilt (batches, discrepancies, resolved cases), so the proofs equal those of
    the live result: one reconciliation, one set of proofs, whichever process derives them."""
    from recon.match import Discrepancy
    from recon.spv import recon_issuer_key, sign_spv_proofs, spv_proofs
    from vgos.acceptance import submit_proof

    result = ReconResult(tenant_id=recon["tenant_id"], window_id=recon["window_id"],
                         output_digest=recon["output_digest"], n_expected=recon["n_expected"],
                         discrepancies=[Discrepancy(**d) for d in recon["discrepancies"]],
                         batches=dict(recon["batches"]), resolved=frozenset(recon["resolved"]))
    bodies = spv_proofs(result, issued_at=as_of, tenant_id=tenant_id)
    key = recon_issuer_key()
    if key is None:
        return bodies, None
    signed = sign_spv_proofs(bodies, key)
    return signed, [submit_proof(p, as_of=as_of, source="recon", db_url=db_url) for p in signed]
