"""Match provider receipts to a window's sealed payouts and batches; classify every difference."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.psp import ids
from connectors.psp.receipts import BOOKED, DETAIL, FEE, INFO, NOTICE, PENDING, STATUS, Receipt
from recon.evidence import FLAGGED, Movement, effective, movements
from vgos.canonical import jcs_bytes, sha256_hex

if TYPE_CHECKING:
    import polars as pl

DISCREPANCY_TYPES = ("MISSING_RECEIPT", "EXTERNAL_ONLY", "AMOUNT_MISMATCH", "FEE_MISMATCH", "DUPLICATE_RECEIPT",
                     "CURRENCY_MISMATCH", "RETURNED", "PROVIDER_TOTALS_MISMATCH", "PAID_AFTER_VOID",
                     "DUPLICATE_PAYMENT", "BATCH_DEBITED_TWICE", "BATCH_REVERSED", "UNCONFIRMED_STATEMENT",
                     "WITHIN_TOLERANCE")
SEVERITY = {"MISSING_RECEIPT": "HIGH", "EXTERNAL_ONLY": "HIGH", "AMOUNT_MISMATCH": "CRITICAL",
            "FEE_MISMATCH": "MEDIUM", "DUPLICATE_RECEIPT": "MEDIUM", "CURRENCY_MISMATCH": "CRITICAL",
            "RETURNED": "HIGH", "PROVIDER_TOTALS_MISMATCH": "CRITICAL", "PAID_AFTER_VOID": "CRITICAL",
            "DUPLICATE_PAYMENT": "CRITICAL", "BATCH_DEBITED_TWICE": "CRITICAL", "BATCH_REVERSED": "CRITICAL",
            "UNCONFIRMED_STATEMENT": "HIGH", "WITHIN_TOLERANCE": "INFO"}
# Discrepancies that are recorded but block nothing (severity INFO: a difference inside the tolerance).
NON_BLOCKING = frozenset(t for t, s in SEVERITY.items() if s == "INFO")


@dataclass(frozen=True, slots=True)
class ExpectedItem:
    """One payout the window authorized: what a receipt must show."""

    end_to_end_id: str
    principal_id: str
    amount_minor: int
    currency: str
    provider_batch_id: str | None = None
    payee_ref: str | None = None


@dataclass(frozen=True)
class BatchTotals:
    """A batch as the provider should report it: references, control sum and item count."""

    provider_batch_id: str
    payment_info_id: str | None
    ctrl_sum_minor: int
    currency: str
    n_items: int
    execution_date: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """An expected item evidenced by a receipt."""

    end_to_end_id: str
    principal_id: str
    provider_batch_id: str | None
    receipt_id: str
    method: str
    confidence_pct: int


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """A difference between what was authorized and what the provider reported."""

    type: str
    severity: str
    confidence_pct: int
    subject: str | None
    principal_id: str | None
    receipt_id: str | None
    expected_minor: int | None
    actual_minor: int | None
    detail: str
    batch_id: str | None = None  # the provider batch it concerns (None: not tied to one of the window's batches)

    @property
    def case_key(self) -> str:
        """Stable identity across runs, so a person's resolution of it (resolved, written off) sticks."""
        return f"{self.type}:{self.batch_id or ''}:{self.subject or ''}:{self.receipt_id or ''}"

    @property
    def order_key(self) -> tuple[int, str, str, str]:
        """The one order discrepancies are listed (and digested) in: type, batch, subject, receipt."""
        return (DISCREPANCY_TYPES.index(self.type), self.batch_id or "", self.subject or "", self.receipt_id or "")

    @property
    def blocking(self) -> bool:
        """False for a recorded difference that keeps nothing from being confirmed (within tolerance)."""
        return self.type not in NON_BLOCKING


@dataclass(frozen=True, slots=True)
class FeeLine:
    """A charge the provider booked for the window's payouts: becomes a fee expense in the ledger."""

    fee_id: str
    provider: str
    batch_id: str | None
    amount_minor: int
    currency: str
    receipt_id: str
    detail: str


