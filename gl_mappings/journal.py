"""The window's accrual journal (docs/netsuite.md "GL model"): aggregated, balanced, split under NetSuite's line cap.

DR each component's expense account, CR payout clearing for eligible payees and held payouts for held payees,
summed per account and segments (never per payee), so a window posts a handful of lines whatever its size.
Amounts are integer minor units of the window's single currency.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from vgos.errors import InputError, VerificationError
from vgos.money import minor_to_decimal
from vgos.storage import atomic_write_bytes

from .mapping import COMPONENT_FIELDS, AccountRef, GLMapping

MAX_LINES_PER_ENTRY = 1000  # NetSuite refuses a journal entry with more lines (EXCEEDED_MAX_TRANS_LINES)


@dataclass(frozen=True)
class JournalLine:
    """One aggregated posting: exactly one of debit/credit is positive; `payees` counts who is summed in it."""

    line_no: int
    account: str
    debit_minor: int
    credit_minor: int
    role: str  # "expense:<component>", "clearing" or "held"
    payees: int
    department: str | None
    class_: str | None
    memo: str | None

    def key(self) -> tuple[str, int, int, str | None, str | None]:
        """What must match in NetSuite for the line to count as posted."""
        return (self.account, self.debit_minor, self.credit_minor, self.department, self.class_)


@dataclass(frozen=True)
class JournalPart:
    """One journalEntry: a group of whole payees, so each part balances on its own."""

    number: int
    lines: tuple[JournalLine, ...]
    principals: tuple[str, ...]

    @property
    def total_debit_minor(self) -> int:
        return sum(line.debit_minor for line in self.lines)

    @property
    def total_credit_minor(self) -> int:
        return sum(line.credit_minor for line in self.lines)

    @property
    def balanced(self) -> bool:
        return self.total_debit_minor == self.total_credit_minor


@dataclass(frozen=True)
class Journal:
    """The window's journal: one or more balanced parts covering exactly the payees the bills cover."""

    tenant_id: str
    window_id: str
    currency: str
    currency_id: str | None
    subsidiary: str | None
    tran_date: str
    output_digest: str
    parts: tuple[JournalPart, ...]
    held: tuple[str, ...] = ()

    @property
    def lines(self) -> tuple[JournalLine, ...]:
        return tuple(line for part in self.parts for line in part.lines)

    @property
    def principals(self) -> tuple[str, ...]:
        return tuple(p for part in self.parts for p in part.principals)

    @property
    def total_debit_minor(self) -> int:
        return sum(line.debit_minor for line in self.lines)

    @property
    def total_credit_minor(self) -> int:
        return sum(line.credit_minor for line in self.lines)

    @property
    def balanced(self) -> bool:
        return all(part.balanced for part in self.parts) and self.total_debit_minor == self.total_credit_minor


def _as_int(alloc: dict, key: str) -> int:
    value = alloc.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"allocation {alloc.get('principal_id')!r}: field {key} must be an integer, got {value!r}")
    return value


def _postings(alloc: dict, mapping: GLMapping, eligible: bool) -> list[tuple[str, AccountRef, int]]:
    """(role, account, signed amount; debit positive) of one payee: components debited, its liability credited."""
    out = [(f"expense:{comp}", mapping.components[comp], _as_int(alloc, fld))
           for comp, fld in COMPONENT_FIELDS.items()]
    role = "clearing" if eligible else "held"
    out.append((role, mapping.liability(eligible), -_as_int(alloc, "payout_minor")))
    return [p for p in out if p[2] != 0]


def _lines(sums: dict[tuple, list]) -> tuple[JournalLine, ...]:
    lines = []
    for (role, account, department, class_), (amount, payees, memo) in sums.items():
        if amount == 0:
            continue
        lines.append(JournalLine(
            line_no=len(lines) + 1, account=account, debit_minor=max(amount, 0), credit_minor=max(-amount, 0),
            role=role, payees=payees, department=department, class_=class_,
            memo=f"{memo or role} ({payees} payee{'s' if payees != 1 else ''})"))
    return tuple(lines)


