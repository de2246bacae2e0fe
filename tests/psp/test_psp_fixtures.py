"""Every real PSP sample read by hand: each receipt's amount, direction, kind, references and flags are pinned.

Files: /work/shared/fixtures/psp (provenance in ../SOURCES.md). Line numbers below are 1-based file lines.
PayPal amounts follow PayPal's STL/TRR specifications: unsigned integers with two implied decimals in every
currency ("100,00 yen and $100.00 USD are both represented as 10000"), converted exactly to ISO minor units.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from connectors.psp.paypal_report import paypal_report_kind
from connectors.psp.receipts import Receipt
from connectors.psp.reports import ParseResult, parse_bytes, parse_report
from tests.conftest import FIXTURES

PSP = FIXTURES / "psp"


def _parse(name: str, fmt: str) -> ParseResult:
    res = parse_report(fmt, PSP / name)
    assert res.quarantined == [], res.quarantined
    for i, r in enumerate(res.receipts):
        assert r.seq == i and r.source == f"{name}:{r.line}" and r.raw_sha256 == res.raw_sha256
    return res


def _kinds(rs: list[Receipt]) -> Counter:
    return Counter((r.kind, r.level) for r in rs)


def _money(r: Receipt) -> tuple:
    return r.amount_minor, r.currency, r.direction, r.fee_minor


# ---------------------------------------------------------------------------------------------------- Stripe


def test_stripe_settlement_report():
    res = _parse("smashpig__Stripe__settlement_report.csv", "stripe")
    rs = res.receipts
    assert [r.line for r in rs] == [2, 3, 4, 5, 6, 7, 8]
    assert _kinds(rs) == {("BOOKING", "TX"): 4, ("FEE", "TX"): 2, ("BOOKING", "BATCH"): 1}
    charge, refund, charge2, fee1, fee2, dispute_rev, payout = rs
    # line 2: charge, gross 25 USD, fee 0.95 (charged on top of gross: net 24.05), source_id ch_123
    assert _money(charge) == (2500, "USD", "CRDT", 95)
    assert (charge.kind, charge.status, charge.bank_ref, charge.provider_ref) == ("BOOKING", "charge", "txn_001",
                                                                               "ch_123")
    assert (charge.batch_ref, charge.booking, charge.reversal, charge.fee_included) == ("po_test123", "BOOKED",
                                                                                       False, False)
    # line 2: created 2026-01-30 10:11:12 (report time zone, no _utc column), available_on 2026-01-30
    assert (charge.booked_at, charge.booking_date, charge.value_date) == ("2026-01-30T10:11:12", "2026-01-30",
                                                                          "2026-01-30")
    # payment_metadata[external_identifier] is the sender's own key, not VGOS's end_to_end_id metadata
    assert all(r.end_to_end_id is None and r.window_ref is None and r.payee_ref is None for r in rs)
    # line 3: refund, gross -10: money left the balance; customer money, an ordinary booking (not a payout return)
    assert _money(refund) == (1000, "USD", "DBIT", 0)
    assert (refund.status, refund.provider_ref, refund.reversal, refund.return_code) == ("refund", "re_123", False,
                                                                                         None)
    # line 4: charge, gross 10, fee 0
    assert _money(charge2) == (1000, "USD", "CRDT", 0) and charge2.bank_ref == "txn_003"
    # lines 5 and 6: reporting_category fee, gross -0.5 each: FEE rows, not dropped
    assert [(_money(f), f.kind, f.bank_ref) for f in (fee1, fee2)] == [
        ((50, "USD", "DBIT", 0), "FEE", "txn_fee_01"), ((50, "USD", "DBIT", 0), "FEE", "txn_fee_03")]
    # line 7: dispute_reversal, gross 3.35, currency written "usd"
    assert _money(dispute_rev) == (335, "USD", "CRDT", 0)
    assert (dispute_rev.kind, dispute_rev.status, dispute_rev.batch_ref) == ("BOOKING", "dispute_reversal", None)
    # line 8: payout po_123 (source_id), gross 24, fee 0, net 23.05. Lines 2-6 sum to gross 24 and net 23.05:
    # the row copies both sums but its fee should be 0.95, and a payout's gross must be negative.
    assert (payout.level, payout.status, payout.batch_ref, payout.bank_ref) == ("BATCH", "payout", "po_123",
                                                                                "txn_005")
    assert _money(payout) == (2400, "USD", "CRDT", 0)
    assert [(f.reason_code, f.line, f.seqs) for f in res.flags] == [("STRIPE_NET_MISMATCH", 8, (6,)),
                                                                    ("STRIPE_SIGN_MISMATCH", 8, (6,))]
    assert "24.00 - fee 0.00 = 24.00 USD, but net is 23.05" in res.flags[0].detail
    assert payout.flagged == "STRIPE_NET_MISMATCH"
    assert [r.flagged for r in rs[:6]] == [None] * 6


def test_stripe_settlement_report_with_customer_data():
    res = _parse("smashpig__Stripe__settlement_report_with_customer_data.csv", "stripe")
    rs = res.receipts
    assert res.flags == [] and [r.line for r in rs] == [2, 3, 4]
    assert _kinds(rs) == {("BOOKING", "TX"): 2, ("FEE", "TX"): 1}
    # line 2: charge 25 USD fee 0.95; line 3: charge 10 USD (ch_456); line 4: fee -0.5
    assert [(_money(r), r.kind, r.bank_ref, r.provider_ref) for r in rs] == [
        ((2500, "USD", "CRDT", 95), "BOOKING", "txn_001", "ch_123"),
        ((1000, "USD", "CRDT", 0), "BOOKING", "txn_002", "ch_456"),
        ((50, "USD", "DBIT", 0), "FEE", "txn_fee_01", "txn_fee_01")]
    assert {r.batch_ref for r in rs} == {"po_test123"}  # automatic_payout_id
    # customer_name / customer_email / address columns (Homer Simpson, cher@example.com) are not carried
    dumped = repr([r.to_dict() for r in rs])
    assert "Homer" not in dumped and "example.com" not in dumped and "Evergreen" not in dumped


STRIPE_HEADER = (PSP / "smashpig__Stripe__settlement_report.csv").read_bytes().split(b"\n", 1)[0].decode()
VGOS_COLS = "transfer_metadata[end_to_end_id],transfer_metadata[provider_batch_id],transfer_metadata[window_id]," \
            "connected_account_id,payout_status"


def _stripe_row(bt: str, source: str, gross: str, net: str, category: str, extra: str) -> str:
    """A row of the real report's layout (27 columns) plus the metadata VGOS puts on its transfers."""
    cols = [bt, "", "", "", "", "", source, "", "", "2026-02-02 09:00:00", "2026-02-02 00:00:00", "", "EUR", gross,
            "0", net, category, "", "", "", "", "", "", "", "", "", ""]
    return ",".join(cols) + "," + extra


