"""Stripe Connect transfers: one POST /v1/transfers per payee, idempotent, grouped by window."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from connectors.psp.clients import SubmitResult
from vgos.errors import InputError

if TYPE_CHECKING:
    import requests

    from connectors.psp.batch import Batch

API_BASE = "https://api.stripe.com"


def transfer_requests(batch: Batch) -> list[dict[str, Any]]:
    """The exact Create-Transfer requests: params, Idempotency-Key, transfer_group and metadata."""
    out = []
    for it in batch.items:
        out.append({
            "method": "POST",
            "path": "/v1/transfers",
            "idempotency_key": f"{batch.provider_batch_id}:{it.end_to_end_id}",
            "params": {
                "amount": it.amount_minor,
                "currency": it.currency.lower(),
                "destination": it.payee_ref,
                "transfer_group": batch.window_id,
                "description": f"VGOS payout {batch.window_id}",
                "metadata": {
                    "window_id": batch.window_id,
                    "output_digest": batch.output_digest,
                    "provider_batch_id": batch.provider_batch_id,
                    "end_to_end_id": it.end_to_end_id,
                    "principal_id": it.principal_id,
                },
            },
        })
    return out


def form_fields(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Stripe's form encoding of nested params (`metadata[window_id]=...`)."""
    out: list[tuple[str, str]] = []
    for k, v in params.items():
        if isinstance(v, dict):
            out.extend((f"{k}[{sk}]", str(sv)) for sk, sv in v.items())
        else:
            out.append((k, str(v)))
    return out


def render(batch: Batch, debtor: dict) -> tuple[bytes, str]:
    """The batch file for the stripe rail: the JSON list of transfer requests."""
    body = {"provider_batch_id": batch.provider_batch_id, "window_id": batch.window_id,
            "output_digest": batch.output_digest, "requests": transfer_requests(batch)}
    return json.dumps(body, sort_keys=True, indent=2).encode("utf-8") + b"\n", "application/json"


class StripeTransfersClient:
    """Submits transfers over HTTPS with requests; the secret key comes only from STRIPE_API_KEY."""

    def __init__(self, session: requests.Session | None = None, base_url: str | None = None) -> None:
        import requests

        self.session = session or requests.Session()
        self.base_url = (base_url or os.environ.get("STRIPE_API_BASE") or API_BASE).rstrip("/")

    def submit(self, batch: Batch) -> SubmitResult:
        """POST each transfer with its Idempotency-Key; a retried batch never pays twice."""
        key = os.environ.get("STRIPE_API_KEY")
        if not key:
            raise InputError("STRIPE_API_KEY: not set")
        refs: dict[str, str] = {}
        for req in transfer_requests(batch):
            resp = self.session.post(
                self.base_url + req["path"], data=form_fields(req["params"]), auth=(key, ""),
                headers={"Idempotency-Key": req["idempotency_key"]}, timeout=30)
            resp.raise_for_status()
            refs[req["params"]["metadata"]["end_to_end_id"]] = resp.json()["id"]
        return SubmitResult(batch.provider_batch_id, refs)
