"""Finance views of an authorized window: NetSuite vendor bills (stamped, read back) and the GL journal."""


import os
from typing import Any

import orjson
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    ConfigurableResource,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from vgos.fold import FoldResult
from vgos_assets.partitions import window_partitions
from vgos_assets.resources import VgosSettingsResource

GROUP = "finance"
CREDENTIAL_VARS = ("NETSUITE_ACCOUNT", "NETSUITE_CONSUMER_KEY", "NETSUITE_CONSUMER_SECRET", "NETSUITE_TOKEN_ID",
                   "NETSUITE_TOKEN_SECRET")
VENDOR_MAP_VAR = "VGOS_NETSUITE_VENDOR_MAP"


class NetSuiteResource(ConfigurableResource):
    """NetSuite settings: secrets and endpoint only from NETSUITE_* variables; files and transport may be set here."""

    vendor_map_path: str = ""
    gl_mapping_path: str = ""
    transport: str = ""

    def missing_settings(self) -> list[str]:
        """Names of the required variables that are not set (empty when NetSuite is usable)."""
        missing = [v for v in CREDENTIAL_VARS if not os.environ.get(v)]
        if not (self.vendor_map_path or os.environ.get(VENDOR_MAP_VAR)):
            missing.append(VENDOR_MAP_VAR)
        return missing

    def client_config(self) -> Any:
        """The connector's NetSuiteConfig from the environment; one clear Failure naming what is missing."""
        from connectors.netsuite.config import NetSuiteConfig
        from vgos.errors import InputError

        missing = self.missing_settings()
        if missing:
            raise Failure(f"NetSuite is not configured: set {', '.join(missing)} (NETSUITE_BASE_URL optionally "
                          "overrides https://<account>.suitetalk.api.netsuite.com, e.g. for the sandbox)")
        try:
            return NetSuiteConfig.from_env(**({"transport": self.transport} if self.transport else {}))
        except InputError as exc:
            raise Failure(f"NetSuite configuration: {exc}") from exc

    def vendor_map(self) -> dict[str, str]:
        """Principal → vendor internal id from `vendor_map_path` or VGOS_NETSUITE_VENDOR_MAP (never guessed)."""
        from connectors.netsuite.vendor_map import load_vendor_map

        return load_vendor_map(self.vendor_map_path or os.environ[VENDOR_MAP_VAR])

    def gl_mapping(self, tenant_id: str) -> Any:
        """The tenant's own GL mapping (`gl_mapping_path`, $VGOS_GL_MAPPING or gl_mappings/tenants/<tenant>.yaml)."""
        from gl_mappings import load_gl_mapping
        from vgos.errors import InputError

        try:
            return load_gl_mapping(tenant_id, self.gl_mapping_path or None)
        except InputError as exc:
            raise Failure(f"GL mapping: {exc}") from exc


def plain(obj: object) -> Any:
    """JSON-ready copy of dataclasses, tuples and dicts (what ArtifactIOManager stores)."""
    return orjson.loads(orjson.dumps(obj))


def bound_digest(allocations: FoldResult, authorization: dict) -> str:
    """The sealed digest, which the authorization must be bound to."""
    if authorization["output_digest"] != allocations.output_digest:
        raise Failure(f"authorization is bound to {authorization['output_digest']}, but the window is sealed as "
                      f"{allocations.output_digest}: re-run authorization first")
    return allocations.output_digest


@asset(partitions_def=window_partitions, group_name=GROUP,
       check_specs=[AssetCheckSpec("netsuite_drift", asset="netsuite_bills", partitions_def=window_partitions,
                                   description="the read-back of the window's bills shows no drift")])
