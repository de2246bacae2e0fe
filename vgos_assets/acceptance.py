"""Acceptance and authorization of a window: proofs in, matrix out, the gate's signed decisions."""


import datetime as dt
from typing import Any

from dagster import AssetExecutionContext, Config, MetadataValue, Output, asset

from vgos_assets.partitions import window_partitions
from vgos_assets.resources import DropZoneResource, VgosSettingsResource

GROUP = "acceptance"


class EvaluationConfig(Config):
    """The evaluation time (`as_of`, RFC 3339); empty means the run's creation time, recorded in metadata."""

    as_of: str = ""


def evaluation_time(context: AssetExecutionContext, config: EvaluationConfig) -> dt.datetime:
    """`as_of` from config, else the run's creation time (fixed for the run, unlike the wall clock)."""
    from vgos.acceptance import parse_ts

    if config.as_of:
        return parse_ts(config.as_of, "as_of")
    record = context.instance.get_run_record_by_id(context.run.run_id)
    return dt.datetime.fromtimestamp(int(record.create_timestamp.timestamp()), dt.UTC)


@asset(partitions_def=window_partitions, group_name=GROUP)
def acceptance_bundle(
    context: AssetExecutionContext, config: EvaluationConfig, transcript: dict, drop_zone: DropZoneResource,
    settings: VgosSettingsResource,
) -> Output[dict]:
    """Proofs from `<drop zone>/proofs/` ingested, then the ACK/CT/SPV matrix against the current digest."""
    from vgos.acceptance import ingest_proof_drops

    as_of = evaluation_time(context, config)
    db_url = settings.db_url()
    submitted = ingest_proof_drops(drop_zone.store(), db_url=db_url, as_of=as_of)
    refused = [s for s in submitted if not s.accepted]
    return matrix_output(context, transcript["output_digest"], as_of, settings,
                         {"proofs_ingested": len(submitted) - len(refused), "proofs_quarantined": len(refused)})


def matrix_output(context: AssetExecutionContext, digest: str, as_of: dt.datetime, settings: VgosSettingsResource,
                  extra: dict[str, Any] | None = None) -> Output[dict]:
    """The ACK/CT/SPV matrix of the partition against `digest` from the proof store, with its figures as metadata."""
    from vgos.acceptance import acceptance_matrix

    matrix = acceptance_matrix(context.partition_key, digest, as_of, settings.policy(),
                               tenant_id=settings.tenant_id, db_url=settings.db_url())
    value = matrix.to_dict()
    by_kind: dict[str, dict[str, int]] = {}
    for row in value["rows"]:
        statuses = by_kind.setdefault(row["kind"], {})
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return Output(value, metadata={
        "as_of": as_of.isoformat(), "output_digest": digest, "rows_by_kind": MetadataValue.json(by_kind),
        "spv_rows": len([r for r in value["rows"] if r["kind"] == "SPV"]),
        "acceptance_matrix": MetadataValue.md(matrix.to_markdown()), **(extra or {}),
    })


@asset(partitions_def=window_partitions, group_name=GROUP, deps=["acceptance_bundle"])
def authorization(
    context: AssetExecutionContext, config: EvaluationConfig, settings: VgosSettingsResource
) -> Output[dict]:
    """Per principal ALLOW or HOLD with a reason, bound to output_digest, signed and stored append-only."""
    from vgos.gate import authorize

    as_of = evaluation_time(context, config)
    res = authorize(context.partition_key, as_of=as_of, tenant_id=settings.tenant_id, db_url=settings.db_url(),
                    purpose="what-if" if config.as_of else "evaluate")
    return gate_output(res)


def gate_output(res: Any) -> Output[dict]:
    """A gate run (vgos.gate.authorize) as the asset value, with ALLOW/HOLD counts and the decisions table."""
    allow = [d for d in res.decisions if d["decision"] == "ALLOW"]
    md = "\n".join(["| principal_id | payout_minor | decision | reason_code |", "|---|---:|---|---|"]
                   + [f"| {d['principal_id']} | {d['payout_minor']} | {d['decision']} | {d['reason_code'] or ''} |"
                      for d in res.decisions[:200]])
    return Output(
        {"window_id": res.window_id, "tenant_id": res.tenant_id, "output_digest": res.output_digest,
         "as_of": res.as_of, "decisions_digest": res.decisions_digest, "decisions": res.decisions},
        metadata={"as_of": res.as_of, "output_digest": res.output_digest, "decisions_digest": res.decisions_digest,
                  "allow": len(allow), "hold": len(res.decisions) - len(allow),
                  "allow_minor": sum(d["payout_minor"] for d in allow),
                  "decisions": MetadataValue.md(md)},
    )
