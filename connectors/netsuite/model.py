"""Plain data exchanged between stamping, the clients and read-back (amounts in integer minor units)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")

BILL, CREDIT = "vendorBill", "vendorCredit"
# Payment-control custom body fields (docs/netsuite.md "Payment control"); used when field_ids does not name them.
PAYMENT_CONTROL_FIELD_IDS: dict[str, str] = {
    "tenant_id": "custbody_vgos_tenant_id",  # the VGOS tenant a bill or credit belongs to: searches filter on it
    "vgos_hold": "custbody_vgos_hold",  # true only while the bill's paymentHold is one VGOS set
}


def field_id(field_ids: dict[str, str], key: str) -> str:
    """Script id of a VGOS custom field, so accounts configured before payment control still get a default."""
    return field_ids.get(key) or PAYMENT_CONTROL_FIELD_IDS[key]


def bill_external_id(tenant_id: str, window_id: str, principal_id: str) -> str:
    """Deterministic externalId from (tenant, window, principal): [A-Za-z0-9_-] only, at most 80 characters."""
    digest = hashlib.sha256("\x1f".join([tenant_id, window_id, principal_id]).encode()).hexdigest()[:16]
    readable = _SAFE.sub("_", f"{tenant_id}-{window_id}-{principal_id}")[:56]
    return f"vgos-{readable}-{digest}"


def credit_external_id(tenant_id: str, window_id: str, principal_id: str) -> str:
    """externalId of the vendor credit for a negative payout: the bill's id with a `vgos-cr-` prefix (<= 80 chars)."""
    bill = bill_external_id(tenant_id, window_id, principal_id)
    readable, digest = bill[5:-17], bill[-16:]
    return f"vgos-cr-{readable[:53]}-{digest}"


@dataclass(frozen=True)
class ExpenseLine:
    """One expense line of a bill: an allocation component on its GL account."""

    component: str
    account: str
    amount_minor: int
    department: str | None = None
    class_: str | None = None
    memo: str | None = None

    def key(self) -> tuple:
        return (self.account, self.amount_minor, self.department, self.class_)


@dataclass(frozen=True)
class BillSpec:
    """The vendor bill VGOS wants NetSuite to hold for one principal of one window."""

    external_id: str
    principal_id: str
    vendor_id: str
    tran_date: str
    currency: str
    currency_id: str
    subsidiary_id: str | None
    lines: tuple[ExpenseLine, ...]
    window_id: str
    output_digest: str
    transcript_url: str
    provider_batch_id: str | None
    eligible_to_pay: bool
    memo: str = ""
    tenant_id: str = ""
    # paymentHold to send; None leaves the record's hold as it is (VGOS never clears a hold it does not own)
    payment_hold: bool | None = None
    # custbody_vgos_hold to send (VGOS owns the hold); None leaves it as it is
    vgos_hold: bool | None = None
    record_type: str = BILL  # or CREDIT: a vendor credit for a negative payout

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    def fingerprint(self) -> tuple:
        """What must match in NetSuite for the record to count as unchanged (holds are compared separately)."""
        return (
            self.record_type, self.vendor_id, self.tran_date, self.currency_id,
            tuple(sorted(line.key() for line in self.lines)),
            self.window_id, self.output_digest, self.transcript_url, self.provider_batch_id or "",
            self.eligible_to_pay if self.record_type == BILL else None, self.tenant_id,
        )


@dataclass(frozen=True)
class RemoteBill:
    """A vendor bill as read back from NetSuite."""

    internal_id: str
    external_id: str | None
    vendor_id: str | None
    tran_date: str | None
    currency_id: str | None
    payment_hold: bool | None
    lines: tuple[ExpenseLine, ...]
    window_id: str | None
    output_digest: str | None
    transcript_url: str | None
    provider_batch_id: str | None
    eligible_to_pay: bool | None
    record_type: str = BILL
    vgos_hold: bool | None = None
    tenant_id: str | None = None

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    @property
    def held_by_vgos(self) -> bool:
        """On hold, and the hold is one VGOS set (so VGOS may release it)."""
        return self.payment_hold is True and self.vgos_hold is True

    def fingerprint(self) -> tuple:
        """Same shape as BillSpec.fingerprint, from what NetSuite holds."""
        return (
            self.record_type, self.vendor_id, self.tran_date or "", self.currency_id,
            tuple(sorted(line.key() for line in self.lines)),
            self.window_id, self.output_digest, self.transcript_url, self.provider_batch_id or "",
            self.eligible_to_pay if self.record_type == BILL else None, self.tenant_id or "",
        )


@dataclass(frozen=True)
class WriteResult:
    """Outcome of writing one record."""

    external_id: str
    ok: bool
    internal_id: str | None = None
    code: str | None = None
    message: str | None = None
    # True when the whole request failed (no per-record status): re-sending the record alone cannot help
    request_failed: bool = False


@dataclass
class SyncReport:
    """What a sync did: counts, failures with reason codes, principals not stamped and why."""

    window_id: str
    dry_run: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    zeroed: list[str] = field(default_factory=list)  # bills of payees a re-seal dropped, set to 0.00
    failed: list[WriteResult] = field(default_factory=list)
    missing_vendor: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    journal: dict[str, int] = field(default_factory=dict)  # journal posting counts (journal.py)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing_vendor

    def counts(self) -> dict[str, int]:
        """Counts for asset metadata and the CLI; once the journal was posted, its entries and lines too."""
        out = {
            "created": len(self.created), "updated": len(self.updated), "unchanged": len(self.unchanged),
            "zeroed": len(self.zeroed),
            "failed": len(self.failed), "missing_vendor": len(self.missing_vendor),
            "skipped": len(self.skipped), "retries": self.retries,
        }
        if self.journal:  # failed already counts journal failures (pipeline.sync_and_verify)
            out.update(journal_entries=self.journal.get("parts", 0), journal_lines=self.journal.get("lines", 0))
        return out


@dataclass(frozen=True)
class DriftItem:
    """One difference between what VGOS stamped and what NetSuite holds."""

    principal_id: str
    external_id: str
    kind: str
    expected: str
    actual: str


@dataclass
class DriftReport:
    """Read-back result for one window: bills checked and every drift found."""

    window_id: str
    checked: int = 0
    items: list[DriftItem] = field(default_factory=list)
    manual_holds: list[str] = field(default_factory=list)  # eligible bills a person holds: their call, not drift

    @property
    def ok(self) -> bool:
        return not self.items

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"checked": self.checked, "drift": len(self.items),
                               "manual_holds": len(self.manual_holds)}
        for item in self.items:
            out[item.kind] = out.get(item.kind, 0) + 1
        return out
