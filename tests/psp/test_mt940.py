"""MT940 statements → receipts: the real samples read by hand, structured :86: variants, quarantine and flags."""

from __future__ import annotations

import pytest

from connectors.psp.receipts import BOOKED, BOOKING, FEE, PENDING
from connectors.psp.reports import detect_format, parse_bytes
from tests.conftest import FIXTURES

ABNAMRO = FIXTURES / "mt940" / "wolph-mt940__jejik_abnamro.sta"
RAPHAELM = FIXTURES / "mt940" / "wolph-mt940__self-provided_raphaelm.sta"


def _parse(data: bytes, name: str = "t.sta"):
    return parse_bytes("mt940", data, name)


def test_abnamro_sample_receipts_and_unbalanced_statements():
    data = ABNAMRO.read_bytes()
    assert detect_format(data) == "mt940"
    res = _parse(data, ABNAMRO.name)
    assert res.quarantined == []
    rs = res.receipts
    # two statements (:20: on lines 4 and 32), 8 + 2 statement lines :61:, all debits ("D") in EUR
    assert [r.line for r in rs] == [8, 12, 14, 16, 18, 20, 23, 25, 36, 38]
    assert [r.seq for r in rs] == list(range(10))
    assert [r.amount_minor for r in rs] == [
        900,    # line 8:  D9,       (comma with no decimals = 9.00 EUR)
        1159,   # line 12: D11,59
        1163,   # line 14: D11,63
        1180,   # line 16: D11,8     (one decimal digit = 11.80)
        1345,   # line 18: D13,45
        1549,   # line 20: D15,49
        10700,  # line 23: D107,     (after a blank line 22)
        14148,  # line 25: D141,48
        949,    # line 36: D9,49     (second statement)
        1500,   # line 38: D15,
    ]
    assert {(r.kind, r.currency, r.direction, r.booking, r.reversal, r.return_code) for r in rs} == {
        (BOOKING, "EUR", "DBIT", BOOKED, False, None)}  # :60F:/:60M: currency EUR, mark D, MT940 = booked
    # transaction type code after the amount: N192 (ABN AMRO giro) on line 8, N426 (card payment, BEA) elsewhere
    assert [r.status for r in rs] == ["N192"] + ["N426"] * 9
    # :61: 110524 0524 → value date 2011-05-24, entry (booking) date 05-24; line 12: 110521 0523, ...
    assert [(r.value_date, r.booking_date) for r in rs[:4]] == [
        ("2011-05-24", "2011-05-24"), ("2011-05-21", "2011-05-23"), ("2011-05-23", "2011-05-23"),
        ("2011-05-22", "2011-05-23")]
    assert rs[0].booked_at == "2011-05-24" and rs[9].value_date == "2011-05-24"
    # customer reference NONREF, no //bank reference, free-text :86: (no EREF/IBAN structure): no references
    assert {(r.provider_ref, r.bank_ref, r.end_to_end_id, r.batch_ref, r.payee_ref) for r in rs} == {
        (None, None, None, None, None)}
    assert {r.account for r in rs} == {"517852257"}  # :25: on lines 5 and 33
    assert rs[0].source == f"{ABNAMRO.name}:8" and rs[0].provider == "bank" and rs[0].format == "mt940"
    # Neither statement balances:
    # 1) :60F: C 3236,28 (line 7) - debits 321,44 = 2914,84, but :62F: says C 876,84 (line 27);
    # 2) :60M: C 2876,84 (line 35) - debits 24,49 = 2852,35, but :62M: says C 1849,75 (line 40).
    assert [(f.reason_code, f.line, f.seqs) for f in res.flags] == [
        ("STATEMENT_BALANCE_MISMATCH", 27, tuple(range(8))), ("STATEMENT_BALANCE_MISMATCH", 40, (8, 9))]
    assert "3236.28" in res.flags[0].detail and "2914.84" in res.flags[0].detail and "876.84" in res.flags[0].detail
    assert "2852.35" in res.flags[1].detail and "1849.75" in res.flags[1].detail
    assert {r.flagged for r in rs} == {"STATEMENT_BALANCE_MISMATCH"}


def test_abnamro_flag_is_per_statement():
    # the closing balance that the first statement's lines really give: only the second statement stays flagged
    res = _parse(ABNAMRO.read_bytes().replace(b":62F:C110523EUR876,84", b":62F:C110523EUR2914,84"))
    assert [(f.reason_code, f.seqs) for f in res.flags] == [("STATEMENT_BALANCE_MISMATCH", (8, 9))]
    assert [r.flagged for r in res.receipts] == [None] * 8 + ["STATEMENT_BALANCE_MISMATCH"] * 2