def test_stripe_vgos_transfer_and_its_reversal_on_the_real_layout():
    """The rows a VGOS payout produces (connectors/psp/stripe.py metadata) map back to its EndToEndId and batch."""
    data = "\n".join([
        STRIPE_HEADER + "," + VGOS_COLS,
        _stripe_row("txn_t1", "tr_1", "-12.34", "-12.34", "transfer", "E2E-1,PB-9,W-7,acct_payee1,"),
        _stripe_row("txn_t2", "trr_1", "12.34", "12.34", "transfer_reversal", "E2E-1,PB-9,W-7,acct_payee1,"),
        _stripe_row("txn_p1", "po_9", "-50.00", "-50.00", "payout", ",,,,in_transit"),
        _stripe_row("txn_p2", "po_8", "-5.00", "-5.00", "payout", ",,,,failed"),
    ]).encode() + b"\n"
    res = parse_bytes("stripe", data, "vgos.csv")
    assert res.quarantined == [] and res.flags == []
    transfer, back, pending, failed = res.receipts
    assert _money(transfer) == (1234, "EUR", "DBIT", 0)
    assert (transfer.end_to_end_id, transfer.batch_ref, transfer.window_ref, transfer.payee_ref) == (
        "E2E-1", "PB-9", "W-7", "acct_payee1")
    assert (transfer.kind, transfer.level, transfer.reversal, transfer.provider_ref) == ("BOOKING", "TX", False,
                                                                                         "tr_1")
    # the old reader turned a transfer_reversal into an ordinary incoming booking
    assert _money(back) == (1234, "EUR", "CRDT", 0)
    assert (back.reversal, back.return_code, back.end_to_end_id, back.status) == (True, "transfer_reversal",
                                                                                  "E2E-1", "transfer_reversal")
    assert (pending.level, pending.booking, pending.batch_ref) == ("BATCH", "PENDING", "po_9")
    assert (failed.kind, failed.reversal, failed.return_code) == ("STATUS", True, "failed")


