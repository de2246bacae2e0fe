"""Match provider receipts to a window's sealed payouts and batches; classify every difference."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from connectors.psp.receipts import Receipt
from vgos.canonical import jcs_bytes, sha256_hex

DISCREPANCY_TYPES = ("MISSING_RECEIPT", "EXTERNAL_ONLY", "AMOUNT_MISMATCH", "FEE_MISMATCH", "DUPLICATE_RECEIPT",
                     "CURRENCY_MISMATCH", "RETURNED", "PROVIDER_TOTALS_MISMATCH", "PAID_AFTER_VOID")
SEVERITY = {"MISSING_RECEIPT": "HIGH", "EXTERNAL_ONLY": "HIGH", "AMOUNT_MISMATCH": "CRITICAL",
            "FEE_MISMATCH": "MEDIUM", "DUPLICATE_RECEIPT": "MEDIUM", "CURRENCY_MISMATCH": "CRITICAL",
            "RETURNED": "HIGH", "PROVIDER_TOTALS_MISMATCH": "CRITICAL", "PAID_AFTER_VOID": "CRITICAL"}
REJECTED_STATUSES = {"RJCT", "RTRN"}


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


@dataclass
class ReconResult:
    """Outcome of one reconciliation of a window bound to its output_digest."""

    tenant_id: str
    window_id: str
    output_digest: str
    n_expected: int
    matches: list[Match] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    batches: dict[str, str] = field(default_factory=dict)
    n_receipts: int = 0

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
        return self.n_expected > 0 and self.n_matched == self.n_expected and not self.discrepancies

    def by_type(self) -> dict[str, int]:
        """Discrepancy counts per type (all types present, zeros included)."""
        c = Counter(d.type for d in self.discrepancies)
        return {t: c.get(t, 0) for t in DISCREPANCY_TYPES}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (also what the result digest covers)."""
        return {"tenant_id": self.tenant_id, "window_id": self.window_id, "output_digest": self.output_digest,
                "n_expected": self.n_expected, "n_matched": self.n_matched, "matched_ppm": self.matched_ppm,
                "fully_reconciled": self.fully_reconciled, "n_receipts": self.n_receipts,
                "batches": dict(sorted(self.batches.items())),
                "matches": [asdict(m) for m in self.matches],
                "discrepancies": [asdict(d) for d in self.discrepancies]}

    @property
    def result_digest(self) -> str:
        """SHA-256 of the RFC 8785 bytes of to_dict(): equal inputs give equal digests."""
        return sha256_hex(jcs_bytes(self.to_dict()))


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


