"""Recon at scale on SQLite: a window is selected and reconciled set-wise, never with one SQL variable per payee.

Receipts are built as the camt.054 reader yields them for one batch booking (a BATCH receipt and a DETAIL line
per payment, parent_seq pointing at it), without XML; the batch and its items go in with bulk inserts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from connectors.psp import ids
from connectors.psp.receipts import BOOKING, DETAIL, ParseResult, Receipt
from recon import persist
from recon.fast import reconcile_frames
from recon.frames import from_parquet
from recon.match import reconcile
from vgos.store.db import get_engine
from vgos.store.recon import PayoutBatch, PayoutBatchItem

WINDOW, DIGEST, TENANT = "2025-09-23", "cd" * 32, "default"
SHA, CCY, DAY = "e" * 64, "EUR", "2025-09-24"
PBID = ids.provider_batch_id(TENANT, WINDOW, DIGEST, "pain001")
PMTINF = ids.payment_info_id(TENANT, WINDOW, DIGEST, "pain001")


def vgos_e2e(i: int) -> str:
    """An EndToEndId as VGOS mints them: the window prefix and 20 hex digits."""
    return f"{ids.end_to_end_prefix(WINDOW)}{(i * 0x9E3779B97F4A7C15F39D) % (1 << 80):020x}"


def amount(i: int) -> int:
    return 100 + (i * 7919) % 99_901


def store_window(db_url: str, n: int, e2e=vgos_e2e) -> None:
    """One batch of n items in payout_batches/payout_batch_items, and its camt.054 booking (n + 1 receipts)."""
    items = [{"provider_batch_id": PBID, "end_to_end_id": e2e(i), "principal_id": f"P{i:09d}",
              "amount_minor": amount(i), "currency": CCY, "payee_ref": f"DE89370400440{i:09d}",
              "payout_item_id": None} for i in range(n)]
    total = sum(it["amount_minor"] for it in items)
    with get_engine(db_url).begin() as conn:
        conn.execute(sa.insert(PayoutBatch.__table__), [{
            "provider_batch_id": PBID, "tenant_id": TENANT, "window_id": WINDOW, "output_digest": DIGEST,
            "rail": "pain001", "payment_info_id": PMTINF, "currency": CCY, "execution_date": DAY,
            "created_at": "2025-09-23T21:00:00Z", "ctrl_sum_minor": total, "n_items": n, "sha256": "b" * 64,
            "location": None, "attempt": 1}])
        for k in range(0, n, 50_000):
            conn.execute(sa.insert(PayoutBatchItem.__table__), items[k:k + 50_000])
    common = dict(provider="bank", format="camt054", direction="DBIT", status="BOOK", reason=None, booked_at=DAY,
                  raw_sha256=SHA, booking_date=DAY, value_date=DAY, account="CH9300762011623852957",
                  window_ref=None, currency=CCY, fee_minor=0, batch_ref=PMTINF)
    receipts = [Receipt(kind=BOOKING, level="BATCH", provider_ref=PMTINF, end_to_end_id=None, payee_ref=None,
                        amount_minor=total, source="n.xml:18", line=18, seq=0, n_txs=n, bank_ref=f"B{PBID}"[:35],
                        **common)]
    receipts += [Receipt(kind=DETAIL, level="TX", provider_ref=None, end_to_end_id=it["end_to_end_id"],
                         payee_ref=it["payee_ref"], amount_minor=it["amount_minor"], source=f"n.xml:{30 + 17 * s}",
                         line=30 + 17 * s, seq=s, parent_seq=0, bank_ref=f"T{s:07d}{PBID}"[:35], **common)
                 for s, it in enumerate(items, 1)]
    out = persist.record_parse(ParseResult("n.xml", "camt054", SHA, receipts), ingested_at="2025-09-24T08:00:00Z",
                               tenant_id=TENANT, db_url=db_url)
    assert (out.status, out.n_receipts) == ("PROCESSED", n + 1)


@pytest.fixture
def db_url(vgos_home) -> str:
    return f"sqlite:///{vgos_home / 'recon.db'}"


@pytest.mark.slow
def test_260k_payee_window_on_sqlite(db_url):
    """260,000 payees (more than SQLite's 250,000 variables per statement): selected, matched and stored."""
    n = 260_000
    store_window(db_url, n)
    batches, items = persist.load_batch_frame(WINDOW, DIGEST, tenant_id=TENANT, db_url=db_url)
    assert items.height == n
    refs = {PBID} | {b["payment_info_id"] for b in batches}
    receipts = persist.window_receipt_frame(WINDOW, refs, items["end_to_end_id"], tenant_id=TENANT, db_url=db_url)
    assert receipts.height == n + 1
    result = reconcile_frames(WINDOW, DIGEST, batches, items, receipts, tenant_id=TENANT)  # as `vgos recon run`
    assert (result.n_expected, result.n_matched) == (n, n)
    assert result.fully_reconciled and not result.discrepancies and result.batches == {PBID: "MATCHED"}
    run_id, changed = persist.save_result(result, as_of="2025-09-24T09:00:00Z", db_url=db_url)
    assert changed
    with get_engine(db_url).connect() as conn:  # one segment of n matches, one per payee
        data = conn.execute(sa.text("select data from recon_match_segments where run_id = :r"), {"r": run_id}).one()
    stored = from_parquet(data[0])
    assert (stored.height, stored["end_to_end_id"].n_unique()) == (n, n)


def _max_bound_parameters(db_url: str, fn) -> tuple[object, int]:
    """Call fn(); the most bound parameters any single statement it ran on db_url carried."""
    most = [0]

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        rows = parameters if executemany else [parameters]
        most[0] = max([most[0]] + [len(p) for p in rows if p is not None])

    engine = get_engine(db_url)
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        out = fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return out, most[0]


def test_window_receipts_binds_few_parameters(db_url):
    n = 5_000
    store_window(db_url, n)
    batches = persist.load_batches(WINDOW, DIGEST, tenant_id=TENANT, db_url=db_url)
    receipts, most = _max_bound_parameters(
        db_url, lambda: persist.window_receipts(WINDOW, batches, tenant_id=TENANT, db_url=db_url))
    assert len(receipts) == n + 1
    assert 0 < most <= 1000, f"a statement bound {most} parameters for a {n}-item window"


def test_window_receipts_binds_few_parameters_for_foreign_ids(db_url):
    """EndToEndIds VGOS did not mint (no window prefix) must not cost one SQL variable each either."""
    n = 5_000
    store_window(db_url, n, e2e=lambda i: f"PSP-{i:08d}")
    batches = persist.load_batches(WINDOW, DIGEST, tenant_id=TENANT, db_url=db_url)
    receipts, most = _max_bound_parameters(
        db_url, lambda: persist.window_receipts(WINDOW, batches, tenant_id=TENANT, db_url=db_url))
    assert len(receipts) == n + 1
    assert 0 < most <= 1000, f"a statement bound {most} parameters for a {n}-item window"


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_window_before_its_statement_is_linear():
    """No receipt yet for 260,000 payouts: every one is MISSING_RECEIPT, in linear time (seconds, not minutes)."""
    n = 260_000
    items = [{"end_to_end_id": vgos_e2e(i), "principal_id": f"P{i:09d}", "amount_minor": amount(i),
              "currency": CCY, "payee_ref": None} for i in range(n)]
    batch = {"provider_batch_id": PBID, "payment_info_id": PMTINF, "ctrl_sum_minor": sum(amount(i) for i in range(n)),
             "currency": CCY, "execution_date": DAY, "items": items}
    result = reconcile(WINDOW, DIGEST, None, [batch], [], tenant_id=TENANT)
    assert result.n_matched == 0 and result.by_type()["MISSING_RECEIPT"] == n