# ---------------------------------------------------------------------------------------------------- PayPal


def test_paypal_stl():
    res = _parse("smashpig__PayPal__stl.csv", "paypal-stl")
    rs = res.receipts
    assert [r.line for r in rs] == [3, 4, 5, 6, 7] and {r.format for r in rs} == {"paypal-stl"}
    assert _kinds(rs) == {("BOOKING", "TX"): 4, ("BOOKING", "BATCH"): 1}
    a1, a2, g1, g_refund, g_withdrawal = rs
    assert {r.account for r in rs} == {"EZ782AXEUJUW8"}  # line 1, SH row: account ID
    # line 3, SB 5678 T0006: Gross Transaction Amount 5200 AUD (2 implied decimals) = 52.00 = 5200 cents;
    # Fee Amount 225 "DR" = 2.25 AUD
    assert _money(a1) == (5200, "AUD", "CRDT", 225)
    assert (a1.status, a1.bank_ref, a1.provider_ref, a1.end_to_end_id) == ("T0006", "5678", "5678", "2444.1")
    assert (a1.booked_at, a1.booking_date) == ("2026-01-06T00:00:30-08:00", "2026-01-06")
    assert (a1.batch_ref, a1.reversal, a1.booking, a1.fee_included) == (None, False, "BOOKED", False)
    # line 4, SB 6789 T0006: 535 AUD = 5.35, fee 75 DR = 0.75
    assert _money(a2) == (535, "AUD", "CRDT", 75) and a2.end_to_end_id == "2443.1"
    # line 5, SB 68C7 T0003: 834 GBP = 8.34, fee 87 DR; Invoice ID 2213.15 wins over Custom Field
    assert _money(g1) == (834, "GBP", "CRDT", 87) and g1.end_to_end_id == "2213.15"
    # line 6, SB 6899 T1107 (payment refund by the merchant): DR 134 GBP, fee 47 CR (fee given back)
    assert _money(g_refund) == (134, "GBP", "DBIT", 47)
    assert (g_refund.reversal, g_refund.return_code, g_refund.payee_ref) == (True, "T1107", "AZVDZ")
    # line 7, SB 3MG88942N0662370U T0400 (withdrawal to the bank): DR 100 GBP, Bank Reference ID 1047428557493
    assert _money(g_withdrawal) == (100, "GBP", "DBIT", 0)
    assert (g_withdrawal.level, g_withdrawal.batch_ref, g_withdrawal.reversal) == ("BATCH", "1047428557493", False)
    # Footers vs SB rows (fields 3-6: gross credit, gross debit, fee credit, fee debit):
    # GBP body: gross CR 834, gross DR 134 + 100 = 234, fee CR 47, fee DR 87;
    #   lines 8 (SF) and 10 (RF) say 834, 134, 87, 47: the T0400 withdrawal is missing, fee CR/DR are swapped.
    # AUD body: gross CR 5200 + 535 = 5735, DR 0, fee CR 0, fee DR 225 + 75 = 300;
    #   lines 9 (SF) and 11 (RF) say 5735, 0, 300, 600.
    assert [(f.reason_code, f.line, f.seqs) for f in res.flags] == [
        ("PAYPAL_FOOTER_MISMATCH", n, None) for n in (8, 9, 10, 11)]
    sf_gbp, sf_aud, rf_gbp, rf_aud = (f.detail for f in res.flags)
    assert "Total Gross Amount Debit 134 (1.34 GBP) but the SB rows sum to 234 (2.34 GBP)" in sf_gbp
    assert "Total Fee Amount Credit 87 (0.87 GBP) but the SB rows sum to 47" in sf_gbp
    assert "Total Fee Amount Debit 47 (0.47 GBP) but the SB rows sum to 87" in sf_gbp
    assert "Gross Amount Credit" not in sf_gbp  # 834 agrees
    assert "Total Fee Amount Credit 300 (3.00 AUD) but the SB rows sum to 0" in sf_aud
    assert "Total Fee Amount Debit 600 (6.00 AUD) but the SB rows sum to 300" in sf_aud
    assert "Gross Amount" not in sf_aud  # 5735 and 0 agree
    assert rf_gbp.startswith("RF GBP") and rf_aud.startswith("RF AUD")
    assert {r.flagged for r in rs} == {"PAYPAL_FOOTER_MISMATCH"}  # the whole file cannot confirm anything