def reconcile(
    window_id: str, output_digest: str, decisions: list[dict] | None, batches: Iterable[Any],
    receipts: Iterable[Receipt], *, tenant_id: str = "default", amount_tolerance_minor: int = 0,
    expected_fee_minor: int | None = None, date_window_days: int = 7,
) -> ReconResult:
    """Reconcile receipts against the window's batches (and check batches against the ALLOW decisions).

    Order: statuses (pain.002 RJCT → RETURNED), primary key (EndToEndId / provider reference), then payee +
    amount + booking date, then batch totals (one bank entry for many payees); leftovers are MISSING_RECEIPT
    (expected side) or EXTERNAL_ONLY (provider side). Deterministic for the same inputs.
    """
    items, totals = expected_from(batches)
    res = ReconResult(tenant_id, window_id, output_digest, len(items))
    disc = res.discrepancies
    tol = amount_tolerance_minor

    def add(kind: str, conf: int, subject: str | None, pid: str | None, rid: str | None,
            exp: int | None, act: int | None, detail: str) -> None:
        disc.append(Discrepancy(kind, SEVERITY[kind], conf, subject, pid, rid, exp, act, detail))

    by_e2e = {i.end_to_end_id: i for i in items}
    batch_of = {t.provider_batch_id: t for t in totals}
    ref_to_batch: dict[str, str] = {}
    for t in totals:
        ref_to_batch[t.provider_batch_id] = t.provider_batch_id
        if t.payment_info_id:
            ref_to_batch[t.payment_info_id] = t.provider_batch_id

    if decisions is not None:
        allowed = {d["principal_id"]: d for d in decisions
                   if d.get("decision") == "ALLOW" and d.get("output_digest") == output_digest}
        for it in items:
            d = allowed.get(it.principal_id)
            if d is None or d.get("payout_minor") != it.amount_minor:
                add("AMOUNT_MISMATCH", 100, it.end_to_end_id, it.principal_id, None,
                    d.get("payout_minor") if d else 0, it.amount_minor,
                    "batch item differs from the sealed ALLOW decision" if d else
                    "batch pays a principal without an ALLOW decision bound to this digest")

    all_receipts = sorted(receipts, key=lambda r: (r.raw_sha256, r.seq))
    res.n_receipts = len(all_receipts)
    returned: dict[str, Receipt] = {}
    done: dict[str, tuple[str, Receipt]] = {}   # e2e -> (format, receipt) of the booking that settled it
    leftovers: list[Receipt] = []
    batch_bookings: list[Receipt] = []
    tx_sum: dict[str, int] = defaultdict(int)
    tx_count: dict[str, int] = defaultdict(int)
    ext_batches: set[str] = set()

    for r in all_receipts:
        if r.kind == "STATUS":
            if r.status not in REJECTED_STATUSES:
                continue
            if r.level == "TX" and r.end_to_end_id in by_e2e:
                returned.setdefault(r.end_to_end_id, r)
            elif r.level == "BATCH" and r.batch_ref in ref_to_batch:
                for it in items:
                    if it.provider_batch_id == ref_to_batch[r.batch_ref]:
                        returned.setdefault(it.end_to_end_id, r)
            continue
        if r.level == "BATCH":
            batch_bookings.append(r)
            continue
        if r.batch_ref in ref_to_batch and r.amount_minor is not None:
            tx_sum[ref_to_batch[r.batch_ref]] += r.amount_minor
            tx_count[ref_to_batch[r.batch_ref]] += 1
        key = r.end_to_end_id if r.end_to_end_id in by_e2e else (
            r.provider_ref if r.provider_ref in by_e2e else None)
        if key is None:
            leftovers.append(r)
            continue
        it = by_e2e[key]
        if r.status in REJECTED_STATUSES:
            returned.setdefault(key, r)
            continue
        if key in done:
            prev_fmt, _ = done[key]
            if prev_fmt == r.format:
                add("DUPLICATE_RECEIPT", 100, key, it.principal_id, r.receipt_id, it.amount_minor, r.amount_minor,
                    f"second {r.format} booking for the same EndToEndId ({r.source})")
            continue
        done[key] = (r.format, r)
        _check_pair(it, r, "end_to_end_id", 100, res, add, tol, expected_fee_minor)

    # payee + amount + date for receipts without a usable key
    open_items = [i for i in items if i.end_to_end_id not in done and i.end_to_end_id not in returned]
    if open_items and leftovers:
        pool: dict[tuple[str | None, str | None], list[Receipt]] = defaultdict(list)
        for r in leftovers:
            if r.payee_ref:
                pool[(_norm(r.payee_ref), r.currency)].append(r)
        used: set[str] = set()
        for it in open_items:
            exec_d = _date(batch_of[it.provider_batch_id].execution_date) if it.provider_batch_id in batch_of \
                else None
            for r in pool.get((_norm(it.payee_ref), it.currency), []):
                if r.receipt_id in used or r.amount_minor is None or abs(r.amount_minor - it.amount_minor) > tol:
                    continue
                bd = _date(r.booked_at)
                if exec_d and bd and abs((bd - exec_d).days) > date_window_days:
                    continue
                used.add(r.receipt_id)
                done[it.end_to_end_id] = (r.format, r)
                _check_pair(it, r, "payee_amount_date", 80, res, add, tol, expected_fee_minor)
                break
        leftovers = [r for r in leftovers if r.receipt_id not in used]

    # batch totals: one bank entry for many payees, and the provider's totals against its own lines
    for r in batch_bookings:
        bid = ref_to_batch.get(r.batch_ref or "")
        if bid is None:
            continue
        t = batch_of[bid]
        has_tx = bid in tx_sum
        want_amt, want_n = (tx_sum[bid], tx_count[bid]) if has_tx else (t.ctrl_sum_minor, t.n_items)
        against = "the sum of its transaction lines" if has_tx else "the batch CtrlSum"
        if r.currency is not None and r.currency != t.currency:
            add("CURRENCY_MISMATCH", 100, bid, None, r.receipt_id, t.ctrl_sum_minor, r.amount_minor,
                f"batch total in {r.currency}, batch is {t.currency} ({r.source})")
            continue
        if r.amount_minor is not None and abs(r.amount_minor - want_amt) > tol:
            add("PROVIDER_TOTALS_MISMATCH", 100, bid, None, r.receipt_id, want_amt, r.amount_minor,
                f"provider batch total differs from {against} ({r.source})")
            continue
        if r.n_txs is not None and r.n_txs != want_n:
            add("PROVIDER_TOTALS_MISMATCH", 100, bid, None, r.receipt_id, want_n, r.n_txs,
                f"provider reports {r.n_txs} transactions, expected {want_n} from {against} ({r.source})")
            continue
        if has_tx:
            continue
        for it in items:
            if it.provider_batch_id == bid and it.end_to_end_id not in done and it.end_to_end_id not in returned:
                done[it.end_to_end_id] = (r.format, r)
                res.matches.append(Match(it.end_to_end_id, it.principal_id, bid, r.receipt_id, "batch_total", 90))

    for r in leftovers:
        if r.batch_ref in ref_to_batch:
            ext_batches.add(ref_to_batch[r.batch_ref])
        add("EXTERNAL_ONLY", 90 if r.batch_ref in ref_to_batch else 70, r.end_to_end_id or r.provider_ref,
            None, r.receipt_id, None, r.amount_minor,
            f"{r.format} {r.status} entry with no authorized payout ({r.source})")
    for it in items:
        if it.end_to_end_id in returned and it.end_to_end_id not in done:
            r = returned[it.end_to_end_id]
            add("RETURNED", 100, it.end_to_end_id, it.principal_id, r.receipt_id, it.amount_minor, r.amount_minor,
                f"{r.format} {r.status}{': ' + r.reason if r.reason else ''} ({r.source})")
        elif it.end_to_end_id in returned:
            r = returned[it.end_to_end_id]
            add("RETURNED", 90, it.end_to_end_id, it.principal_id, r.receipt_id, it.amount_minor, r.amount_minor,
                f"booked, then {r.format} {r.status}{': ' + r.reason if r.reason else ''} ({r.source})")
        elif it.end_to_end_id not in done:
            add("MISSING_RECEIPT", 100, it.end_to_end_id, it.principal_id, None, it.amount_minor, None,
                "no provider receipt for this authorized payout")
    returned_set = set(returned)
    res.matches = sorted((m for m in res.matches if m.end_to_end_id not in returned_set),
                         key=lambda m: m.end_to_end_id)
    res.discrepancies = sorted(disc, key=lambda d: (DISCREPANCY_TYPES.index(d.type), d.subject or "",
                                                    d.receipt_id or ""))
    bad_subjects = {d.subject for d in res.discrepancies}
    matched = {m.end_to_end_id for m in res.matches}
    for t in totals:
        its = [i for i in items if i.provider_batch_id == t.provider_batch_id]
        clean = all(i.end_to_end_id in matched and i.end_to_end_id not in bad_subjects for i in its)
        batch_bad = t.provider_batch_id in bad_subjects or t.provider_batch_id in ext_batches
        res.batches[t.provider_batch_id] = "MATCHED" if clean and not batch_bad else (
            "PARTIAL" if any(i.end_to_end_id in matched for i in its) else "UNMATCHED")
    return res


