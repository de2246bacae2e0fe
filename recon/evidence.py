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

import heapq
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


def _state(rs: Iterable[Receipt]) -> str:
    rs = list(rs)
    if any(r.booking == BOOKED and not r.flagged for r in rs):
        return BOOKED
    if any(r.booking == BOOKED for r in rs):
        return FLAGGED
    if any(r.booking == PENDING for r in rs):
        return PENDING
    return INFO


class _Peers:
    """Clusters of one value key, with the indexes that find a cluster's home without scanning all of them.

    A reference cluster joins the first (oldest) cluster with no format in common (so no file in common: a file
    has one format) and at most one account between them; a loose receipt joins the first cluster holding no
    receipt of its own file. Both lookups are near constant time, so thousands of bookings of one value (a
    window's unexplained leftovers) cluster in linear time."""

    def __init__(self) -> None:
        self.clusters: list[list[Receipt]] = []
        self.formats: list[frozenset[str]] = []
        self.accounts: list[frozenset[str]] = []
        self.files: list[set[str]] = []
        # formats -> heaps of cluster indexes with no account / one account / any of those (stale entries skipped)
        self.none: dict[frozenset[str], list[int]] = {}
        self.one: dict[tuple[frozenset[str], str], list[int]] = {}
        self.any: dict[frozenset[str], list[int]] = {}
        self.free: dict[str, int] = {}  # file -> every cluster before this index holds a receipt of the file

    def _index(self, i: int) -> None:
        f, a = self.formats[i], self.accounts[i]
        if len(a) > 1:
            return  # two accounts: no other cluster can join it
        heapq.heappush(self.any.setdefault(f, []), i)
        if a:
            heapq.heappush(self.one.setdefault((f, next(iter(a))), []), i)
        else:
            heapq.heappush(self.none.setdefault(f, []), i)

    def _first(self, heap: list[int] | None, f: frozenset[str], acct: str | None, any_: bool) -> int | None:
        while heap:
            i = heap[0]
            a = self.accounts[i]
            if self.formats[i] == f and len(a) <= 1 and (any_ or a == (frozenset((acct,)) if acct else frozenset())):
                return i
            heapq.heappop(heap)  # the cluster grew since: indexed again under its new key
        return None

    def add(self, c: list[Receipt]) -> None:
        """A new cluster (the newest)."""
        self.clusters.append(c)
        self.formats.append(frozenset(r.format for r in c))
        self.accounts.append(frozenset(r.account for r in c if r.account))
        self.files.append({r.raw_sha256 for r in c})
        self._index(len(self.clusters) - 1)

    def extend(self, i: int, rs: list[Receipt]) -> None:
        """Receipts join cluster i."""
        self.clusters[i].extend(rs)
        self.files[i].update(r.raw_sha256 for r in rs)
        f = self.formats[i] | {r.format for r in rs}
        a = self.accounts[i] | {r.account for r in rs if r.account}
        if (f, a) != (self.formats[i], self.accounts[i]):
            self.formats[i], self.accounts[i] = f, a
            self._index(i)

    def home_elsewhere(self, c: list[Receipt]) -> int | None:
        """The first cluster that is this one reported in another format (recon.evidence rule 2)."""
        fc = frozenset(r.format for r in c)
        ac = {r.account for r in c if r.account}
        if len(ac) > 1:
            return None  # formats disjoint means files disjoint too: every receipt of a file has its format
        acct = next(iter(ac)) if ac else None
        best: int | None = None
        for f in list(self.any):
            if f & fc:
                continue
            if acct is None:
                i = self._first(self.any.get(f), f, None, True)
            else:
                cand = [self._first(self.none.get(f), f, None, False), self._first(self.one.get((f, acct)), f, acct,
                                                                                  False)]
                i = min((x for x in cand if x is not None), default=None)
            if i is not None and (best is None or i < best):
                best = i
        return best

    def home_for_loose(self, r: Receipt) -> int | None:
        """The first cluster holding no receipt of r's file (recon.evidence rule 3)."""
        i = self.free.get(r.raw_sha256, 0)
        while i < len(self.clusters) and r.raw_sha256 in self.files[i]:
            i += 1
        self.free[r.raw_sha256] = i
        return i if i < len(self.clusters) else None


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
    order: list[tuple[_Peers, int]] = []  # every cluster, in the order it was created
    # clusters by (value key, is a fee): every join looks only among clusters of the same value
    same_value: dict[tuple, _Peers] = {}
    for _, c in sorted(by_ref.items(), key=lambda kv: min(r.receipt_id for r in kv[1])):
        # the same booking rendered by another format of the same bank (camt.053 and MT940 of one account carry
        # different references): same value key, no file and no format in common, same account when both say
        peers = same_value.setdefault((_value_key(c[0]), c[0].kind == FEE), _Peers())
        home = peers.home_elsewhere(c)
        if home is None:
            peers.add(list(c))
            order.append((peers, len(peers.clusters) - 1))
        else:
            peers.extend(home, c)
    for r in loose:
        peers = same_value.setdefault((_value_key(r), r.kind == FEE), _Peers())
        home = peers.home_for_loose(r)
        if home is None:
            peers.add([r])
            order.append((peers, len(peers.clusters) - 1))
        else:
            peers.extend(home, [r])
    out = [Movement(tuple(p.clusters[i]), _state(p.clusters[i])) for p, i in order]
    return sorted(out, key=lambda m: m.rep.receipt_id)