def test_paypal_stl_payout_currency_convert():
    res = _parse("smashpig__PayPal__stl_payout_currency_convert.csv", "paypal-stl")
    rs = res.receipts
    assert [r.line for r in rs] == [3, 4, 5]
    assert _kinds(rs) == {("BOOKING", "TX"): 3}
    payment, aud_out, usd_in = rs
    # line 3, SB 6KT099 T0006: CR 20000 AUD = 200.00; fee 0 (DR); Invoice ID 244.1
    assert _money(payment) == (20000, "AUD", "CRDT", 0)
    assert (payment.end_to_end_id, payment.bank_ref, payment.instructed_minor) == ("244.1", "6KT099", None)
    # lines 4 and 5, T0201 (user-initiated currency conversion), each naming the other in PayPal Reference ID:
    # DR 10000 AUD (100.00) became CR 12000 USD (120.00); each leg carries the other as the instructed amount
    assert _money(aud_out) == (10000, "AUD", "DBIT", 0) and _money(usd_in) == (12000, "USD", "CRDT", 0)
    assert (aud_out.instructed_minor, aud_out.instructed_currency) == (12000, "USD")
    assert (usd_in.instructed_minor, usd_in.instructed_currency) == (10000, "AUD")
    assert (aud_out.status, aud_out.reversal, aud_out.end_to_end_id) == ("T0201", False, None)
    # lines 6-7, RF rows: USD 12000/0/0/0 and AUD 20000/10000/0/0 equal the SB sums: not flagged.
    # (Their balance fields, e.g. USD 70039.51 -> 844338.80, are not checked against activity.)
    assert res.flags == [] and {r.flagged for r in rs} == {None}


def test_paypal_trr_express_checkout_donation():
    name = "smashpig__PayPal__trr_express_checkout_donation.csv"
    assert paypal_report_kind((PSP / name).read_bytes()) == "paypal-trr"  # CH names Transactional Status
    res = _parse(name, "paypal-trr")
    (r,) = res.receipts
    assert res.flags == [] and r.line == 2 and r.format == "paypal-trr"
    # line 2, SB T0006: Gross Transaction Amount 15000 JPY (two implied decimals: 150.00 JPY) = 150 yen, JPY has
    # no minor unit; Fee Amount 4300 DR = 43 yen (SmashPig's own test reads gross 150.0 / fee 43.0)
    assert _money(r) == (150, "JPY", "CRDT", 43)
    # Transactional Status S (success): booked; Invoice ID 46239229.1; Transaction ID 1V551844CE5526421
    assert (r.kind, r.level, r.booking, r.reversal, r.status) == ("BOOKING", "TX", "BOOKED", False, "T0006")
    assert (r.end_to_end_id, r.bank_ref, r.batch_ref, r.payee_ref) == ("46239229.1", "1V551844CE5526421", None, None)
    assert (r.booked_at, r.booking_date) == ("2017-03-02T09:59:55-08:00", "2017-03-02")
    # detect_format still says paypal-stl for every CH-first file; read under that name it is the same TRR
    same = _parse(name, "paypal-stl").receipts
    assert [(x.format, _money(x)) for x in same] == [("paypal-trr", (150, "JPY", "CRDT", 43))]


