"""Broken or foreign PSP files are quarantined whole (reason code + line, nothing imported); edited footers flag."""

from __future__ import annotations

import pytest

from connectors.psp.paypal_report import paypal_report_kind
from connectors.psp.psp_reports import CSV_PARSERS
from connectors.psp.reports import parse_bytes
from tests.conftest import FIXTURES

PSP = FIXTURES / "psp"
STRIPE = (PSP / "smashpig__Stripe__settlement_report.csv").read_bytes()
STL = (PSP / "smashpig__PayPal__stl.csv").read_bytes()
CONVERT = (PSP / "smashpig__PayPal__stl_payout_currency_convert.csv").read_bytes()
TRR = (PSP / "smashpig__PayPal__trr_express_checkout_donation.csv").read_bytes()
ADYEN = (PSP / "smashpig__Adyen__settlement_detail_report_donation.csv").read_bytes()
ACCOUNTING = (PSP / "smashpig__Adyen__payments_accounting_report_chargeback.csv").read_bytes()
CHECKOUT = next(PSP.glob("smashpig__CheckoutCom__payouts_*.csv")).read_bytes()


def _cut_after(data: bytes, marker: bytes, keep: int) -> bytes:
    """The file truncated `keep` bytes into the row that starts with `marker` (a transfer that stopped early)."""
    return data[: data.index(marker) + keep]


CASES = [
    # truncated: the last row stops after some fields / inside a quoted field
    ("stripe", STRIPE[:-30], "REPORT_MALFORMED", 8),
    ("paypal-stl", _cut_after(CONVERT, b'"SB","1TH20"', 40), "REPORT_MALFORMED", 4),
    ("paypal-stl", _cut_after(CONVERT, b'"SB","1TH20"', 17), "REPORT_MALFORMED", 4),
    ("adyen-settlement", _cut_after(ADYEN, b"Wikimedia,WikimediaCOM,,", 60), "REPORT_MALFORMED", 3),
    # wrong column count
    ("adyen-settlement", ADYEN.replace(b"visadebit,", b"visadebit,extra,"), "REPORT_MALFORMED", 2),
    ("paypal-trr", TRR.replace(b'"Express Checkout",', b""), "REPORT_MALFORMED", 2),
    ("stripe", STRIPE.replace(b"txn_003,", b"txn_003,,"), "REPORT_MALFORMED", 4),
    # a negative amount where the format gives the direction in another column
    ("paypal-stl", STL.replace(b'"CR",5200,"AUD"', b'"CR",-5200,"AUD"'), "AMOUNT_INVALID", 3),
    ("paypal-stl", STL.replace(b'"DR",225,"AUD"', b'"DR",-225,"AUD"'), "AMOUNT_INVALID", 3),
    ("adyen-settlement", ADYEN.replace(b",0.76,,,0.02", b",-0.76,,,0.02"), "AMOUNT_INVALID", 2),
    ("adyen-settlement", ADYEN.replace(b",0.02,0.22,", b",-0.02,0.22,"), "AMOUNT_INVALID", 2),
    # amounts that are not exact in the currency
    ("paypal-trr", TRR.replace(b'15000,"JPY"', b'15050,"JPY"'), "AMOUNT_INVALID", 2),  # 150.50 yen
    ("paypal-stl", STL.replace(b'"CR",5200,"AUD"', b'"CR",52.00,"AUD"'), "AMOUNT_INVALID", 3),
    ("stripe", STRIPE.replace(b"USD,25,0.95", b"USD,25,0.955"), "AMOUNT_INVALID", 2),
    # unknown currency
    ("stripe", STRIPE.replace(b"USD,25,0.95", b"ZZZ,25,0.95"), "CURRENCY_INVALID", 2),
    ("paypal-stl", STL.replace(b'834,"GBP"', b'834,"ZZZ"'), "CURRENCY_INVALID", 5),
    ("paypal-stl", STL.replace(b'"SF","AUD"', b'"SF","ZZZ"'), "CURRENCY_INVALID", 9),
    ("adyen-settlement", ADYEN.replace(b"USD,,0.76,,", b"ZZZ,,0.76,,"), "CURRENCY_INVALID", 2),
    # a file of another format
    ("adyen-settlement", ACCOUNTING, "FORMAT_MISMATCH", 1),
    ("adyen-settlement", CHECKOUT, "FORMAT_MISMATCH", 1),
    ("adyen-settlement", STRIPE, "FORMAT_MISMATCH", 1),
    ("stripe", ADYEN, "FORMAT_MISMATCH", 1),
    ("stripe", STL, "FORMAT_MISMATCH", 1),
    ("paypal-stl", STRIPE, "FORMAT_MISMATCH", 1),
    ("paypal-trr", STL, "FORMAT_MISMATCH", 2),  # a Settlement report has no Transactional Status column
    ("paypal-stl", b"", "FORMAT_MISMATCH", 1),
    ("stripe", b"", "REPORT_EMPTY", 1),
    # broken structure
    ("paypal-stl", STL.replace(b'"CH",', b'"XX",'), "REPORT_SCHEMA", 2),
    ("paypal-stl", STL.replace(b"T1107", b"REFUND"), "REPORT_SCHEMA", 6),
    ("paypal-stl", STL.replace(b'T1107,2026/01/06 23:31:39 -0800,2026/01/06 23:31:39 -0800,DR',
                               b'T1107,2026/01/06 23:31:39 -0800,2026/01/06 23:31:39 -0800,XX'), "REPORT_SCHEMA", 6),
    ("adyen-settlement", ADYEN.replace(b",,0.76,,,0.02", b",0.10,0.76,,,0.02"), "REPORT_SCHEMA", 2),
    ("stripe", b"\xff" + STRIPE, "REPORT_MALFORMED", 1),
]


