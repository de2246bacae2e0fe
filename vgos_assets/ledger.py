"""The window in the append-only ledger: authorization, payout batch and settlement postings, and their balance."""


from typing import Any

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

from vgos_assets.acceptance import EvaluationConfig, evaluation_time
from vgos_assets.partitions import window_partitions
from vgos_assets.resources import VgosSettingsResource

GROUP = "ledger"


def settlement_receipts(recon_results: dict, payout_batch: dict) -> list[dict[str, Any]]:
    """Matched receipts of this batch as settlement evidence: the receipt id and the matched item's amount."""
    items = {i["end_to_end_id"]: i for i in payout_batch["items"]}
    return [{"receipt_id": m["receipt_id"], "amount_minor": items[m["end_to_end_id"]]["amount_minor"],
             "currency": items[m["end_to_end_id"]]["currency"]}
            for m in recon_results["matches"] if m["end_to_end_id"] in items]


@asset(partitions_def=window_partitions, group_name=GROUP,
       check_specs=[AssetCheckSpec("ledger_balanced", asset="ledger_postings",
                                   description="debits equal credits per currency, and the authorized payouts "
                                               "equal Σ ALLOW payout_minor")])
def ledger_postings(
    context: AssetExecutionContext, config: EvaluationConfig, authorization: dict, payout_batch: dict,
    recon_results: dict, settings: VgosSettingsResource,
):
    """Post the window's authorization, its batch and its matched receipts (each idempotent), then check balance."""
    from vgos import ledger
    from vgos.errors import InputError

    window_id, digest = context.partition_key, authorization["output_digest"]
    if payout_batch["output_digest"] != digest or recon_results["output_digest"] != digest:
        raise Failure(f"window {window_id}: batch/recon bound to another digest than the authorization ({digest}); "
                      "re-run payout_batch and recon_results")
    as_of = evaluation_time(context, config).isoformat().replace("+00:00", "Z")
    url, ccy, provider = settings.db_url(), payout_batch["currency"], payout_batch["rail"]
    receipts = settlement_receipts(recon_results, payout_batch)
    common = {"actor_id": "dagster", "actor_type": "service", "url": url}
    try:
        auth = ledger.post_authorization(window_id, digest, ccy, authorization["decisions"],
                                         effective_at=authorization["as_of"], **common)
        batch = ledger.post_batch(window_id, digest, payout_batch["provider_batch_id"], payout_batch["items"],
                                  provider=provider, currency=ccy, effective_at=as_of, **common)
        settle = (ledger.post_settlement(window_id, digest, receipts, provider=provider, currency=ccy,
                                         effective_at=as_of, **common) if receipts else None)
    except InputError as exc:
        raise Failure(f"ledger posting refused: {exc}") from exc
    check = ledger.check_window(window_id, digest, ccy, authorization["decisions"], url=url)
    posted = {"authorization": [len(auth.posted), len(auth.existing)], "batch": [len(batch.posted),
              len(batch.existing)], "settlement": [len(settle.posted), len(settle.existing)] if settle else [0, 0]}
    last = settle or batch
    text = ledger.format_trial_balance(check["trial_balance"], f"trial balance, window {window_id}")
    yield Output({"window_id": window_id, "output_digest": digest, "posted_existing": posted,
                  "head_seq": last.head_seq, "head_hash": last.head_hash, "check": check},
                 metadata={"entries_posted": sum(p[0] for p in posted.values()),
                           "entries_existing": sum(p[1] for p in posted.values()),
                           "settlement_receipts": len(receipts), "head_seq": last.head_seq,
                           "head_hash": last.head_hash, "balanced": check["balanced"],
                           "authorized_minor": check["authorized_minor"],
                           "trial_balance": MetadataValue.md(f"```\n{text}\n```")})
    yield AssetCheckResult(check_name="ledger_balanced", passed=bool(check["passed"]),
                           severity=AssetCheckSeverity.ERROR,
                           metadata={"balanced": check["balanced"], "authorized_minor": check["authorized_minor"],
                                     "expected_authorized_minor": check["expected_authorized_minor"],
                                     "per_currency": MetadataValue.json(check["per_currency"])})
