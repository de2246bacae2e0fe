"""Normalized provider receipts and the quarantine record of a file that could not be used."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FORMATS = ("camt052", "camt053", "camt054", "pain002", "mt940", "nacha", "stripe", "paypal-stl", "paypal-trr",
           "adyen-settlement")

# kind: what a receipt is on the account
BOOKING = "BOOKING"  # money moved on the account (or PSP balance): one entry of a statement / report row
DETAIL = "DETAIL"    # one payment inside a BATCH booking (parent_seq); never moves money by itself
STATUS = "STATUS"    # a status message about a payment or batch (pain.002, provider status): no money moved
FEE = "FEE"          # a charge booked separately (bank charge entry, PSP fee row): money moved, not a payout
NOTICE = "NOTICE"    # information only (NACHA notification of change): no money moved
KINDS = (BOOKING, DETAIL, STATUS, FEE, NOTICE)
# booking: whether an entry is final on the account
BOOKED, PENDING, INFO = "BOOKED", "PENDING", "INFO"
BOOKINGS = (BOOKED, PENDING, INFO)
# copy: the bank's duplicate marker of a re-sent statement or advice (ISO CpyDplctInd)
COPY_MARKERS = ("CODU", "COPY", "DUPL")


@dataclass(frozen=True, slots=True)
class Receipt:
    """One provider statement line: a booking (camt, PSP CSV) or a status (pain.002), per payee or per batch.

    `level` is TX (one payee) or BATCH (a total covering many payees); `kind` is one of KINDS;
    `amount_minor` is the absolute amount as booked (None when the report carries none); `direction` is the real
    direction on the account (DBIT: money left it; CRDT: money came in; a reversal keeps the direction it was
    booked with); `status` is the provider's own code, verbatim (BOOK, PDNG, ACSC, RJCT, transfer, T0400, ...).

    Fields after `n_txs`:
    - `booking`: BOOKED / PENDING / INFO (only BOOKED settles anything).
    - `reversal`: this booking undoes an earlier one (ISO RvslInd, a returned payment, NACHA return entry,
      Stripe transfer_reversal, PayPal reversal T-codes); `return_code` is its reason code (AC04, R01, ...) or None.
    - `booking_date`, `value_date`: ISO dates (YYYY-MM-DD) when the report has them.
    - `bank_ref`: the account servicer's own unique reference of this booking (ISO AcctSvcrRef, MT940 bank
      reference, NACHA trace number, Stripe balance transaction id, PayPal transaction id, Adyen PSP reference +
      type) — the key that de-duplicates one booking reported by several files.
    - `account`: the account the statement is about (IBAN / account id / merchant account), when given.
    - `parent_seq`: for a DETAIL line, the `seq` of its BATCH booking in the same file.
    - `fee_included`: True when `amount_minor` already includes `fee_minor` (ISO ChrgInclInd=true, Adyen net).
    - `instructed_minor`, `instructed_currency`: the amount as instructed when it differs in currency from the
      booking (ISO AmtDtls/InstdAmt in an FX batch); None otherwise.
    - `copy`: the file's duplicate marker (COPY_MARKERS) or None.
    - For a STATUS receipt, `reversal=True` means the status says the payment or batch was rejected, failed
      or returned (pain.002 RJCT, a failed or cancelled PSP payout); `return_code` carries its reason code.
    - `flagged`: reason code when the statement this receipt came from contradicts itself (its totals, counts
      or balances do not add up); such a receipt cannot confirm a settlement until resolved.
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
    booking: str = BOOKED
    reversal: bool = False
    return_code: str | None = None
    booking_date: str | None = None
    value_date: str | None = None
    bank_ref: str | None = None
    account: str | None = None
    parent_seq: int | None = None
    fee_included: bool = False
    instructed_minor: int | None = None
    instructed_currency: str | None = None
    copy: str | None = None
    flagged: str | None = None

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


@dataclass(frozen=True)
class Flag:
    """A self-contradiction found in a file that was still imported (totals, counts, balances, footers).

    `seqs` are the receipts it taints (None: the whole file); those receipts carry `flagged=reason_code`."""

    reason_code: str
    detail: str
    line: int | None
    seqs: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["seqs"] = list(self.seqs) if self.seqs is not None else None
        return d


@dataclass
class ParseResult:
    """Receipts of a file, or none and one quarantine record; never a partial file."""

    path: str
    format: str
    raw_sha256: str
    receipts: list[Receipt] = field(default_factory=list)
    quarantined: list[Quarantine] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

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