def build_journal(*, tenant_id: str, window_id: str, currency: str, output_digest: str,
                  allocations: list[dict], gl_mapping: GLMapping, tran_date: str,
                  held: Collection[str] = (), max_lines: int = MAX_LINES_PER_ENTRY) -> Journal:
    """Aggregate the given payees' postings per (role, account, segments); split by whole payees over max_lines.

    `allocations` must be exactly the payees the window's bills cover (connectors/netsuite/journal.py
    covered_allocations); `held` names those the gate holds (credited to the held-payout account).
    """
    if max_lines < 2:
        raise InputError(f"max_lines must be at least 2, got {max_lines}")
    held_set = {str(p) for p in held}
    parts: list[JournalPart] = []
    sums: dict[tuple, list] = {}
    members: list[str] = []

    def close() -> None:
        lines = _lines(sums)
        if lines:
            parts.append(JournalPart(len(parts) + 1, lines, tuple(members)))
        sums.clear()
        members.clear()

    for alloc in sorted(allocations, key=lambda a: str(a["principal_id"])):
        pid = str(alloc["principal_id"])
        postings = _postings(alloc, gl_mapping, pid not in held_set)
        keys = [(role, *ref.segment_key()) for role, ref, _ in postings]
        if len(set(sums) | set(keys)) > max_lines:
            close()
        for key, (_, ref, amount) in zip(keys, postings, strict=True):
            slot = sums.setdefault(key, [0, 0, ref.memo])
            slot[0] += amount
            slot[1] += 1
        members.append(pid)
    close()
    return Journal(
        tenant_id=tenant_id, window_id=window_id, currency=currency,
        currency_id=gl_mapping.currency_id(currency), subsidiary=gl_mapping.subsidiary,
        tran_date=tran_date, output_digest=output_digest, parts=tuple(parts),
        held=tuple(sorted(held_set & {str(a["principal_id"]) for a in allocations})),
    )


def check_balanced(journal: Journal) -> None:
    """Raise JOURNAL_UNBALANCED unless every part (one journalEntry each) has Σ debits == Σ credits."""
    for part in journal.parts:
        if not part.balanced:
            raise VerificationError(
                "JOURNAL_UNBALANCED",
                f"window {journal.window_id} part {part.number}: debits {part.total_debit_minor} != credits "
                f"{part.total_credit_minor} ({journal.currency} minor units)",
            )
    if len(journal.parts) and max(len(p.lines) for p in journal.parts) > MAX_LINES_PER_ENTRY:
        raise VerificationError("JOURNAL_TOO_LONG", f"window {journal.window_id}: a part exceeds "
                                                    f"{MAX_LINES_PER_ENTRY} lines")


CSV_COLUMNS = ["window_id", "tenant_id", "tran_date", "currency", "part", "line", "account", "debit", "credit",
               "debit_minor", "credit_minor", "role", "payees", "department", "class", "subsidiary", "memo",
               "output_digest"]


def journal_csv_bytes(journal: Journal) -> bytes:
    """CSV for ERPs other than NetSuite: one row per aggregated line, exact decimal amounts and minor units."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for part in journal.parts:
        for line in part.lines:
            writer.writerow([
                journal.window_id, journal.tenant_id, journal.tran_date, journal.currency, part.number,
                line.line_no, line.account,
                minor_to_decimal(line.debit_minor, journal.currency) if line.debit_minor else "",
                minor_to_decimal(line.credit_minor, journal.currency) if line.credit_minor else "",
                line.debit_minor, line.credit_minor, line.role, line.payees, line.department or "",
                line.class_ or "", journal.subsidiary or "", line.memo or "", journal.output_digest,
            ])
    return buf.getvalue().encode("utf-8")


def write_journal_csv(journal: Journal, path: str | Path) -> Path:
    """Write the CSV atomically after checking the balance."""
    check_balanced(journal)
    path = Path(path)
    atomic_write_bytes(path, journal_csv_bytes(journal))
    return path