@dataclass
class ReconResult:
    """Outcome of one reconciliation of a window bound to its output_digest."""

    tenant_id: str
    window_id: str
    output_digest: str
    n_expected: int
    matches: Sequence[Match] = field(default_factory=list)  # a list, or a recon.frames.MatchFrame at scale
    discrepancies: list[Discrepancy] = field(default_factory=list)
    batches: dict[str, str] = field(default_factory=dict)
    n_receipts: int = 0
    pending: list[str] = field(default_factory=list)
    fees: list[FeeLine] = field(default_factory=list)
    resolved: frozenset[str] = frozenset()
    outcomes: dict[str, str] = field(default_factory=dict)  # EndToEndId -> SETTLED | RETURNED | FAILED | PENDING

    @property
    def n_matched(self) -> int:
        """Expected items matched cleanly."""
        return len(self.matches)

    @property
    def matched_ppm(self) -> int:
        """Matched share of expected items in parts per million (integer, exact)."""
        return self.n_matched * 1_000_000 // self.n_expected if self.n_expected else 0

    @property
    def fully_reconciled(self) -> bool:
        """Every expected item matched and nothing unexplained."""
        return self.n_expected > 0 and self.n_matched == self.n_expected and not self.open_discrepancies()

    def open_discrepancies(self, batch_id: str | None = None) -> list[Discrepancy]:
        """Discrepancies that still block (not within tolerance, not resolved by a person), optionally of a batch."""
        return [d for d in self.discrepancies if d.blocking and d.case_key not in self.resolved
                and (batch_id is None or d.batch_id == batch_id)]

    def by_type(self) -> dict[str, int]:
        """Discrepancy counts per type (all types present, zeros included)."""
        c = Counter(d.type for d in self.discrepancies)
        return {t: c.get(t, 0) for t in DISCREPANCY_TYPES}

    def to_dict(self, *, matches: bool = True, outcomes: bool = True) -> dict[str, Any]:
        """JSON-ready form (also what the result digest covers); False leaves the matches or outcomes empty."""
        return {"tenant_id": self.tenant_id, "window_id": self.window_id, "output_digest": self.output_digest,
                "n_expected": self.n_expected, "n_matched": self.n_matched, "matched_ppm": self.matched_ppm,
                "fully_reconciled": self.fully_reconciled, "n_receipts": self.n_receipts,
                "batches": dict(sorted(self.batches.items())),
                "matches": [_flat(m) for m in self.matches] if matches else [],
                "discrepancies": [_flat(d) for d in self.discrepancies],
                "pending": sorted(self.pending), "fees": [_flat(f) for f in self.fees],
                "resolved": sorted(self.resolved), "outcomes": dict(sorted(self.outcomes.items())) if outcomes else {}}

    @property
    def result_digest(self) -> str:
        """SHA-256 of the RFC 8785 bytes of to_dict(): equal inputs give equal digests."""
        from recon.frames import MatchFrame

        if isinstance(self.matches, MatchFrame):
            from recon.digest import result_digest

            return result_digest(self)  # the same bytes, with the matches serialized as columns
        return sha256_hex(jcs_bytes(self.to_dict()))


def _flat(obj: Any) -> dict[str, Any]:
    """dataclasses.asdict of a dataclass whose fields are scalars, without its recursive deep copy (same dict)."""
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}


def _norm(ref: str | None) -> str | None:
    return ref.replace(" ", "").upper() if ref else None


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def expected_from(batches: Iterable[Any]) -> tuple[list[ExpectedItem], list[BatchTotals]]:
    """Expected items and batch totals from Batch objects or plain dicts with the same fields."""
    items: list[ExpectedItem] = []
    totals: list[BatchTotals] = []
    for b in batches:
        g = b.get if isinstance(b, Mapping) else (lambda k, d=None, _b=b: getattr(_b, k, d))
        bid = g("provider_batch_id")
        rows = list(g("items") or [])
        for it in rows:
            gi = it.get if isinstance(it, Mapping) else (lambda k, d=None, _i=it: getattr(_i, k, d))
            items.append(ExpectedItem(gi("end_to_end_id"), gi("principal_id"), int(gi("amount_minor")),
                                      gi("currency"), bid, gi("payee_ref")))
        totals.append(BatchTotals(bid, g("payment_info_id"), int(g("ctrl_sum_minor")), g("currency"),
                                  int(g("n_items", len(rows)) or len(rows)), g("execution_date")))
    return items, totals


