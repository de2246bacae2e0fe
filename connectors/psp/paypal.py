"""PayPal Payouts: one POST /v1/payments/payouts per batch, sender_batch_id = provider_batch_id."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from connectors.psp.clients import SubmitResult
from vgos.errors import InputError
from vgos.money import minor_to_decimal

if TYPE_CHECKING:
    import requests

    from connectors.psp.batch import Batch

API_BASE = "https://api-m.paypal.com"


def payout_request(batch: Batch) -> dict[str, Any]:
    """The exact Create-Batch-Payout body (amounts as exact decimal strings, sender_item_id = EndToEndId)."""
    return {
        "sender_batch_header": {
            "sender_batch_id": batch.provider_batch_id,
            "email_subject": "You have a payout",
            "email_message": f"Payout for window {batch.window_id}",
        },
        "items": [
            {
                "recipient_type": it.payee_kind or "EMAIL",
                "amount": {"value": minor_to_decimal(it.amount_minor, it.currency), "currency": it.currency},
                "receiver": it.payee_ref,
                "sender_item_id": it.end_to_end_id,
                "note": f"VGOS window {batch.window_id} digest {batch.output_digest[:16]}",
            }
            for it in batch.items
        ],
    }


def render(batch: Batch, debtor: dict) -> tuple[bytes, str]:
    """The batch file for the paypal rail: the JSON request body plus the request id header."""
    body = {"path": "/v1/payments/payouts", "paypal_request_id": batch.provider_batch_id,
            "body": payout_request(batch)}
    return json.dumps(body, sort_keys=True, indent=2).encode("utf-8") + b"\n", "application/json"


class PayPalPayoutsClient:
    """Submits a batch payout; the OAuth access token comes only from PAYPAL_ACCESS_TOKEN."""

    def __init__(self, session: requests.Session | None = None, base_url: str | None = None) -> None:
        import requests

        self.session = session or requests.Session()
        self.base_url = (base_url or os.environ.get("PAYPAL_API_BASE") or API_BASE).rstrip("/")

    def submit(self, batch: Batch) -> SubmitResult:
        """POST the batch once; PayPal rejects a reused sender_batch_id, so a retry cannot pay twice."""
        token = os.environ.get("PAYPAL_ACCESS_TOKEN")
        if not token:
            raise InputError("PAYPAL_ACCESS_TOKEN: not set")
        resp = self.session.post(
            self.base_url + "/v1/payments/payouts", json=payout_request(batch),
            headers={"Authorization": f"Bearer {token}", "PayPal-Request-Id": batch.provider_batch_id},
            timeout=30)
        resp.raise_for_status()
        header = resp.json().get("batch_header", {})
        return SubmitResult(batch.provider_batch_id, {"payout_batch_id": header.get("payout_batch_id", "")},
                            header.get("batch_status", "SUBMITTED"))
