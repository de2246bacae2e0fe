"""Matching: the demo batch reconciles fully; each kind of difference is classified."""

from __future__ import annotations

import random
from dataclasses import replace

from connectors.psp.camt054 import camt054_for_batch
from connectors.psp.reports import parse_bytes
from recon.match import reconcile
from tests.recon.demo import DECISIONS, DIGEST, WINDOW, debtor, demo_batch, pain002_for


def camt(batch, **kw):
    data = camt054_for_batch(batch, debtor_iban=debtor()["iban"], booked_on="2025-09-24",
                             created_at="2025-09-24T08:00:00Z", **kw)
    return parse_bytes("camt054", data, "camt054.xml").receipts


def run(batch, receipts, **kw):
    return reconcile(WINDOW, DIGEST, DECISIONS, [batch], receipts, **kw)


def types(res):
    return sorted(d.type for d in res.discrepancies)


def test_camt054_for_the_batch_reconciles_fully():
    batch = demo_batch()
    res = run(batch, camt(batch))
    assert res.fully_reconciled and res.matched_ppm == 1_000_000 and res.discrepancies == []
    assert res.batches == {batch.provider_batch_id: "MATCHED"}
    assert {m.principal_id for m in res.matches} == {"CRE-0001", "CRE-0003"}


def test_altered_amount_is_amount_mismatch():
    batch = demo_batch()
    e2e = batch.items[0].end_to_end_id
    res = run(batch, camt(batch, amount_overrides={e2e: 381}))
    # the line differs, and so does the batch debit (the bank booked the lines it paid)
    assert types(res) == ["AMOUNT_MISMATCH", "PROVIDER_TOTALS_MISMATCH"]
    d = res.discrepancies[0]
    assert (d.subject, d.expected_minor, d.actual_minor, d.severity) == (e2e, 380, 381, "CRITICAL")
    assert res.batches[batch.provider_batch_id] == "PARTIAL"


def test_tolerance_is_configurable_and_exact_by_default():
    batch = demo_batch()
    rec = camt(batch, amount_overrides={batch.items[0].end_to_end_id: 381})
    assert run(batch, rec, amount_tolerance_minor=1).fully_reconciled
    assert not run(batch, rec).fully_reconciled


def test_missing_entry_is_missing_receipt():
    batch = demo_batch()
    res = run(batch, camt(batch, omit=[batch.items[1].end_to_end_id]))
    assert types(res) == ["MISSING_RECEIPT", "PROVIDER_TOTALS_MISMATCH"]
    assert res.discrepancies[0].principal_id == "CRE-0003"


def test_extra_entry_is_external_only():
    batch = demo_batch()
    res = run(batch, camt(batch, extra=[{"end_to_end_id": "UNKNOWN-1", "amount_minor": 275,
                                         "payee_ref": "FR1420041010050500013M02606"}]))
    assert types(res) == ["EXTERNAL_ONLY", "PROVIDER_TOTALS_MISMATCH"] and res.discrepancies[0].actual_minor == 275
    assert res.n_matched == 2


def test_rjct_pain002_is_returned():
    batch = demo_batch()
    e2e = batch.items[1].end_to_end_id
    sts = parse_bytes("pain002", pain002_for(batch, {e2e: ("RJCT", "AC04"), batch.items[0].end_to_end_id:
                                                     ("ACSC", None)}), "pain002.xml").receipts
    res = run(batch, sts + camt(batch, omit=[e2e]))
    assert types(res) == ["RETURNED"]  # the batch debit is checked against the lines that were not rejected
    assert res.discrepancies[0].subject == e2e and "AC04" in res.discrepancies[0].detail
    assert res.outcomes[e2e] == "FAILED"


def test_duplicate_currency_fee_and_totals():
    batch = demo_batch()
    rec = camt(batch)
    tx = [r for r in rec if r.level == "TX"]
    copy = replace(tx[0], raw_sha256="0" * 64, seq=99)  # the same booking (bank reference) in another file
    assert types(run(batch, rec + [copy])) == []
    again = replace(copy, bank_ref="OTHER", booking_date="2025-09-26")  # a second, separate debit
    assert types(run(batch, rec + [again])) == ["DUPLICATE_PAYMENT"]
    eur = [replace(r, currency="EUR") if r is tx[0] else r for r in rec]
    assert "CURRENCY_MISMATCH" in types(run(batch, eur))
    net = [replace(r, amount_minor=370, fee_minor=10) if r is tx[0] else r for r in rec]
    res = run(batch, net)  # paid net of a reported fee: settled, and the fee is an expense
    assert res.outcomes[tx[0].end_to_end_id] == "SETTLED" and [f.amount_minor for f in res.fees] == [10]
    feecheck = run(batch, rec, expected_fee_minor=5)
    assert types(feecheck) == ["FEE_MISMATCH", "FEE_MISMATCH"]
    bad_total = [replace(r, amount_minor=900) if r.level == "BATCH" else r for r in rec]
    assert types(run(batch, bad_total)) == ["PROVIDER_TOTALS_MISMATCH"]


def test_one_bank_entry_for_many_payees_matches_by_batch_total():
    batch = demo_batch()
    only_total = [r for r in camt(batch) if r.level == "BATCH"]
    res = run(batch, only_total)
    assert res.fully_reconciled and {m.method for m in res.matches} == {"batch_total"}
    short = [replace(only_total[0], amount_minor=835)]
    assert types(run(batch, short)) == ["MISSING_RECEIPT", "MISSING_RECEIPT", "PROVIDER_TOTALS_MISMATCH"]
    pending = [replace(only_total[0], booking="PENDING")]
    assert run(batch, pending).outcomes == {i.end_to_end_id: "PENDING" for i in batch.items}


def test_payee_amount_date_when_no_end_to_end_id():
    batch = demo_batch()
    rec = [replace(r, end_to_end_id=None, batch_ref=None) for r in camt(batch) if r.level == "TX"]
    res = run(batch, rec)
    assert res.fully_reconciled and {m.method for m in res.matches} == {"payee_amount_date"}
    late = [replace(r, booked_at="2025-11-30", booking_date="2025-11-30") for r in rec]
    assert types(run(batch, late)).count("MISSING_RECEIPT") == 2


def test_deterministic_regardless_of_receipt_order():
    batch = demo_batch()
    rec = camt(batch, extra=[{"end_to_end_id": "X", "amount_minor": 1}])
    a = run(batch, rec).result_digest
    random.Random(7).shuffle(rec)
    assert run(batch, rec).result_digest == a


def test_batch_item_not_backed_by_allow_decision_is_flagged():
    batch = demo_batch()
    decisions = [{**d, "decision": "HOLD"} if d["principal_id"] == "CRE-0003" else d for d in DECISIONS]
    res = reconcile(WINDOW, DIGEST, decisions, [batch], camt(batch))
    assert [d.principal_id for d in res.discrepancies] == ["CRE-0003"]
