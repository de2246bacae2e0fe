"""Payout batches from gate decisions: one batch per window and rail, paying ALLOW rows only."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from connectors.psp import ids
from connectors.psp.payees import Payee, as_payees
from vgos.errors import InputError
from vgos.money import MoneyError, exponent


@dataclass(frozen=True)
class BatchItem:
    """One payee line of a batch."""

    principal_id: str
    end_to_end_id: str
    amount_minor: int
    currency: str
    payee_name: str
    payee_ref: str
    payee_bic: str = ""
    payee_kind: str = ""


@dataclass(frozen=True)
class Excluded:
    """A decision row that is not paid, with its reason code (HOLD reason, DIGEST_MISMATCH, ...)."""

    principal_id: str
    reason_code: str


@dataclass(frozen=True)
class Batch:
    """A rendered payout batch bound to (tenant, window_id, output_digest, rail)."""

    rail: str
    tenant_id: str
    window_id: str
    output_digest: str
    provider_batch_id: str
    payment_info_id: str
    currency: str
    execution_date: str
    created_at: str
    items: tuple[BatchItem, ...]
    ctrl_sum_minor: int
    content: bytes = b""
    media_type: str = ""
    excluded: tuple[Excluded, ...] = field(default_factory=tuple)

    @property
    def sha256(self) -> str:
        """SHA-256 of the rendered bytes."""
        return hashlib.sha256(self.content).hexdigest()

    def record(self) -> dict[str, Any]:
        """Plain-dict summary (no bytes) for stores, metadata and JSON output."""
        d = asdict(self)
        d.pop("content")
        d["sha256"] = self.sha256
        d["n_items"] = len(self.items)
        return d


def select_payable(
    rail: str, *, tenant_id: str, window_id: str, output_digest: str, currency: str,
    decisions: list[dict], payees: Mapping[str, Payee], on_missing_payee: str = "error", attempt: int = 1,
) -> tuple[list[BatchItem], list[Excluded]]:
    """Pick ALLOW rows bound to this output_digest; HOLD and stale rows are excluded with a reason."""
    exponent(currency)
    items: list[BatchItem] = []
    excluded: list[Excluded] = []
    missing: list[str] = []
    seen: set[str] = set()
    for i, d in enumerate(sorted(decisions, key=lambda r: str(r.get("principal_id", "")))):
        pid = d.get("principal_id")
        if not isinstance(pid, str) or not pid:
            raise InputError(f"decisions[{i}]: field principal_id: missing")
        if pid in seen:
            raise InputError(f"decisions: field principal_id: duplicate {pid!r}")
        seen.add(pid)
        amount = d.get("payout_minor")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise InputError(f"decisions[{pid}]: field payout_minor: must be an integer, got {amount!r}")
        decision = d.get("decision")
        if decision not in ("ALLOW", "HOLD"):
            raise InputError(f"decisions[{pid}]: field decision: must be ALLOW or HOLD, got {decision!r}")
        if decision != "ALLOW":
            excluded.append(Excluded(pid, d.get("reason_code") or "HOLD"))
            continue
        if d.get("output_digest") != output_digest:
            excluded.append(Excluded(pid, "DIGEST_MISMATCH"))
            continue
        if amount <= 0:
            excluded.append(Excluded(pid, "NON_POSITIVE_PAYOUT"))
            continue
        payee = payees.get(pid)
        ref = payee.account_ref(rail) if payee else ""
        if not ref:
            missing.append(pid)
            excluded.append(Excluded(pid, "MISSING_PAYEE"))
            continue
        items.append(BatchItem(
            principal_id=pid,
            end_to_end_id=ids.end_to_end_id(tenant_id, window_id, output_digest, pid, attempt),
            amount_minor=amount, currency=currency, payee_name=payee.name or pid, payee_ref=ref,
            payee_bic=payee.bic if rail in ("pain001", "csv") else "",
            payee_kind=payee.paypal_recipient_type if rail == "paypal" else "",
        ))
    if missing and on_missing_payee == "error":
        raise InputError(f"payee directory: MISSING_PAYEE for rail {rail}: {', '.join(missing)}")
    return items, excluded


def build_batch(
    rail: str, *, tenant_id: str, window_id: str, output_digest: str, currency: str,
    decisions: list[dict], debtor: dict, execution_date: str,
    payees: Mapping[str, Payee] | Mapping[str, Mapping[str, str]],
    created_at: str | None = None, on_missing_payee: str = "error", attempt: int = 1,
) -> Batch:
    """Render the window's batch for a rail; the same inputs always give the same bytes."""
    if rail not in ids.RAILS:
        raise InputError(f"--rail: unknown rail {rail!r} (expected one of {', '.join(ids.RAILS)})")
    try:
        items, excluded = select_payable(
            rail, tenant_id=tenant_id, window_id=window_id, output_digest=output_digest, currency=currency,
            decisions=decisions, payees=as_payees(payees), on_missing_payee=on_missing_payee, attempt=attempt)
    except MoneyError as exc:
        raise InputError(f"currency: {exc}") from None
    if not items:
        raise InputError(f"window {window_id}: no ALLOW decision to pay for output_digest {output_digest}")
    batch = Batch(
        rail=rail, tenant_id=tenant_id, window_id=window_id, output_digest=output_digest,
        provider_batch_id=ids.provider_batch_id(tenant_id, window_id, output_digest, rail, attempt),
        payment_info_id=ids.payment_info_id(tenant_id, window_id, output_digest, rail, attempt),
        currency=currency, execution_date=execution_date,
        created_at=created_at or f"{execution_date}T00:00:00Z",
        items=tuple(items), ctrl_sum_minor=sum(i.amount_minor for i in items), excluded=tuple(excluded),
    )
    from connectors.psp import csv_rail, pain001, paypal, stripe

    render = {"pain001": pain001.render, "csv": csv_rail.render, "stripe": stripe.render,
              "paypal": paypal.render}[rail]
    content, media_type = render(batch, debtor)
    return replace(batch, content=content, media_type=media_type)
