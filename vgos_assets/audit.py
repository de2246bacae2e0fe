"""The window's evidence pack as an asset: the auditor's one page, rebuilt after everything it shows has run."""

from dagster import AssetExecutionContext, Failure, MetadataValue, Output, asset

from vgos_assets.evidence import evidence_arrived
from vgos_assets.partitions import window_partitions
from vgos_assets.resources import ArtifactStoreResource, VgosSettingsResource

GROUP = "audit"
UPSTREAM = ["authorization", "payout_batch", "netsuite_bills", "gl_journal", "recon_results", "ledger_postings",
            "settlement_gate"]


def pack_key(tenant_id: str, window_id: str, output_digest: str) -> str:
    """Where the page goes in the artifact store (per seal: a re-seal never overwrites the old seal's page)."""
    return f"evidence/{tenant_id}/{window_id}/evidence-{window_id}-{output_digest[:12]}.html"


@asset(partitions_def=window_partitions, group_name=GROUP, deps=UPSTREAM, automation_condition=evidence_arrived())
def evidence_pack(
    context: AssetExecutionContext, artifacts: ArtifactStoreResource, settings: VgosSettingsResource,
) -> Output[dict]:
    """`vgos report` for the partition (same gather and render), written to the artifact store; links the runs."""
    from evidence_pack.dagster_links import dagster_section
    from evidence_pack.gather import gather
    from evidence_pack.render import render_html
    from vgos.errors import InputError

    window_id, tenant = context.partition_key, settings.tenant_id
    try:
        ev = gather(window_id, tenant, verify=True, dagster=False)
    except InputError as exc:
        raise Failure(str(exc)) from exc
    ev["dagster"] = dagster_section(context.instance, window_id)
    html = render_html(ev).encode("utf-8")
    st = ev["settlement"]
    ver = st["verification"]
    store = artifacts.store()
    key = pack_key(tenant, window_id, st["output_digest"])
    url = store.put(key, html, write_once=False)
    recon = ev["money"]["recon"].get("value")
    location = MetadataValue.url(url) if "://" in url else MetadataValue.path(url)
    return Output({"window_id": window_id, "tenant_id": tenant, "output_digest": st["output_digest"],
                   "url": url, "artifact_key": key, "bytes": len(html), "generated_at": ev["generated_at"],
                   "transcript_verified": bool(ver and ver["ok"])},
                  metadata={"location": location, "artifact_key": key, "bytes": len(html),
                            "output_digest": st["output_digest"], "transcript_verified": bool(ver and ver["ok"]),
                            "fully_reconciled": bool(recon and recon["fully_reconciled"]),
                            "netsuite_stamped": bool(ev["money"]["netsuite"]),
                            "dagster_assets_linked": len((ev["dagster"] or {}).get("assets", [])),
                            "open_in_browser": MetadataValue.md(f"[evidence pack]({_file_link(url)})"),
                            "pdf": f"vgos report {window_id} --out evidence.html --pdf evidence.pdf"})


def _file_link(url: str) -> str:
    """A clickable link: a local path as a file:// URI, anything else as it is."""
    from pathlib import Path

    return Path(url).as_uri() if url.startswith("/") else url