def _paid(r: Receipt, it_currency: str) -> tuple[int | None, str | None]:
    """What a payment booking says the payee was sent, in the payout's currency when the report gives it."""
    if r.currency != it_currency and r.instructed_currency == it_currency:
        return r.instructed_minor, it_currency
    if r.amount_minor is None:
        return None, r.currency
    if r.fee_included and r.fee_minor and r.direction == "DBIT":
        return r.amount_minor - r.fee_minor, r.currency  # the bank booked payout + its charge as one debit
    return r.amount_minor, r.currency


def _ref_of(r: Receipt) -> str:
    return r.bank_ref or r.receipt_id


class _Run:
    """One reconciliation in progress: indexes, the result, and the rules applied per payment and per batch."""

    def __init__(self, res: ReconResult, items: list[ExpectedItem], totals: list[BatchTotals], tol: int,
                 expected_fee_minor: int | None, date_window_days: int, presettled: Presettled | None = None) -> None:
        self.res, self.items, self.totals, self.tol = res, items, totals, tol
        self.presettled = presettled
        self.expected_fee = expected_fee_minor
        self.days = date_window_days
        self.by_e2e = {i.end_to_end_id: i for i in items}
        self.batch_of = {t.provider_batch_id: t for t in totals}
        self.ref_to_batch: dict[str, str] = {}
        for t in totals:
            self.ref_to_batch[t.provider_batch_id] = t.provider_batch_id
            if t.payment_info_id:
                self.ref_to_batch[t.payment_info_id] = t.provider_batch_id
        self.items_of: dict[str, list[ExpectedItem]] = defaultdict(list)
        for i in items:
            self.items_of[i.provider_batch_id or ""].append(i)
        self.settled: dict[str, str] = {}     # e2e -> method
        self.returned: set[str] = set()
        self.failed: set[str] = set()
        self.pending: set[str] = set()
        self.fee_ids: set[str] = set()

    def add(self, kind: str, conf: int, subject: str | None, pid: str | None, rid: str | None, exp: int | None,
            act: int | None, detail: str, batch_id: str | None) -> None:
        self.res.discrepancies.append(Discrepancy(kind, SEVERITY[kind], conf, subject, pid, rid, exp, act, detail,
                                                  batch_id))

    def charge(self, m: Movement, amount: int | None, batch_id: str | None, what: str) -> None:
        """Record one charge of a booked movement as a fee line, once per provider reference."""
        r = m.rep
        if not amount or m.state != BOOKED or r.currency is None:
            return
        fid = f"{r.provider}/{_ref_of(r)}"
        if fid in self.fee_ids:
            return
        self.fee_ids.add(fid)
        self.res.fees.append(FeeLine(fid, r.provider, batch_id, amount, r.currency, r.receipt_id,
                                     f"{what} {r.format} {r.status} ({m.sources})"))

    def fee(self, m: Movement, batch_id: str | None) -> None:
        """The charges a payment or batch booking carries."""
        self.charge(m, m.rep.fee_minor, batch_id, "charges on")

    # -- one payment -------------------------------------------------------------------------------------
    def payment(self, it: ExpectedItem, rs: list[Receipt], statuses: list[Receipt], *,
                method: str = "end_to_end_id", conf: int = 100) -> bool:
        """Judge one payment from all its receipts; False when nothing reported it (batch totals may still)."""
        e2e, pid, bid = it.end_to_end_id, it.principal_id, it.provider_batch_id
        if not rs and not statuses:
            return False
        if len(rs) == 1 and not statuses and self.expected_fee is None:
            r = rs[0]  # the common case: one clean booking in the payout's currency and amount, no fee
            if (r.booking == BOOKED and r.direction == "DBIT" and not r.reversal and not r.flagged and not r.fee_minor
                    and r.currency == it.currency and r.amount_minor == it.amount_minor and r.kind != FEE):
                self.settled[e2e] = method
                self.res.matches.append(Match(e2e, pid, bid, r.receipt_id, method, conf))
                return True
        mv = movements(rs)
        money = [m for m in mv if m.state != INFO and m.rep.kind != FEE]
        debits = [m for m in money if m.direction == "DBIT" and not m.reversal]
        backs = [m for m in money if m.direction == "CRDT" or m.reversal]
        booked = [m for m in debits if m.state == BOOKED]
        for m in booked:
            self.fee(m, bid)
        back_booked = [m for m in backs if m.state == BOOKED]
        rejects = [s for s in statuses if s.reversal]
        if back_booked:
            m = back_booked[0]
            code = m.return_code or "no return reason given"
            self.returned.add(e2e)
            self.add("RETURNED", 100, e2e, pid, m.rep.receipt_id, it.amount_minor, m.rep.amount_minor,
                     f"{'booked, then ' if booked else ''}returned ({code}): {m.rep.format} {m.rep.status} "
                     f"({m.sources})", bid)
            return True
        if rejects and not booked:
            s = min(rejects, key=lambda r: r.receipt_id)
            self.failed.add(e2e)
            why = s.return_code or s.reason
            self.add("RETURNED", 100, e2e, pid, s.receipt_id, it.amount_minor, s.amount_minor,
                     f"{s.format} {s.status}{': ' + why if why else ''} ({s.source})", bid)
            return True
        if not booked:
            flagged = [m for m in debits if m.state == FLAGGED]
            if flagged:
                m = flagged[0]
                self.add("UNCONFIRMED_STATEMENT", 100, e2e, pid, m.rep.receipt_id, it.amount_minor,
                         m.rep.amount_minor, f"booked only in a statement that contradicts itself ({m.flag}); it "
                         f"confirms nothing until a consistent statement arrives or a person accepts the file "
                         f"({m.sources})", bid)
                return True
            if any(m.state == PENDING for m in debits):
                self.pending.add(e2e)
                return True
            return False
        if len(booked) > 1:
            self.add("DUPLICATE_PAYMENT", 100, e2e, pid, booked[1].rep.receipt_id, it.amount_minor,
                     sum(m.rep.amount_minor or 0 for m in booked),
                     f"{len(booked)} separate debits for one payout: {'; '.join(m.sources for m in booked)}", bid)
        if rejects:
            s = min(rejects, key=lambda r: r.receipt_id)
            self.add("RETURNED", 90, e2e, pid, s.receipt_id, it.amount_minor, None,
                     f"booked, but {s.format} says {s.status} ({s.return_code or s.reason or 'no reason'}) "
                     f"({s.source}); waiting for the return booking", bid)
            self.returned.add(e2e)
            return True
        self.check_amount(it, booked[0], method, conf)
        return True

    def check_amount(self, it: ExpectedItem, m: Movement, method: str, conf: int) -> None:
        """Compare the booked amount with the payout; a clean pair (or one within tolerance) settles it."""
        r, e2e, pid, bid = m.rep, it.end_to_end_id, it.principal_id, it.provider_batch_id
        paid, ccy = _paid(r, it.currency)
        if ccy != it.currency:
            self.add("CURRENCY_MISMATCH", conf, e2e, pid, r.receipt_id, it.amount_minor, r.amount_minor,
                     f"booked in {r.currency}, payout in {it.currency} ({m.sources})", bid)
            return
        if paid is None:
            self.add("AMOUNT_MISMATCH", conf, e2e, pid, r.receipt_id, it.amount_minor, None,
                     f"booking carries no amount ({m.sources})", bid)
            return
        diff = paid - it.amount_minor
        if diff and not r.fee_included and r.fee_minor and paid + r.fee_minor == it.amount_minor:
            # the provider paid the payee net of its fee: the payout moved, the fee is an expense
            diff = 0
        if abs(diff) > self.tol:
            self.add("AMOUNT_MISMATCH", conf, e2e, pid, r.receipt_id, it.amount_minor, paid,
                     f"booked amount differs from the authorized payout by {diff} ({m.sources})", bid)
            return
        if self.expected_fee is not None and r.fee_minor != self.expected_fee:
            self.add("FEE_MISMATCH", conf, e2e, pid, r.receipt_id, self.expected_fee, r.fee_minor,
                     f"fee {r.fee_minor}, expected {self.expected_fee} ({m.sources})", bid)
            return
        if diff:
            self.add("WITHIN_TOLERANCE", conf, e2e, pid, r.receipt_id, it.amount_minor, paid,
                     f"difference {diff} within the tolerance of {self.tol} ({m.sources})", bid)
        self.settled[e2e] = method
        self.res.matches.append(Match(e2e, pid, bid, r.receipt_id, method, conf))

    # -- one batch ---------------------------------------------------------------------------------------
    def batch(self, t: BatchTotals, rs: list[Receipt], statuses: list[Receipt], has_lines: bool) -> None:
        """The one-debit booking of a batch: total and count checked; a second debit or a reversal is caught."""
        bid = t.provider_batch_id
        its = self.items_of.get(bid, [])
        mv = [m for m in movements(rs) if m.state != INFO and m.rep.kind != FEE]
        debits = [m for m in mv if m.direction == "DBIT" and not m.reversal]
        booked = [m for m in debits if m.state == BOOKED]
        backs = [m for m in mv if (m.direction == "CRDT" or m.reversal) and m.state == BOOKED]
        for m in booked:
            self.fee(m, bid)
        open_items = [i for i in its if i.end_to_end_id not in self.returned and i.end_to_end_id not in self.failed]
        if backs:
            m = backs[0]
            self.add("BATCH_REVERSED", 100, bid, None, m.rep.receipt_id, t.ctrl_sum_minor, m.rep.amount_minor,
                     f"the batch booking was reversed ({m.return_code or 'no return reason given'}; {m.sources})",
                     bid)
            for i in open_items:
                self.returned.add(i.end_to_end_id)
                self.settled.pop(i.end_to_end_id, None)
            if self.presettled is not None:
                self.returned.update(self.presettled.of_batch(bid))
            return
        grp = [s for s in statuses if s.reversal]
        if grp and not booked:
            s = min(grp, key=lambda r: r.receipt_id)
            for i in open_items:
                if i.end_to_end_id not in self.settled:
                    self.failed.add(i.end_to_end_id)
                    self.add("RETURNED", 100, i.end_to_end_id, i.principal_id, s.receipt_id, i.amount_minor, None,
                             f"batch rejected: {s.format} {s.status} ({s.return_code or s.reason or 'no reason'}) "
                             f"({s.source})", bid)
            return
        if len(booked) > 1:
            self.add("BATCH_DEBITED_TWICE", 100, bid, None, booked[1].rep.receipt_id, t.ctrl_sum_minor,
                     sum(m.rep.amount_minor or 0 for m in booked),
                     f"{len(booked)} separate debits for one batch: {'; '.join(m.sources for m in booked)}", bid)
        if not booked:
            flagged = [m for m in debits if m.state == FLAGGED]
            if flagged and not has_lines:
                m = flagged[0]
                self.add("UNCONFIRMED_STATEMENT", 100, bid, None, m.rep.receipt_id, t.ctrl_sum_minor,
                         m.rep.amount_minor, f"batch booked only in a statement that contradicts itself ({m.flag}) "
                         f"({m.sources})", bid)
            elif any(m.state == PENDING for m in debits) and not has_lines:
                self.pending.update(i.end_to_end_id for i in open_items if i.end_to_end_id not in self.settled)
            return
        m = booked[0]
        r = m.rep
        # lines the provider rejected before booking are not in the debit
        gone = [i for i in its if i.end_to_end_id in self.failed]
        want_sum = t.ctrl_sum_minor - sum(i.amount_minor for i in gone)
        want_n = t.n_items - len(gone)
        paid, ccy = _paid(r, t.currency)
        if ccy != t.currency:
            if not has_lines:
                self.add("CURRENCY_MISMATCH", 100, bid, None, r.receipt_id, t.ctrl_sum_minor, r.amount_minor,
                         f"batch booked in {r.currency}, batch is {t.currency} ({m.sources})", bid)
            return
        diff = (paid or 0) - want_sum
        if r.fee_minor and not r.fee_included and paid is not None and paid + r.fee_minor == want_sum:
            diff = 0
        if paid is None or abs(diff) > self.tol:
            self.add("PROVIDER_TOTALS_MISMATCH", 100, bid, None, r.receipt_id, want_sum, paid,
                     f"the batch debit differs from the batch total by {diff} ({m.sources})", bid)
            return
        if r.n_txs is not None and r.n_txs != want_n:
            self.add("PROVIDER_TOTALS_MISMATCH", 100, bid, None, r.receipt_id, want_n, r.n_txs,
                     f"the batch booking counts {r.n_txs} payments, the batch has {want_n} ({m.sources})", bid)
            return
        if diff:
            self.add("WITHIN_TOLERANCE", 100, bid, None, r.receipt_id, want_sum, paid,
                     f"batch difference {diff} within the tolerance of {self.tol} ({m.sources})", bid)
        if has_lines:
            return  # the payments' own lines judge each payment
        for i in open_items:
            if i.end_to_end_id not in self.settled and i.end_to_end_id not in self.pending:
                self.settled[i.end_to_end_id] = "batch_total"
                self.res.matches.append(Match(i.end_to_end_id, i.principal_id, bid, r.receipt_id, "batch_total",
                                              90))