def test_raphaelm_sample_is_quarantined_for_its_withdrawn_currency():
    data = RAPHAELM.read_bytes()
    assert detect_format(data) == "mt940"
    res = _parse(data, RAPHAELM.name)
    # line 13 ":60F:C020315DEM0,00": Deutsche Mark, withdrawn in 2002, is not an active ISO 4217 code
    assert res.receipts == [] and res.flags == []
    (q,) = res.quarantined
    assert (q.reason_code, q.line) == ("CURRENCY_INVALID", 13) and "DEM" in q.reason
    # The file's closing balances carry no currency at all: line 27 ":62M:C020315105000,00" reads as currency "105"
    res = _parse(data.replace(b"DEM", b"EUR"))
    assert [(q.reason_code, q.line) for q in res.quarantined] == [("CURRENCY_INVALID", 27)]


def test_raphaelm_content_once_currencies_are_repaired():
    data = (RAPHAELM.read_bytes().replace(b"DEM", b"EUR")
            .replace(b":62M:C020315105000,00", b":62M:C020315EUR105000,00")
            .replace(b":62F:C020315145000,00", b":62F:C020315EUR145000,00")
            .replace(b":62F:C02032495000,00", b":62F:C020324EUR95000,00"))
    res = _parse(data)
    assert res.quarantined == [] and res.flags == []  # 0 + 5000 + 5 x 20000 = 105000; + 40000; 145000 - 50000
    rs = res.receipts
    assert [r.line for r in rs] == [14, 22, 23, 24, 25, 26, 33, 34, 44]
    # line 14 ":61:0203170320CM5000,00S05168790452": value 2002-03-17, entry 03-20, C, funds code M, type S051,
    # customer reference 68790452
    assert (rs[0].amount_minor, rs[0].direction, rs[0].status, rs[0].provider_ref, rs[0].value_date,
            rs[0].booking_date) == (500000, "CRDT", "S051", "68790452", "2002-03-17", "2002-03-20")
    # line 22 ":61:020322CM20000,00NCHG": type NCHG (charges) → FEE; no entry date → booking_date None
    assert (rs[1].kind, rs[1].amount_minor, rs[1].status, rs[1].booking_date, rs[1].value_date) == (
        FEE, 2000000, "NCHG", None, "2002-03-22")
    assert [r.kind for r in rs].count(BOOKING) == 8
    # line 44 ":61:020324DM50000,00S051" in the third statement, account 3346780111 (:25: line 37)
    assert (rs[8].direction, rs[8].amount_minor, rs[8].account) == ("DBIT", 5000000, "3346780111")
    assert {r.account for r in rs[:8]} == {"1222333444"}
    # a changed closing balance (:62F: line 47: 145000 - 50000 = 95000, now 94000) taints only the third statement
    res = _parse(data.replace(b":62F:C020324EUR95000,00", b":62F:C020324EUR94000,00"))
    assert [(f.reason_code, f.line, f.seqs) for f in res.flags] == [("STATEMENT_BALANCE_MISMATCH", 47, (8,))]
    assert [r.flagged for r in res.receipts] == [None] * 8 + ["STATEMENT_BALANCE_MISMATCH"]


STRUCTURED = b"""{1:F01BANKDEFFXXXX0000000000}{2:O9400000000000BANKDEFFXXXX00000000000000000000N}{4:
:20:STMT1
:25:DE89370400440532013000
:28C:5/1
:60F:C240102EUR1000,00
:61:2401030103D250,00NTRFVG20240103-ab//BR123456
:86:166?00SEPA-UEBERWEISUNG?20EREF+VG20240103-abcdef?21SVWZ+Payout Jan?22KREF+VGP2024
0103-xyz?31DE02120300000000202051?32Max Mustermann
:61:240103RD250,00NTRFNONREF//BR99
:86:/RTRN/AC04/EREF/VG20240103-abcdef/IBAN/NL91ABNA0417164300/NAME/J Doe/REMI/USTD//Payout Jan/
:61:240103RC3,00NMSCNONREF
:86:reversal of an incoming credit
:61:240103D1,50NCHGNONREF
:86:Bank charges
:61:2401030103C10,00NMSCNONREF
:86:EREF+E2E-77 KREF+BATCH-9 SVWZ+Refund IBAN+DE44500105175407324931
:61:240103D100,00NTRFPAYBATCH
:86:/PREF/PMTINF-1/NRTX/3/REMI/batch/
:62F:C240103EUR905,50
:86:statement-level information, not part of the last line
-}
"""