def _check_pair(it: ExpectedItem, r: Receipt, method: str, conf: int, res: ReconResult, add: Any, tol: int,
                expected_fee_minor: int | None) -> None:
    """Compare one expected item with its receipt; a clean pair becomes a Match."""
    if r.currency != it.currency:
        add("CURRENCY_MISMATCH", conf, it.end_to_end_id, it.principal_id, r.receipt_id, it.amount_minor,
            r.amount_minor, f"receipt in {r.currency}, payout in {it.currency} ({r.source})")
        return
    if r.amount_minor is None or abs(r.amount_minor - it.amount_minor) > tol:
        if r.amount_minor is not None and r.fee_minor and r.amount_minor + r.fee_minor == it.amount_minor:
            add("FEE_MISMATCH", conf * 9 // 10, it.end_to_end_id, it.principal_id, r.receipt_id,
                it.amount_minor, r.amount_minor, f"fee {r.fee_minor} deducted from the payout ({r.source})")
        else:
            add("AMOUNT_MISMATCH", conf, it.end_to_end_id, it.principal_id, r.receipt_id, it.amount_minor,
                r.amount_minor, f"receipt amount differs from the authorized payout ({r.source})")
        return
    if expected_fee_minor is not None and r.fee_minor != expected_fee_minor:
        add("FEE_MISMATCH", conf, it.end_to_end_id, it.principal_id, r.receipt_id, expected_fee_minor,
            r.fee_minor, f"fee {r.fee_minor}, expected {expected_fee_minor} ({r.source})")
        return
    res.matches.append(Match(it.end_to_end_id, it.principal_id, it.provider_batch_id, r.receipt_id, method, conf))