@dataclass(frozen=True)
class Presettled:
    """Payments settled before the exact rules run, each by one clean booking (recon.fast): held as columns.

    `frame`: their Match rows; `per_batch`: how many per provider batch; `n_receipts`: the receipts they used."""

    frame: pl.DataFrame
    per_batch: dict[str, int]
    n_receipts: int

    def of_batch(self, bid: str) -> list[str]:
        """EndToEndIds of one batch's presettled payments (a reversal of the whole batch returns them too)."""
        import polars as pl

        return self.frame.filter(pl.col("provider_batch_id") == bid)["end_to_end_id"].to_list()


def _near(run: _Run, it: ExpectedItem, r: Receipt) -> bool:
    """A receipt's booking date lies within the date window of the item's batch execution date."""
    exec_d = _date(run.batch_of[it.provider_batch_id].execution_date) if it.provider_batch_id in run.batch_of \
        else None
    bd = _date(r.booking_date or r.value_date or r.booked_at)
    return not (exec_d and bd) or -run.days <= (bd - exec_d).days <= 90


def reconcile(
    window_id: str, output_digest: str, decisions: list[dict] | None, batches: Iterable[Any],
    receipts: Iterable[Receipt], *, tenant_id: str = "default", amount_tolerance_minor: int = 0,
    expected_fee_minor: int | None = None, date_window_days: int = 7, resolved: Iterable[str] = (),
) -> ReconResult:
    """Reconcile receipts against the window's batches: evidence per payment and per batch, not per file.

    Every receipt about a payment (its EndToEndId, from any file and format) is clustered into real movements
    (`recon.evidence`), so an advice plus a statement, or a bank copy, count once; only BOOKED movements from
    consistent statements settle, pending ones keep the payment open, reversals and returns return it, a second
    debit is a DUPLICATE_PAYMENT. A batch's one-debit booking is checked against its total and item count; a
    second debit or a reversal of it is a discrepancy. Receipts without a key are matched by payee + amount +
    booking date. The result does not depend on the order of receipts or files.
    """
    items, totals = expected_from(batches)
    return reconcile_items(window_id, output_digest, decisions, items, totals, receipts, tenant_id=tenant_id,
                           amount_tolerance_minor=amount_tolerance_minor, expected_fee_minor=expected_fee_minor,
                           date_window_days=date_window_days, resolved=resolved)