TRR = (PSP / "smashpig__PayPal__trr_express_checkout_donation.csv").read_bytes()


@pytest.mark.parametrize(("status", "kind", "booking", "reversal", "code"), [
    ("P", "BOOKING", "PENDING", False, None),   # pending: not final on the balance
    ("V", "BOOKING", "BOOKED", True, "V"),      # reversed
    ("D", "STATUS", "BOOKED", True, "D"),       # denied: no money moved
    ("F", "BOOKING", "BOOKED", False, None),    # partially refunded: the payment itself stands
])
def test_paypal_trr_transactional_status(status, kind, booking, reversal, code):
    (r,) = parse_bytes("paypal-trr", TRR.replace(b'"JPY","S"', f'"JPY","{status}"'.encode()), "t.csv").receipts
    assert (r.kind, r.booking, r.reversal, r.return_code) == (kind, booking, reversal, code)


def test_paypal_amounts_scale_to_each_currency_exactly():
    """Two implied decimals, then the ISO exponent: the same 15000 is 150 yen, 150.00 USD, 150.000 BHD."""
    got = {}
    for ccy in ("JPY", "USD", "BHD"):
        (r,) = parse_bytes("paypal-trr", TRR.replace(b'"JPY"', f'"{ccy}"'.encode()), "t.csv").receipts
        got[ccy] = (r.amount_minor, r.fee_minor)
    assert got == {"JPY": (150, 43), "USD": (15000, 4300), "BHD": (150000, 43000)}


STL = (PSP / "smashpig__PayPal__stl.csv").read_bytes()
STL_HEAD = b"\n".join(STL.split(b"\n")[:2])  # the real SH and CH rows (21 columns)


def test_paypal_vgos_payout_return_and_batch_fee_on_the_real_layout():
    """A Payouts item (T0001), its batch fee (T0104) and its return as unclaimed (T1114), in the real STL layout."""
    rows = [
        b'"SB","PAYITEM1","E2E-1","BATCH77","","T0001",2026/01/06 10:00:00 -0800,2026/01/06 10:00:00 -0800,"DR",'
        b'1234,"EUR","",,"","","PAYEE1","","","",,,',
        b'"SB","FEE1","","BATCH77","","T0104",2026/01/06 10:00:00 -0800,2026/01/06 10:00:00 -0800,"DR",25,"EUR",'
        b'"",,"","","","","","",,,',
        b'"SB","RET1","E2E-1","PAYITEM1","TXN","T1114",2026/01/06 11:00:00 -0800,2026/01/06 11:00:00 -0800,"CR",'
        b'1234,"EUR","",,"","","PAYEE1","","","",,,',
        b'"SF","EUR",1234,1259,0,0,"CR",0,"CR",0,"CR",0,"CR",0,"CR",0,"CR",0,3',
        b'"SC",3',
    ]
    res = parse_bytes("paypal-stl", STL_HEAD + b"\n" + b"\n".join(rows) + b"\n", "vgos.csv")
    assert res.quarantined == [] and res.flags == []
    item, fee, ret = res.receipts
    assert _money(item) == (1234, "EUR", "DBIT", 0)
    assert (item.end_to_end_id, item.batch_ref, item.payee_ref, item.reversal) == ("E2E-1", "BATCH77", "PAYEE1", False)
    assert (fee.kind, _money(fee), fee.batch_ref) == ("FEE", (25, "EUR", "DBIT", 0), "BATCH77")
    assert (ret.reversal, ret.return_code, ret.direction, ret.end_to_end_id) == (True, "T1114", "CRDT", "E2E-1")
    assert ret.batch_ref is None  # its PayPal Reference ID is the item (TXN), not a batch


