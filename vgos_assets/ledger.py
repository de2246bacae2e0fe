"""The window in the append-only ledger: authorization, payout batch and settlement postings, and their balance."""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from vgos_assets.partitions import window_partitions
from vgos_assets.resources import VgosSettingsResource

GROUP = "ledger"


@asset(partitions_def=window_partitions, group_name=GROUP,
       check_specs=[AssetCheckSpec("ledger_balanced", asset="ledger_postings", partitions_def=window_partitions,
                                   description="debits equal credits; expense = Σ sealed payouts; payables, "
                                               "receivables and clearing match the payout registry")])
def ledger_postings(
    context: AssetExecutionContext, payout_batch: dict, recon_results: dict, settings: VgosSettingsResource,
):
    """The window's postings as the payout registry made them (each transition posts its entry), checked."""
    from vgos import ledger, payouts
    from vgos.errors import InputError

    window_id, url = context.partition_key, settings.db_url()
    try:
        check = payouts.ledger_check(window_id, settings.tenant_id, url)
    except InputError as exc:
        raise Failure(str(exc)) from exc
    its = payouts.items(window_id, settings.tenant_id, url)
    summary = payouts.summary(its)
    text = ledger.format_trial_balance(check["trial_balance"], f"trial balance, window {window_id}")
    yield Output({"window_id": window_id, "output_digest": check["output_digest"], "check": check,
                  "items_by_state": summary, "provider_batch_id": payout_batch.get("provider_batch_id"),
                  "recon_run_id": recon_results.get("recon_run_id")},
                 metadata={"balanced": check["balanced"], "expense_minor": check["expense_minor"],
                           "sealed_payout_minor": check["sealed_payout_minor"],
                           "items_by_state": MetadataValue.json(summary),
                           "settled_minor": summary.get("SETTLED", {}).get("amount_minor", 0),
                           "trial_balance": MetadataValue.md(f"```\n{text}\n```")})
    yield AssetCheckResult(check_name="ledger_balanced", passed=bool(check["passed"]),
                           severity=AssetCheckSeverity.ERROR,
                           metadata={**ledger_figures(check),
                                     "mismatches": MetadataValue.json(check["mismatches"][:50])})


def ledger_figures(check: dict) -> dict[str, int | bool]:
    """What the check compared: Σ debits against Σ credits, expense against Σ sealed payouts, and the mismatches."""
    debit = sum(r["debit_minor"] for r in check["trial_balance"])
    credit = sum(r["credit_minor"] for r in check["trial_balance"])
    return {"balanced": check["balanced"], "debit_minor": debit, "credit_minor": credit,
            "difference_minor": debit - credit, "expense_minor": check["expense_minor"],
            "sealed_payout_minor": check["sealed_payout_minor"], "accounts": len(check["trial_balance"]),
            "registry_mismatches": len(check["mismatches"])}
