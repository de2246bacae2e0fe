"""Plain data exchanged between stamping, the clients and read-back (amounts in integer minor units)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def bill_external_id(tenant_id: str, window_id: str, principal_id: str) -> str:
    """Deterministic externalId from (tenant, window, principal): [A-Za-z0-9_-] only, at most 80 characters."""
    digest = hashlib.sha256("\x1f".join([tenant_id, window_id, principal_id]).encode()).hexdigest()[:16]
    readable = _SAFE.sub("_", f"{tenant_id}-{window_id}-{principal_id}")[:56]
    return f"vgos-{readable}-{digest}"


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

    @property
    def payment_hold(self) -> bool:
        return not self.eligible_to_pay

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    def fingerprint(self) -> tuple:
        """What must match in NetSuite for the bill to count as unchanged."""
        return (
            self.vendor_id, self.tran_date, self.currency_id, self.payment_hold,
            tuple(sorted(line.key() for line in self.lines)),
            self.window_id, self.output_digest, self.transcript_url, self.provider_batch_id or "",
            self.eligible_to_pay,
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

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    def fingerprint(self) -> tuple:
        return (
            self.vendor_id, self.tran_date or "", self.currency_id, self.payment_hold,
            tuple(sorted(line.key() for line in self.lines)),
            self.window_id, self.output_digest, self.transcript_url, self.provider_batch_id or "",
            self.eligible_to_pay,
        )


@dataclass(frozen=True)
class WriteResult:
    """Outcome of writing one record."""

    external_id: str
    ok: bool
    internal_id: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass
class SyncReport:
    """What a sync did: counts, failures with reason codes, principals not stamped and why."""

    window_id: str
    dry_run: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[WriteResult] = field(default_factory=list)
    missing_vendor: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    retries: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing_vendor

    def counts(self) -> dict[str, int]:
        """Counts for asset metadata and the CLI."""
        return {
            "created": len(self.created), "updated": len(self.updated), "unchanged": len(self.unchanged),
            "failed": len(self.failed), "missing_vendor": len(self.missing_vendor),
            "skipped": len(self.skipped), "retries": self.retries,
        }


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

    @property
    def ok(self) -> bool:
        return not self.items

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"checked": self.checked, "drift": len(self.items)}
        for item in self.items:
            out[item.kind] = out.get(item.kind, 0) + 1
        return out