# ---------------------------------------------------------------------------------------------------- Adyen


def test_adyen_settlement_batch_238():
    res = _parse("oca-bsi__Adyen__settlement_detail_report_batch_238.csv", "adyen-settlement")
    rs = res.receipts
    assert [r.line for r in rs] == [2, 3, 4] and res.flags == []
    assert _kinds(rs) == {("BOOKING", "TX"): 2, ("FEE", "TX"): 1}
    opening, fee, closing = rs
    # line 2: Balancetransfer from batch 237, Net Credit (NC) 454331.99 EUR
    assert _money(opening) == (45433199, "EUR", "CRDT", 0)
    assert (opening.status, opening.batch_ref, opening.account) == ("Balancetransfer", "238", "YOURCOMPANY_ACCOUNT")
    # line 3: Fee "Transaction Fees March 01 2022", Net Debit (NC) 0.09 EUR
    assert (fee.kind, _money(fee), fee.status) == ("FEE", (9, "EUR", "DBIT", 0), "Fee")
    # line 4: Balancetransfer to batch 239, Net Debit (NC) 454331.90: the batch closes at 0 (99 - 9 - 90 cents)
    assert _money(closing) == (45433190, "EUR", "DBIT", 0)
    # no Psp Reference on these rows: no unique bank reference either (a made-up one would merge distinct rows)
    assert {r.bank_ref for r in rs} == {None} and {r.end_to_end_id for r in rs} == {None}
    # Creation Date 2022-02-22 00:24:23, TimeZone CET
    assert (opening.booked_at, opening.booking_date) == ("2022-02-22T00:24:23+01:00", "2022-02-22")
    assert all(r.fee_included for r in rs)


def test_adyen_settlement_donation():
    res = _parse("smashpig__Adyen__settlement_detail_report_donation.csv", "adyen-settlement")
    settled, payout = res.receipts
    assert res.flags == [] and _kinds(res.receipts) == {("BOOKING", "TX"): 1, ("BOOKING", "BATCH"): 1}
    # line 2: Settled, Gross Credit (GC) 1.00 USD, Net Credit (NC) 0.76, Scheme Fees 0.02 + Interchange 0.22 = 0.24
    # (1.00 - 0.24 = 0.76: the net already has the fees off)
    assert _money(settled) == (76, "USD", "CRDT", 24) and settled.fee_included
    assert (settled.bank_ref, settled.provider_ref, settled.end_to_end_id) == ("5364893193133131:Settled",
                                                                             "5364893193133131", "33992337.0")
    assert (settled.batch_ref, settled.reversal, settled.booked_at) == ("2", False, "2016-02-18T16:10:51-08:00")
    # line 3: MerchantPayout of batch 2, Net Debit (NC) 0.76 USD to the merchant's bank: one booking for the batch
    assert _money(payout) == (76, "USD", "DBIT", 0)
    assert (payout.level, payout.kind, payout.batch_ref, payout.bank_ref) == ("BATCH", "BOOKING", "2", None)
    assert payout.provider_ref.startswith("TX2342222277XT batch 2")


def test_adyen_settlement_invoice_deduction():
    res = _parse("smashpig__Adyen__settlement_detail_report_invoice_deduction.csv", "adyen-settlement")
    first, second = res.receipts
    assert res.flags == [] and _kinds(res.receipts) == {("FEE", "TX"): 2}
    # line 2: InvoiceDeduction (1/2), Net Debit (NC) 0.06 USD; fee columns Markup 0 + Payment Fees (NC) 0.14
    assert _money(first) == (6, "USD", "DBIT", 14)
    # Booking Date 2025-10-31 11:09:55 PDT is used over Creation Date 04:05:39
    assert (first.booked_at, first.booking_date, first.batch_ref) == ("2025-10-31T11:09:55-07:00", "2025-10-31",
                                                                     "1136")
    # line 3: InvoiceDeduction (2/2), Net Credit (NC) 0.03 USD
    assert _money(second) == (3, "USD", "CRDT", 0)
    assert [r.provider_ref for r in res.receipts] == [
        "Invoice US202510000533 Discounts and additional costs (1/2)",
        "Invoice US202510000533 Discounts and additional costs (2/2)"]
    # batch 1136 has no MerchantPayout or closing Balancetransfer in the file: still open, nothing to balance