def test_structured_details_reversals_fees_and_batches():
    res = _parse(STRUCTURED)
    assert res.quarantined == [] and res.flags == []  # 1000 - 250 + 250 - 3 - 1.50 + 10 - 100 = 905.50
    ger, ret, rc, fee, gvc, batch = res.receipts
    # German ?-structured :86: (lines 7-8): EREF+, SVWZ+, KREF+ (split over two lines), ?31 IBAN
    assert (ger.end_to_end_id, ger.batch_ref, ger.payee_ref, ger.reason) == (
        "VG20240103-abcdef", "VGP20240103-xyz", "DE02120300000000202051", "Payout Jan")
    assert (ger.provider_ref, ger.bank_ref, ger.direction, ger.amount_minor, ger.line) == (
        "VG20240103-ab", "BR123456", "DBIT", 25000, 6)
    # RD = reversal of a debit, booked as a credit; Dutch /RTRN/AC04/ → returned payout
    assert (ret.direction, ret.reversal, ret.return_code, ret.status, ret.end_to_end_id, ret.payee_ref) == (
        "CRDT", True, "AC04", "RTRN", "VG20240103-abcdef", "NL91ABNA0417164300")
    assert ret.bank_ref == "BR99" and ret.reason == "returned AC04: Payout Jan"
    # RC = reversal of a credit, booked as a debit
    assert (rc.direction, rc.reversal, rc.return_code, rc.status) == ("DBIT", True, None, "NMSC")
    assert (fee.kind, fee.amount_minor, fee.direction) == (FEE, 150, "DBIT")
    # free-text KEY+ variant
    assert (gvc.end_to_end_id, gvc.batch_ref, gvc.payee_ref, gvc.reason, gvc.direction) == (
        "E2E-77", "BATCH-9", "DE44500105175407324931", "Refund", "CRDT")
    # /PREF/ + /NRTX/: one booking for a batch of 3 payments
    assert (batch.level, batch.batch_ref, batch.n_txs, batch.provider_ref) == ("BATCH", "PMTINF-1", 3, "PAYBATCH")
    # the statement-level :86: after :62F: did not leak into the last line
    assert batch.reason == "batch"


MT942 = b""":20:MT942REF
:25:NL91ABNA0417164300
:28C:1/1
:34F:EURD0,
:13D:2401031200+0100
:61:2401030103D5,00NTRFNONREF
:86:/EREF/E1/
:61:2401030103C7,00NTRFNONREF
:90D:1EUR5,00
:90C:1EUR7,00
"""


def test_mt942_interim_lines_are_pending_and_totals_checked():
    res = _parse(MT942)
    assert res.quarantined == [] and res.flags == []
    assert [(r.booking, r.amount_minor, r.direction, r.end_to_end_id) for r in res.receipts] == [
        (PENDING, 500, "DBIT", "E1"), (PENDING, 700, "CRDT", None)]
    res = _parse(MT942.replace(b":90C:1EUR7,00", b":90C:1EUR8,00"))  # credits sum 7.00, :90C: states 8.00
    assert [(f.reason_code, f.line, f.seqs) for f in res.flags] == [("STATEMENT_TOTALS_MISMATCH", 10, (0, 1))]


@pytest.mark.parametrize(("old", "new", "code", "line"), [
    (b"D11,59N426", b"D11.59N426", "AMOUNT_INVALID", 12),       # dot instead of comma
    (b"D11,59N426", b"D11,591N426", "AMOUNT_INVALID", 12),      # 3 decimals for EUR
    (b"EUR876,84", b"EUR876.84", "AMOUNT_INVALID", 27),         # closing balance amount
    (b"C110522EUR3236,28", b"C110522XYZ3236,28", "CURRENCY_INVALID", 7),  # unknown currency
    (b"D11,59N426NONREF", b"D11,59", "REPORT_MALFORMED", 12),   # no transaction type code
    (b":28:19321/1", b":28:ABC", "REPORT_MALFORMED", 6),        # library cannot read the field
    (b":61:1105210523D11,59", b":61:1113210523D11,59", "REPORT_MALFORMED", 12),  # month 13
    (b":25:517852257\n:28:", b":28:", "REPORT_SCHEMA", 4),     # statement without account
])
def test_broken_abnamro_variants_are_quarantined_with_their_line(old: bytes, new: bytes, code: str, line: int):
    data = ABNAMRO.read_bytes()
    assert old in data
    res = _parse(data.replace(old, new, 1))
    assert res.receipts == [] and res.flags == []
    assert [(q.reason_code, q.line) for q in res.quarantined] == [(code, line)]


def test_truncated_statement_and_other_formats_are_quarantined():
    data = ABNAMRO.read_bytes()
    res = _parse(data[: data.index(b":62F:")])  # cut before the first closing balance
    assert [(q.reason_code, q.line) for q in res.quarantined] == [("REPORT_MALFORMED", 26)]
    nacha = (FIXTURES / "nacha" / "moov-ach__cor-example.ach").read_bytes()
    for other in (nacha, b"id,amount\n1,2.00\n", b"<Document/>"):
        assert [q.reason_code for q in _parse(other).quarantined] == ["FORMAT_MISMATCH"]
    assert [q.reason_code for q in _parse(b"").quarantined] == ["REPORT_EMPTY"]
