"""The SPV loop as lineage: reconciliation → SPV proofs → the acceptance seen with them → the gate re-evaluated.

No cycle: `acceptance_bundle` and `authorization` stay upstream of the money; these assets are downstream of
`recon_results` and re-evaluate acceptance and the gate when the provider's evidence arrives (automation condition
`evidence_arrived`, evaluated by the daemon's `evidence_automation` sensor under `make ui`).
"""

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    MetadataValue,
    Output,
    asset,
)

from vgos_assets.acceptance import EvaluationConfig, evaluation_time, gate_output, matrix_output
from vgos_assets.partitions import window_partitions
from vgos_assets.resources import VgosSettingsResource

GROUP = "evidence"


def evidence_arrived() -> AutomationCondition:
    """Eager for every window, not only the latest: a bank's report often arrives days after the window closed."""
    return AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())


@asset(partitions_def=window_partitions, group_name=GROUP, automation_condition=evidence_arrived())
def settlement_evidence(
    context: AssetExecutionContext, config: EvaluationConfig, recon_results: dict, settings: VgosSettingsResource,
) -> Output[dict]:
    """SPV proofs derived from the window's reconciliation (one per batch), signed by the recon issuer, submitted."""
    from recon.service import submit_recon_spv

    as_of = evaluation_time(context, config)
    proofs, submitted = submit_recon_spv(recon_results, as_of=as_of, tenant_id=settings.tenant_id,
                                         db_url=settings.db_url())
    rows = [{"provider_batch_id": p["subject_id"], "status": p["status"], "reason": p.get("reason"),
             "accepted": None if submitted is None else r.accepted,
             "refusal": None if submitted is None else r.reason}
            for p, r in zip(proofs, submitted or [None] * len(proofs), strict=True)]
    if submitted is None:
        context.log.warning("no recon issuer key (VGOS_RECON_ISSUER_KEY): SPV proofs were derived, not submitted")
    md = "\n".join(["| provider_batch_id | SPV | reason | submitted |", "|---|---|---|---|"]
                   + [f"| {r['provider_batch_id']} | {r['status']} | {r['reason'] or ''} | "
                      f"{'no issuer key' if r['accepted'] is None else 'accepted' if r['accepted'] else r['refusal']} |"
                      for r in rows])
    return Output({"window_id": context.partition_key, "output_digest": recon_results["output_digest"],
                   "recon_result_digest": recon_results["result_digest"], "as_of": as_of.isoformat(),
                   "proofs": rows},
                  metadata={"output_digest": recon_results["output_digest"], "batches": len(rows),
                            "confirmed": sum(1 for r in rows if r["status"] == "CONFIRMED"),
                            "mismatch": sum(1 for r in rows if r["status"] != "CONFIRMED"),
                            "submitted": submitted is not None,
                            "accepted": sum(1 for r in rows if r["accepted"]),
                            "recon_result_digest": recon_results["result_digest"],
                            "spv_proofs": MetadataValue.md(md)})


@asset(partitions_def=window_partitions, group_name=GROUP, deps=["settlement_evidence"],
       automation_condition=evidence_arrived())
def settlement_acceptance(
    context: AssetExecutionContext, config: EvaluationConfig, transcript: dict, settings: VgosSettingsResource,
) -> Output[dict]:
    """The acceptance matrix again, now with the SPV evidence of the money that moved (read from the proof store)."""
    return matrix_output(context, transcript["output_digest"], evaluation_time(context, config), settings)


@asset(partitions_def=window_partitions, group_name=GROUP, deps=["settlement_acceptance"],
       automation_condition=evidence_arrived())
def settlement_gate(
    context: AssetExecutionContext, config: EvaluationConfig, settings: VgosSettingsResource,
) -> Output[dict]:
    """The gate re-evaluated on every proof on file after settlement (recorded; releases nothing by itself)."""
    from vgos.gate import authorize

    as_of = evaluation_time(context, config)
    return gate_output(authorize(context.partition_key, as_of=as_of, tenant_id=settings.tenant_id,
                                 db_url=settings.db_url(), purpose="what-if" if config.as_of else "evaluate"))


evidence_automation = AutomationConditionSensorDefinition(
    "evidence_automation", target=AssetSelection.groups(GROUP) | AssetSelection.assets("evidence_pack"),
    default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description="re-evaluates acceptance, the gate and the evidence pack when a window's evidence arrives")