def test_adyen_settlement_payment_cost():
    res = _parse("smashpig__Adyen__settlement_detail_report_payment_cost.csv", "adyen-settlement")
    cost, payout = res.receipts
    assert res.flags == [] and _kinds(res.receipts) == {("FEE", "TX"): 1, ("BOOKING", "BATCH"): 1}
    # line 2: PaymentCost PAYMENTCOSTPSP01, Net Credit (NC) 1.75 USD, Merchant Reference 12345678.1
    assert _money(cost) == (175, "USD", "CRDT", 0)
    assert (cost.bank_ref, cost.end_to_end_id, cost.account) == ("PAYMENTCOSTPSP01:PaymentCost", "12345678.1",
                                                                 "WikimediaDonations")
    # line 3: MerchantPayout batch 1300, Net Debit (NC) 1.75: 1.75 - 1.75 = 0, balanced
    assert _money(payout) == (175, "USD", "DBIT", 0) and (payout.level, payout.batch_ref) == ("BATCH", "1300")


def test_adyen_settlement_refund():
    res = _parse("smashpig__Adyen__settlement_detail_report_refund.csv", "adyen-settlement")
    refund, fee, payout = res.receipts
    assert _kinds(res.receipts) == {("BOOKING", "TX"): 1, ("FEE", "TX"): 1, ("BOOKING", "BATCH"): 1}
    # line 2: Refunded 4522268860022701, Gross Debit 1.00 = Net Debit (NC) 1.00 USD: undoes the earlier payment
    assert _money(refund) == (100, "USD", "DBIT", 0)
    assert (refund.reversal, refund.return_code, refund.bank_ref) == (True, "Refunded", "4522268860022701:Refunded")
    assert (refund.end_to_end_id, refund.provider_ref) == ("92598312.0", "4522268860022701")
    # line 3: Fee, Net Debit (NC) 1.80 USD
    assert (fee.kind, _money(fee), fee.reversal) == ("FEE", (180, "USD", "DBIT", 0), False)
    # line 4: MerchantPayout batch 3, Net Debit (NC) 4.03 USD
    assert _money(payout) == (403, "USD", "DBIT", 0) and payout.level == "BATCH"
    # the payout closes batch 3, yet the batch's rows net to -1.00 - 1.80 - 4.03 = -6.83 USD, not 0:
    # nothing in the file pays for the 4.03 payout (the sample was cut from a longer report)
    (flag,) = res.flags
    assert (flag.reason_code, flag.line, flag.seqs) == ("ADYEN_BATCH_MISMATCH", 4, (0, 1, 2))
    assert "-6.83 USD" in flag.detail
    assert {r.flagged for r in res.receipts} == {"ADYEN_BATCH_MISMATCH"}


@pytest.mark.parametrize("path", sorted(PSP.glob("*.csv")), ids=lambda p: p.name[:50])
def test_receipt_invariants_hold_for_every_sample(path: Path):
    for fmt in ("stripe", "paypal-stl", "paypal-trr", "adyen-settlement"):
        res = parse_bytes(fmt, path.read_bytes(), path.name)
        assert bool(res.receipts) != bool(res.quarantined)
        for r in res.receipts:
            assert isinstance(r.amount_minor, int) and r.amount_minor >= 0 and r.fee_minor >= 0
            assert r.direction in ("DBIT", "CRDT") and r.currency and len(r.currency) == 3
            assert r.kind in ("BOOKING", "FEE", "STATUS", "NOTICE") and r.level in ("TX", "BATCH")
            assert r.reversal == (r.return_code is not None)
