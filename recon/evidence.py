"""Bookings of one payment or batch, gathered from every file and format and counted once.

A bank reports the same money several times: an intraday camt.052, a debit advice (camt.054), the end-of-day
statement (camt.053), a re-send marked COPY/DUPL. `movements()` clusters the receipts of one subject (a payment's
EndToEndId or a batch's references) into the real movements of money, independent of the order files arrived:

1. receipts sharing the bank's own reference (`bank_ref`) are one movement (the k-th receipt with a reference in one
   file pairs with the k-th in another: a statement that repeats a reference on two entries has two movements);
2. reference clusters from different formats (camt.053 and MT940 of one account) with the same value key
   (direction, reversal, amount, currency, date), no file in common and no conflicting account are one movement;
3. a receipt without a reference joins a movement with the same value key that holds no receipt from its own
   file; two identical entries in one file stay two.

A movement's state is BOOKED when a receipt that is not flagged says booked, FLAGGED when only receipts of
self-contradicting statements say booked, else PENDING or INFO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from connectors.psp.receipts import BOOKED, DETAIL, FEE, INFO, PENDING, STATUS, Receipt

FLAGGED = "FLAGGED"


@dataclass(frozen=True)
class Movement:
    """One real movement of money on the account, with every receipt that reports it."""

    receipts: tuple[Receipt, ...]
    state: str  # BOOKED | FLAGGED | PENDING | INFO

    @property
    def rep(self) -> Receipt:
        """The receipt that stands for the movement: unflagged and booked first, then the smallest id."""
        return min(self.receipts, key=lambda r: (r.flagged is not None, r.booking != BOOKED, r.copy is not None,
                                                 r.receipt_id))

    @property
    def direction(self) -> str:
        """DBIT or CRDT on the account."""
        return self.rep.direction

    @property
    def reversal(self) -> bool:
        """The movement undoes an earlier one (reversal, return)."""
        return any(r.reversal for r in self.receipts)

    @property
    def return_code(self) -> str | None:
        """The first reason code any receipt gives for a return."""
        return next((r.return_code for r in sorted(self.receipts, key=lambda r: r.receipt_id) if r.return_code),
                    None)

    @property
    def flag(self) -> str | None:
        """The flag code that keeps a FLAGGED movement from confirming anything."""
        return next((r.flagged for r in self.receipts if r.flagged), None)

    @property
    def sources(self) -> str:
        """Where it was reported (file:line, sorted), for discrepancy details."""
        return ", ".join(sorted({r.source for r in self.receipts}))


def effective(r: Receipt, parents: Mapping[tuple[str, int], Receipt]) -> Receipt:
    """A DETAIL line is booked, flagged and dated as its batch booking is (it does not move money alone)."""
    if r.kind != DETAIL or r.parent_seq is None:
        return r
    p = parents.get((r.raw_sha256, r.parent_seq))
    if p is None or (p.booking == r.booking and not p.flagged and not p.reversal and r.booking_date is not None):
        return r
    return replace(r, booking=p.booking, flagged=r.flagged or p.flagged,
                   booking_date=r.booking_date or p.booking_date, value_date=r.value_date or p.value_date,
                   reversal=r.reversal or p.reversal, return_code=r.return_code or p.return_code,
                   direction=r.direction or p.direction)


def _value_key(r: Receipt) -> tuple:
    day = (r.booking_date or r.value_date or r.booked_at or "")[:10]
    return (r.direction, r.reversal, r.amount_minor, r.currency, day)


def _same_elsewhere(a: list[Receipt], b: list[Receipt]) -> bool:
    """Two reference clusters of the same value that are one movement reported in two formats."""
    if {r.format for r in a} & {r.format for r in b} or {r.raw_sha256 for r in a} & {r.raw_sha256 for r in b}:
        return False
    accts = {r.account for r in a + b if r.account}
    return len(accts) <= 1


def _state(rs: Iterable[Receipt]) -> str:
    rs = list(rs)
    if any(r.booking == BOOKED and not r.flagged for r in rs):
        return BOOKED
    if any(r.booking == BOOKED for r in rs):
        return FLAGGED
    if any(r.booking == PENDING for r in rs):
        return PENDING
    return INFO


def movements(receipts: Iterable[Receipt]) -> list[Movement]:
    """Cluster one subject's money receipts (not STATUS) into movements; deterministic for any input order."""
    rs = sorted((r for r in receipts if r.kind != STATUS), key=lambda r: (r.raw_sha256, r.seq))
    by_ref: dict[tuple, list[Receipt]] = {}
    loose: list[Receipt] = []
    nth: dict[tuple, int] = {}
    for r in rs:
        if r.bank_ref:
            # some banks repeat one reference on distinct entries of a statement: the k-th occurrence in one
            # file is the same movement as the k-th in another, never the same as another line of its own file
            base = (r.kind == FEE, r.bank_ref, r.direction, r.reversal)
            k = nth[(r.raw_sha256, *base)] = nth.get((r.raw_sha256, *base), -1) + 1
            by_ref.setdefault((*base, k), []).append(r)
        else:
            loose.append(r)
    clusters: list[list[Receipt]] = []
    # clusters by (value key, is a fee): every join below looks only among clusters of the same value, so a
    # subject with many bookings (a window's unexplained leftovers) is clustered in linear time
    same_value: dict[tuple, list[list[Receipt]]] = {}
    for _, c in sorted(by_ref.items(), key=lambda kv: min(r.receipt_id for r in kv[1])):
        # the same booking rendered by another format of the same bank (camt.053 and MT940 of one account carry
        # different references): same value key, no file and no format in common, same account when both say
        peers = same_value.setdefault((_value_key(c[0]), c[0].kind == FEE), [])
        home = next((h for h in peers if _same_elsewhere(h, c)), None)
        if home is None:
            clusters.append(list(c))
            peers.append(clusters[-1])
        else:
            home.extend(c)
    for r in loose:
        peers = same_value.setdefault((_value_key(r), r.kind == FEE), [])
        home = next((c for c in peers if all(x.raw_sha256 != r.raw_sha256 for x in c)), None)
        if home is None:
            clusters.append([r])
            peers.append(clusters[-1])
        else:
            home.append(r)
    out = [Movement(tuple(c), _state(c)) for c in clusters]
    return sorted(out, key=lambda m: m.rep.receipt_id)