def netsuite_bills(
    context: AssetExecutionContext, allocations: FoldResult, transcript: dict, authorization: dict,
    payout_batch: dict, netsuite: NetSuiteResource, settings: VgosSettingsResource,
):
    """Vendor bills stamped with window_id, output_digest, transcript_url, provider_batch_id and eligible_to_pay."""
    from connectors.netsuite import pipeline
    from connectors.netsuite.retry import NetSuiteError
    from connectors.netsuite.transcript_link import transcript_link
    from vgos.errors import InputError

    config = netsuite.client_config()
    digest = bound_digest(allocations, authorization)
    try:
        link = transcript_link(transcript["transcript_url"], config)
    except InputError as exc:
        raise Failure(f"NetSuite transcript link: {exc}") from exc
    window = pipeline.window_kwargs(
        tenant_id=settings.tenant_id, window_id=context.partition_key, currency=allocations.seal["window"]["currency"],
        output_digest=digest, transcript_url=link,
        provider_batch_id=payout_batch["provider_batch_id"],
        allocations=list(allocations.seal["allocations"]), decisions=authorization["decisions"],
        vendor_map=netsuite.vendor_map(), gl_mapping=netsuite.gl_mapping(settings.tenant_id))
    try:
        report, drift = pipeline.sync_and_verify(config, window)
    except NetSuiteError as exc:
        raise Failure(f"NetSuite sync failed: {exc}") from exc
    meta = pipeline.netsuite_bills_metadata(report, drift)
    meta.update({"output_digest": digest, "provider_batch_id": payout_batch["provider_batch_id"],
                 "endpoint": config.root_url, "transport": config.transport})
    yield Output({"window_id": context.partition_key, "output_digest": digest, "counts": report.counts(),
                  "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                  "failed": plain(report.failed), "missing_vendor": report.missing_vendor,
                  "skipped": report.skipped, "drift": plain(drift.items) if drift is not None else []},
                 metadata=meta)
    passed = drift is not None and drift.ok
    items = plain(drift.items[:50]) if drift is not None else []
    yield AssetCheckResult(check_name="netsuite_drift", passed=passed, severity=AssetCheckSeverity.ERROR,
                           metadata={**drift_figures(report, drift), "items": MetadataValue.json(items)})


def drift_figures(report: Any, drift: Any) -> dict[str, int | bool]:
    """What the read-back compared: bills written by the sync against bills read back, and drift per field kind."""
    written = len(report.created) + len(report.updated) + len(report.unchanged) + len(report.zeroed)
    figures: dict[str, int | bool] = {"bills_written": written, "bills_failed": len(report.failed),
                                      "read_back": drift is not None}
    figures.update(drift.counts() if drift is not None else {"checked": 0, "drift": 0, "manual_holds": 0})
    return figures


@asset(partitions_def=window_partitions, group_name=GROUP,
       check_specs=[AssetCheckSpec("gl_journal_balanced", asset="gl_journal", partitions_def=window_partitions,
                                   description="Σ debits == Σ credits in minor units")])
def gl_journal(
    context: AssetExecutionContext, allocations: FoldResult, authorization: dict, netsuite: NetSuiteResource,
    settings: VgosSettingsResource,
):
    """The window's accrual journal: expense debited, clearing/held credited, aggregated (docs/netsuite.md)."""
    from connectors.netsuite import pipeline
    from vgos.errors import InputError, VerificationError

    digest = bound_digest(allocations, authorization)
    # the same window the bills are built from, so the journal covers exactly the payees they cover
    window = pipeline.window_kwargs(
        tenant_id=settings.tenant_id, window_id=context.partition_key,
        currency=allocations.seal["window"]["currency"], output_digest=digest, transcript_url="",
        provider_batch_id=None, allocations=list(allocations.seal["allocations"]),
        decisions=authorization["decisions"], vendor_map=netsuite.vendor_map(),
        gl_mapping=netsuite.gl_mapping(settings.tenant_id))
    try:
        journal = pipeline.gl_journal(window)
    except (VerificationError, InputError) as exc:
        raise Failure(str(exc)) from exc
    meta = pipeline.gl_journal_metadata(journal)
    yield Output(plain(journal), metadata=meta)
    yield AssetCheckResult(check_name="gl_journal_balanced", passed=journal.balanced,
                           metadata={"debit_minor": journal.total_debit_minor,
                                     "credit_minor": journal.total_credit_minor,
                                     "difference_minor": journal.total_debit_minor - journal.total_credit_minor,
                                     "lines": len(journal.lines), "currency": journal.currency})
