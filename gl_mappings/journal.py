"""Balanced per-window journal from sealed allocations (minor units), exported as CSV and NetSuite JournalEntry."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from vgos.errors import InputError, VerificationError
from vgos.money import minor_to_decimal
from vgos.storage import atomic_write_bytes

from .mapping import COMPONENT_FIELDS, GLMapping

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class JournalLine:
    """One posting: exactly one of debit/credit is positive."""

    line_no: int
    account: str
    debit_minor: int
    credit_minor: int
    principal_id: str
    component: str
    entity_id: str | None
    department: str | None
    class_: str | None
    memo: str | None


@dataclass(frozen=True)
class Journal:
    """The window's journal: expense components debited against payables credited per principal."""

    tenant_id: str
    window_id: str
    currency: str
    currency_id: str | None
    subsidiary: str | None
    tran_date: str
    output_digest: str
    external_id: str
    lines: tuple[JournalLine, ...]

    @property
    def total_debit_minor(self) -> int:
        return sum(line.debit_minor for line in self.lines)

    @property
    def total_credit_minor(self) -> int:
        return sum(line.credit_minor for line in self.lines)

    @property
    def balanced(self) -> bool:
        return self.total_debit_minor == self.total_credit_minor


def journal_external_id(tenant_id: str, window_id: str) -> str:
    """externalId of a window's JournalEntry ([A-Za-z0-9_-] only)."""
    return _SAFE.sub("_", f"vgos-je-{tenant_id}-{window_id}")[:80]


def _as_int(alloc: dict, key: str) -> int:
    value = alloc.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"allocation {alloc.get('principal_id')!r}: field {key} must be an integer, got {value!r}")
    return value


def build_journal(*, tenant_id: str, window_id: str, currency: str, output_digest: str,
                  allocations: list[dict], gl_mapping: GLMapping, tran_date: str,
                  vendor_map: dict[str, str] | None = None) -> Journal:
    """Per principal: debit each nonzero component's expense account, credit payables with the payout."""
    lines: list[JournalLine] = []

    def post(account_ref, amount: int, credit_side: bool, principal: str, component: str) -> None:
        if amount == 0:
            return
        # a negative debit is a credit and vice versa
        is_credit = credit_side if amount > 0 else not credit_side
        lines.append(JournalLine(
            line_no=len(lines) + 1, account=account_ref.account,
            debit_minor=0 if is_credit else abs(amount), credit_minor=abs(amount) if is_credit else 0,
            principal_id=principal, component=component,
            entity_id=(vendor_map or {}).get(principal), department=account_ref.department,
            class_=account_ref.class_, memo=f"{account_ref.memo or component} {principal}".strip(),
        ))

    for alloc in sorted(allocations, key=lambda a: str(a["principal_id"])):
        principal = str(alloc["principal_id"])
        for component, field_name in COMPONENT_FIELDS.items():
            post(gl_mapping.components[component], _as_int(alloc, field_name), False, principal, component)
        post(gl_mapping.payables, _as_int(alloc, "payout_minor"), True, principal, "payables")
    return Journal(
        tenant_id=tenant_id, window_id=window_id, currency=currency,
        currency_id=gl_mapping.currencies.get(currency), subsidiary=gl_mapping.subsidiary,
        tran_date=tran_date, output_digest=output_digest,
        external_id=journal_external_id(tenant_id, window_id), lines=tuple(lines),
    )


def check_balanced(journal: Journal) -> None:
    """Raise JOURNAL_UNBALANCED unless Σ debits == Σ credits in minor units."""
    if not journal.balanced:
        raise VerificationError(
            "JOURNAL_UNBALANCED",
            f"window {journal.window_id}: debits {journal.total_debit_minor} != credits "
            f"{journal.total_credit_minor} ({journal.currency} minor units)",
        )


CSV_COLUMNS = ["window_id", "tenant_id", "tran_date", "currency", "line", "account", "debit", "credit",
               "debit_minor", "credit_minor", "principal_id", "component", "entity", "department", "class",
               "subsidiary", "memo", "output_digest"]


def journal_csv_bytes(journal: Journal) -> bytes:
    """CSV for ERPs other than NetSuite: one row per line, exact decimal amounts and minor units."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in journal.lines:
        writer.writerow([
            journal.window_id, journal.tenant_id, journal.tran_date, journal.currency, line.line_no,
            line.account,
            minor_to_decimal(line.debit_minor, journal.currency) if line.debit_minor else "",
            minor_to_decimal(line.credit_minor, journal.currency) if line.credit_minor else "",
            line.debit_minor, line.credit_minor, line.principal_id, line.component, line.entity_id or "",
            line.department or "", line.class_ or "", journal.subsidiary or "", line.memo or "",
            journal.output_digest,
        ])
    return buf.getvalue().encode("utf-8")


def write_journal_csv(journal: Journal, path: str | Path) -> Path:
    """Write the CSV atomically after checking the balance."""
    check_balanced(journal)
    path = Path(path)
    atomic_write_bytes(path, journal_csv_bytes(journal))
    return path