def reconcile_items(
    window_id: str, output_digest: str, decisions: list[dict] | None, items: list[ExpectedItem],
    totals: list[BatchTotals], receipts: Iterable[Receipt], *, tenant_id: str = "default",
    amount_tolerance_minor: int = 0, expected_fee_minor: int | None = None, date_window_days: int = 7,
    resolved: Iterable[str] = (), presettled: Presettled | None = None,
) -> ReconResult:
    """reconcile() on expected items; with `presettled`, `items` and `receipts` are what the columnar pass left.

    The presettled payments are exactly those the rules below would settle by their one clean booking: they add
    nothing but their match, count as lines of their batch, and a reversal of their batch still returns them."""
    pre_n = sum(presettled.per_batch.values()) if presettled is not None else 0
    res = ReconResult(tenant_id, window_id, output_digest, len(items) + pre_n, resolved=frozenset(resolved))
    run = _Run(res, items, totals, amount_tolerance_minor, expected_fee_minor, date_window_days, presettled)

    if decisions is not None:
        allowed = {d["principal_id"]: d for d in decisions
                   if d.get("decision") == "ALLOW" and d.get("output_digest") == output_digest}
        for it in items:
            d = allowed.get(it.principal_id)
            if d is None or d.get("payout_minor") != it.amount_minor:
                run.add("AMOUNT_MISMATCH", 100, it.end_to_end_id, it.principal_id, None,
                        d.get("payout_minor") if d else 0, it.amount_minor,
                        "batch item differs from the sealed ALLOW decision" if d else
                        "batch pays a principal without an ALLOW decision bound to this digest", it.provider_batch_id)

    all_receipts = sorted(receipts, key=lambda r: (r.raw_sha256, r.seq))
    res.n_receipts = len(all_receipts) + (presettled.n_receipts if presettled is not None else 0)
    parents = {(r.raw_sha256, r.seq): r for r in all_receipts if r.level == "BATCH" and r.kind != DETAIL}
    by_e2e: dict[str, list[Receipt]] = defaultdict(list)
    st_e2e: dict[str, list[Receipt]] = defaultdict(list)
    by_batch: dict[str, list[Receipt]] = defaultdict(list)
    st_batch: dict[str, list[Receipt]] = defaultdict(list)
    lines_of_batch: set[str] = {b for b, n in presettled.per_batch.items() if n} if presettled is not None else set()
    ach = {ids.ach_individual_id(e): e for e in run.by_e2e}  # NACHA's 15-character stand-in
    fees: dict[str, list[Receipt]] = defaultdict(list)  # separate charge bookings per batch
    leftovers: list[Receipt] = []
    for r0 in all_receipts:
        r = effective(r0, parents)
        bid = run.ref_to_batch.get(r.batch_ref or "")
        if r.kind == NOTICE or (r.booking == INFO and r.kind != STATUS):
            continue  # information only: no money moved
        if r.kind == STATUS:
            if r.level == "TX" and r.end_to_end_id in run.by_e2e:
                st_e2e[r.end_to_end_id].append(r)
            elif r.level == "BATCH" and bid is not None:
                st_batch[bid].append(r)
            continue
        if r.kind == FEE:
            if bid is not None:
                fees[bid].append(r)
            continue
        if r.level == "BATCH" and r.kind != DETAIL:
            if bid is not None:
                by_batch[bid].append(r)
            else:
                leftovers.append(r)
            continue
        key = r.end_to_end_id if r.end_to_end_id in run.by_e2e else (
            r.provider_ref if r.provider_ref in run.by_e2e else ach.get(r.end_to_end_id or ""))
        if key is None:
            leftovers.append(r)
            continue
        by_e2e[key].append(r)
        if run.by_e2e[key].provider_batch_id:
            lines_of_batch.add(run.by_e2e[key].provider_batch_id or "")

    # money coming back without a usable key (an ACH return names the account, not our id): payee + amount + date
    keyless_back = [r for r in leftovers if r.payee_ref and r.amount_minor is not None
                    and (r.reversal or r.direction == "CRDT")]
    if keyless_back:
        by_payee: dict[tuple[str | None, str, int], list[ExpectedItem]] = defaultdict(list)
        for it in items:
            by_payee[(_norm(it.payee_ref), it.currency, it.amount_minor)].append(it)
        taken: set[str] = set()
        for r in keyless_back:
            cands = [i for i in by_payee.get((_norm(r.payee_ref), r.currency or "", r.amount_minor or 0), [])
                     if _near(run, i, r)]
            if len(cands) == 1:
                by_e2e[cands[0].end_to_end_id].append(r)
                taken.add(r.receipt_id)
        leftovers = [r for r in leftovers if r.receipt_id not in taken]

    judged: set[str] = set()
    for it in items:
        if run.payment(it, by_e2e.get(it.end_to_end_id, []), st_e2e.get(it.end_to_end_id, [])):
            judged.add(it.end_to_end_id)

    # receipts without a usable key: payee + amount + booking date (money out, booked, consistent)
    open_items = [i for i in items if i.end_to_end_id not in judged]
    if open_items and leftovers:
        pool: dict[tuple[str | None, str | None], list[Receipt]] = defaultdict(list)
        for r in leftovers:
            if r.payee_ref and r.direction == "DBIT" and not r.reversal:
                pool[(_norm(r.payee_ref), r.currency)].append(r)
        used: set[str] = set()
        for it in open_items:
            exec_d = _date(run.batch_of[it.provider_batch_id].execution_date) \
                if it.provider_batch_id in run.batch_of else None
            for r in pool.get((_norm(it.payee_ref), it.currency), []):
                if r.receipt_id in used or r.amount_minor is None or abs(r.amount_minor - it.amount_minor) > run.tol:
                    continue
                bd = _date(r.booking_date or r.booked_at)
                if exec_d and bd and abs((bd - exec_d).days) > run.days:
                    continue
                used.add(r.receipt_id)
                if run.payment(it, [r], [], method="payee_amount_date", conf=80):
                    judged.add(it.end_to_end_id)
                    if it.provider_batch_id:
                        lines_of_batch.add(it.provider_batch_id)
                break
        leftovers = [r for r in leftovers if r.receipt_id not in used]

    for t in totals:
        bid = t.provider_batch_id
        run.batch(t, by_batch.get(bid, []), st_batch.get(bid, []), bid in lines_of_batch)
    for bid, rs in sorted(fees.items()):
        for m in movements(rs):  # a charge in the advice and in the statement is one charge
            run.charge(m, m.rep.amount_minor, bid, "charge")

    ext_batches: set[str] = set()
    prefix = ids.end_to_end_prefix(window_id)
    ours = [r for r in leftovers if (r.end_to_end_id or "").startswith(prefix) or r.window_ref == window_id
            or r.batch_ref in run.ref_to_batch or (r.provider_ref or "").startswith(prefix)]
    for m in movements(ours):  # bookings that name this window but no payout of it
        r = m.rep
        if m.state not in (BOOKED, FLAGGED):
            continue
        bid = run.ref_to_batch.get(r.batch_ref or "")
        if bid:
            ext_batches.add(bid)
        run.add("EXTERNAL_ONLY", 90 if bid else 70, r.end_to_end_id or r.provider_ref or r.bank_ref, None,
                r.receipt_id, None, r.amount_minor,
                f"{r.format} {r.direction} {r.status} booking with no authorized payout ({m.sources})", bid)
    subjects = {d.subject for d in res.discrepancies}
    for it in items:
        e = it.end_to_end_id
        if e in run.settled or e in run.returned or e in run.failed or e in run.pending or e in subjects:
            continue
        run.add("MISSING_RECEIPT", 100, e, it.principal_id, None, it.amount_minor, None,
                "no booking for this authorized payout", it.provider_batch_id)
        subjects.add(e)
    gone = run.returned | run.failed
    mine = sorted((m for m in res.matches if m.end_to_end_id not in gone), key=lambda m: m.end_to_end_id)
    pre_left: dict[str, int] = {}
    if presettled is None:
        res.matches = mine
    else:
        import polars as pl

        from recon.frames import MatchFrame, match_frame

        pre = presettled.frame
        if gone:
            pre = pre.filter(~pl.col("end_to_end_id").is_in(sorted(gone)))
        pre_left = dict(pre.group_by("provider_batch_id").len().iter_rows()) if gone else dict(presettled.per_batch)
        res.matches = MatchFrame(pl.concat([pre, match_frame(mine)]).sort("end_to_end_id"))
    res.pending = sorted(run.pending - set(run.settled) - gone)
    res.fees = sorted(res.fees, key=lambda f: f.fee_id)
    res.discrepancies = sorted(res.discrepancies, key=lambda d: d.order_key)
    matched_mine = {m.end_to_end_id for m in mine}
    pending = set(res.pending)
    res.outcomes = {**dict.fromkeys(pending, "PENDING"), **dict.fromkeys(matched_mine, "SETTLED"),
                    **dict.fromkeys(run.failed - run.returned, "FAILED"), **dict.fromkeys(run.returned, "RETURNED")}
    if presettled is not None:
        settled = res.matches.frame["end_to_end_id"].to_list()  # type: ignore[attr-defined]
        res.outcomes = {**dict.fromkeys(settled, "SETTLED"), **res.outcomes}
    for t in totals:
        bid = t.provider_batch_id
        its = run.items_of.get(bid, [])
        n_pre = pre_left.get(bid, 0)  # presettled lines still matched: all distinct, none pending
        n_all = len(its) + (presettled.per_batch.get(bid, 0) if presettled is not None else 0)
        n_matched = n_pre + sum(1 for i in its if i.end_to_end_id in matched_mine)
        n_done = n_pre + sum(1 for i in its if i.end_to_end_id in matched_mine or i.end_to_end_id in pending)
        bad = bool(res.open_discrepancies(bid)) or bid in ext_batches
        if n_all and not bad and n_matched == n_all:
            res.batches[bid] = "MATCHED"
        elif not bad and n_all and n_done == n_all:
            res.batches[bid] = "PENDING"
        elif n_matched:
            res.batches[bid] = "PARTIAL"
        else:
            res.batches[bid] = "UNMATCHED"
    return res
