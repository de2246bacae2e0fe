"""Entry points the CLI, the demo and the Dagster assets call: sync + read-back, journal, metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gl_mappings import load_gl_mapping
from gl_mappings.journal import Journal
from gl_mappings.mapping import DEMO_FILE
from vgos.progress import Progress, silent

from .config import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, NetSuiteConfig
from .model import DriftReport, SyncReport
from .rest_client import make_client
from .retry import RetryPolicy
from .stamping import sync_window, verify_window
from .vendor_map import load_vendor_map

DEMO_VENDOR_MAP = Path(__file__).resolve().parent / "demo_vendors.yaml"


def window_kwargs(*, tenant_id: str, window_id: str, currency: str, output_digest: str, transcript_url: str,
                  provider_batch_id: str | None, allocations: list[dict], decisions: list[dict],
                  vendor_map: dict[str, str], gl_mapping: Any, tran_date: str | None = None) -> dict[str, Any]:
    """The keyword set sync_window/verify_window take (tran_date defaults to the window's close date)."""
    return dict(tenant_id=tenant_id, window_id=window_id, currency=currency, output_digest=output_digest,
                transcript_url=transcript_url, provider_batch_id=provider_batch_id, allocations=allocations,
                decisions=decisions, vendor_map=vendor_map, gl_mapping=gl_mapping,
                tran_date=tran_date or window_id)


def sync_and_verify(config: NetSuiteConfig, window: dict[str, Any], *, dry_run: bool = False,
                    retry: RetryPolicy | None = None, post_journal: bool = True,
                    posting_day: str | None = None, progress: Progress = silent
                    ) -> tuple[SyncReport, DriftReport | None]:
    """Stamp the window's bills, post its accrual journal once they are all in, then read both back.

    The journal (docs/netsuite.md "GL model") is posted only after every bill was written, so the clearing
    and held-payout accounts net to zero as soon as it lands; its failures join report.failed (exit 1) and
    its drift joins the read-back. Dry runs write and read nothing.
    `progress` hears the stages: reading the window's bills, stamping bills (written of total, per upsertList
    batch), posting the journal, reading back bills.
    """
    client = make_client(config, retry=retry)
    concurrency = 1 if dry_run else effective_concurrency(config, client)[0]
    report = sync_window(client, **window, dry_run=dry_run, concurrency=concurrency,
                         batch_size=config.batch_size, progress=progress)
    journal_drift: list = []
    if not dry_run and post_journal and report.ok:
        from .journal import sync_journal

        progress("posting the journal", unit="entries")
        posted, journal_drift = sync_journal(client, window, posting_day=posting_day)
        report.journal = posted.counts()
        report.failed.extend(posted.failed)
    drift = None if dry_run else verify_window(client, **window, progress=progress)
    if drift is not None:
        drift.items.extend(journal_drift)
    if not dry_run:
        from vgos.audit import note

        note("netsuite.sync", f"window/{window['tenant_id']}/{window['window_id']}",
             {**report.counts(), "journal": report.journal, "output_digest": window["output_digest"],
              "drift": None if drift is None else len(drift.items)},  # bills that differ after the read-back
             window_id=window["window_id"])
    return report, drift


def effective_concurrency(config: NetSuiteConfig, client: Any) -> tuple[int, str]:
    """Parallel requests for a sync and where the number came from, so VGOS never exceeds the account's limit.

    NETSUITE_CONCURRENCY wins when set (the operator knows what other integrations share the account);
    otherwise the integration's limit as NetSuite reports it (SOAP getIntegrationGovernanceInfo); otherwise
    DEFAULT_CONCURRENCY, a conservative value below every service tier's limit.
    """
    if config.concurrency is not None:
        return config.concurrency, "config"
    reader = getattr(client, "governance_concurrency", None)
    limit = reader() if reader is not None else None
    if limit:
        return min(limit, MAX_CONCURRENCY), "governance"
    return DEFAULT_CONCURRENCY, "default"


def netsuite_bills_metadata(report: SyncReport, drift: DriftReport | None) -> dict[str, Any]:
    """Metadata for the netsuite_bills asset: created, updated, unchanged, failed, drift."""
    meta: dict[str, Any] = dict(report.counts())
    meta["drift"] = len(drift.items) if drift is not None else 0
    meta["missing_vendor_principals"] = ", ".join(report.missing_vendor)
    meta["failed_records"] = ", ".join(f"{f.external_id}:{f.code}" for f in report.failed)
    meta.update({f"journal_{k}": v for k, v in report.journal.items()})
    return meta


def gl_journal(window: dict[str, Any], *, gl_mapping_path: str | None = None) -> Journal:
    """The window's balanced accrual journal over exactly the payees its bills cover (the gl_journal asset)."""
    from .journal import window_journal

    mapping = window.get("gl_mapping") or load_gl_mapping(window["tenant_id"], gl_mapping_path)
    return window_journal({**window, "gl_mapping": mapping})


def gl_journal_metadata(journal: Journal) -> dict[str, Any]:
    """Metadata for the gl_journal asset."""
    return {"lines": len(journal.lines), "entries": len(journal.parts), "payees": len(journal.principals),
            "held_payees": len(journal.held), "debit_minor": journal.total_debit_minor,
            "credit_minor": journal.total_credit_minor, "balanced": journal.balanced,
            "currency": journal.currency, "output_digest": journal.output_digest}


def demo_sync(base_url: str, config: NetSuiteConfig | None = None, *, tenant_id: str, window_id: str,
              currency: str, output_digest: str, transcript_url: str, allocations: list[dict],
              decisions: list[dict], provider_batch_id: str | None = None,
              vendor_map: dict[str, str] | None = None) -> tuple[SyncReport, DriftReport | None]:
    """`vgos demo` hook: stamp the demo window into the sandbox at base_url (credentials from NETSUITE_*)."""
    from dataclasses import replace

    from .transcript_link import transcript_link

    config = replace(config or NetSuiteConfig.from_env(), base_url=base_url)
    window = window_kwargs(
        tenant_id=tenant_id, window_id=window_id, currency=currency, output_digest=output_digest,
        transcript_url=transcript_link(transcript_url, config), provider_batch_id=provider_batch_id,
        allocations=allocations,
        decisions=decisions, vendor_map=vendor_map or load_vendor_map(DEMO_VENDOR_MAP),
        gl_mapping=load_gl_mapping(tenant_id, DEMO_FILE))  # the demo's own explicit mapping
    return sync_and_verify(config, window)