@pytest.mark.parametrize(("fmt", "data", "code", "line"), CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_broken_files_are_quarantined_whole(fmt, data, code, line):
    res = parse_bytes(fmt, data, "bad.csv")
    assert res.receipts == [] and res.flags == []
    (q,) = res.quarantined
    assert (q.reason_code, q.line) == (code, line), q.reason
    assert q.reason and q.path == "bad.csv" and q.format == fmt


def test_quarantine_reason_names_the_report_it_really_is():
    assert "payments accounting report" in parse_bytes("adyen-settlement", ACCOUNTING, "a.csv").quarantined[0].reason
    assert "Checkout.com" in parse_bytes("adyen-settlement", CHECKOUT, "c.csv").quarantined[0].reason
    assert "parse it as paypal-stl" in parse_bytes("paypal-trr", STL, "s.csv").quarantined[0].reason


def test_paypal_edited_footer_flags_the_whole_file():
    """lines 6-7 of the currency-convert STL agree with its body; one digit changed in RF USD and it does not."""
    clean = parse_bytes("paypal-stl", CONVERT, "c.csv")
    assert clean.flags == [] and {r.flagged for r in clean.receipts} == {None}
    res = parse_bytes("paypal-stl", CONVERT.replace(b'"RF","USD",12000,', b'"RF","USD",12001,'), "c.csv")
    assert res.quarantined == [] and len(res.receipts) == 3
    (flag,) = res.flags
    assert (flag.reason_code, flag.line, flag.seqs) == ("PAYPAL_FOOTER_MISMATCH", 6, None)
    assert "Total Gross Amount Credit 12001 (120.01 USD) but the SB rows sum to 12000 (120.00 USD)" in flag.detail
    assert {r.flagged for r in res.receipts} == {"PAYPAL_FOOTER_MISMATCH"}


@pytest.mark.parametrize(("tail", "needle"), [
    (b'"SC",4\n', "record count 4 but there are 3 SB rows"),
    (b'"RC",2\n', "record count 2 but there are 3 SB rows"),
    (b'"FF",9\n', "record count 9 but there are 3 SB rows"),
])
def test_paypal_edited_counts_flag_the_file(tail, needle):
    res = parse_bytes("paypal-stl", CONVERT + b"\n" + tail, "c.csv")
    (flag,) = res.flags
    assert flag.reason_code == "PAYPAL_FOOTER_MISMATCH" and needle in flag.detail
    assert parse_bytes("paypal-stl", CONVERT + b"\n" + b'"SC",3\n"RC",3\n"FF",3\n', "c.csv").flags == []


def test_paypal_footer_missing_a_body_currency_flags_the_file():
    res = parse_bytes("paypal-stl", CONVERT.replace(b'"RF","USD"', b'"RF","EUR"'), "c.csv")
    details = [f.detail for f in res.flags]
    assert any("no RF row for USD" in d for d in details) and any(d.startswith("RF EUR") for d in details)


def test_paypal_continuation_file_skips_report_totals_it_cannot_see():
    """File 2 of a split report: its RF sums earlier files too, so only what this file holds is checked."""
    data = b'"FH",02\n' + CONVERT.replace(b'"RF","USD",12000,', b'"RF","USD",99999,')
    res = parse_bytes("paypal-stl", data, "c.csv")
    assert res.quarantined == [] and res.flags == []


def test_adyen_row_whose_net_is_not_gross_minus_fees_is_flagged():
    res = parse_bytes("adyen-settlement", ADYEN.replace(b",0.76,,,0.02", b",0.77,,,0.02"), "a.csv")
    assert [(f.reason_code, f.seqs) for f in res.flags] == [("ADYEN_GROSS_MISMATCH", (0,)),
                                                           ("ADYEN_BATCH_MISMATCH", (0, 1))]
    assert "gross 1.00 - fees 0.24 = 0.76 USD, but net is 0.77" in res.flags[0].detail


def test_csv_parsers_registry():
    assert set(CSV_PARSERS) == {"stripe", "paypal-stl", "paypal-trr", "adyen-settlement"}
    assert all(callable(p) and p.__doc__ for p in CSV_PARSERS.values())


@pytest.mark.parametrize(("data", "kind"), [(STL, "paypal-stl"), (CONVERT, "paypal-stl"), (TRR, "paypal-trr"),
                                            (b'"RH",x\n"FH",01\n' + TRR, "paypal-trr"), (STRIPE, None),
                                            (ADYEN, None)])
def test_paypal_report_kind(data, kind):
    assert paypal_report_kind(data) == kind
