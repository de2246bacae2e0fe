"""Normalized provider receipts and the quarantine record of a file that could not be used."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FORMATS = ("camt052", "camt053", "camt054", "pain002", "stripe", "paypal-stl", "adyen-settlement")


@dataclass(frozen=True, slots=True)
class Receipt:
    """One provider statement line: a booking (camt, PSP CSV) or a status (pain.002), per payee or per batch.

    `level` is TX (one payee) or BATCH (a total covering many payees); `kind` is BOOKING or STATUS;
    `amount_minor` is the absolute amount (None when the report carries none), `direction` DBIT/CRDT.
    """

    provider: str
    format: str
    kind: str
    level: str
    provider_ref: str | None
    batch_ref: str | None
    end_to_end_id: str | None
    window_ref: str | None
    payee_ref: str | None
    amount_minor: int | None
    currency: str | None
    fee_minor: int
    direction: str
    status: str
    reason: str | None
    booked_at: str | None
    source: str
    line: int
    seq: int
    raw_sha256: str
    n_txs: int | None = None

    @property
    def receipt_id(self) -> str:
        """Stable id: file hash, line and position in the file."""
        return f"{self.raw_sha256[:16]}:{self.line}:{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict including the receipt_id."""
        d = asdict(self)
        d["receipt_id"] = self.receipt_id
        return d


@dataclass(frozen=True)
class Quarantine:
    """A whole file set aside: reason code, human reason and the line that broke it."""

    path: str
    format: str
    raw_sha256: str
    reason_code: str
    reason: str
    line: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class ParseResult:
    """Receipts of a file, or none and one quarantine record; never a partial file."""

    path: str
    format: str
    raw_sha256: str
    receipts: list[Receipt] = field(default_factory=list)
    quarantined: list[Quarantine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file was fully parsed."""
        return not self.quarantined


class ReportError(Exception):
    """Raised inside a parser; the dispatcher turns it into a Quarantine of the whole file."""

    def __init__(self, reason_code: str, reason: str, line: int | None) -> None:
        super().__init__(f"{reason_code} at line {line}: {reason}")
        self.reason_code = reason_code
        self.reason = reason
        self.line = line
