"""NACHA ACH files → receipts: the real samples read by hand, returns, NOCs, controls, quarantine and flags."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.psp.receipts import BOOKED, BOOKING, INFO, NOTICE, PENDING
from connectors.psp.reports import detect_format, parse_bytes
from tests.conftest import FIXTURES

DIR = FIXTURES / "nacha"
BIG = DIR / "moov-ach__20110805A.ach"
COR = DIR / "moov-ach__cor-example.ach"
PPD = DIR / "moov-ach__ppd-mixedDebitCredit.ach"
RET = DIR / "moov-ach__return-WEB.ach"


def _parse(data: bytes, name: str = "t.ach"):
    return parse_bytes("nacha", data, name)


def _lines(path) -> list[str]:
    return path.read_text().split("\n")


def _put(rec: str, pos: int, value: str) -> str:
    """Overwrite a fixed-width field starting at 1-based position pos."""
    return rec[: pos - 1] + value + rec[pos - 1 + len(value):]


@pytest.mark.parametrize("path", [BIG, COR, PPD, RET], ids=lambda p: p.name)
def test_every_sample_is_detected_as_nacha(path):
    assert detect_format(path.read_bytes()) == "nacha"


def test_ppd_mixed_debit_credit():
    res = _parse(PPD.read_bytes(), PPD.name)
    assert res.quarantined == [] and res.flags == []  # batch control line 6 and file control line 7 agree
    debit, credit1, credit2 = res.receipts
    # line 3, entry detail: tx code 27 (checking debit), RDFI 23138010 check digit 4, account 123456789,
    # amount 0200000000 = 2,000,000.00 USD; a debit the platform originated pulls money in → CRDT
    assert (debit.line, debit.kind, debit.status, debit.amount_minor, debit.currency, debit.direction) == (
        3, BOOKING, "27", 200000000, "USD", "CRDT")
    assert (debit.payee_ref, debit.bank_ref, debit.provider_ref) == ("231380104/123456789", "121042880000001",
                                                                     "121042880000001")  # trace 80-94
    # lines 4-5: tx code 22 (checking credit), 0100000000 = 1,000,000.00 USD each: money out → DBIT
    assert [(r.line, r.status, r.amount_minor, r.direction, r.payee_ref, r.bank_ref) for r in (credit1, credit2)] == [
        (4, "22", 100000000, "DBIT", "231380104/987654321", "121042880000002"),
        (5, "22", 100000000, "DBIT", "231380104/837098765", "121042880000003")]
    for r in res.receipts:
        # batch header line 2: company id "121042882 " (41-50), batch number 0000001 (88-94), effective date
        # 190719; settlement date (76-78) blank: an origination file, not settled yet → PENDING
        assert (r.batch_ref, r.booking_date, r.booked_at, r.value_date) == (
            "121042882/0000001", "2019-07-19", "2019-07-19", None)
        assert (r.booking, r.reversal, r.return_code, r.end_to_end_id) == (PENDING, False, None, None)  # ID blank
        assert (r.provider, r.format, r.level, r.source, r.flagged) == ("bank", "nacha", "TX", f"{PPD.name}:{r.line}",
                                                                        None)
    assert [r.seq for r in res.receipts] == [0, 1, 2]


def test_return_web_returned_debit_and_credit():
    res = _parse(RET.read_bytes(), RET.name)
    assert res.quarantined == [] and res.flags == []  # batch controls lines 5, 9 and file control line 10 agree
    r01, r03 = res.receipts
    # line 3, entry tx 26 (return of a checking debit), amount 0000012354 = 123.54 USD; addenda 99 line 4: R01,
    # original trace 091400600000001, original RDFI 09100001. The debit had pulled money in; its return sends it
    # back out → DBIT
    assert (r01.line, r01.kind, r01.amount_minor, r01.direction, r01.reversal, r01.return_code, r01.status) == (
        3, BOOKING, 12354, "DBIT", True, "R01", "RTRN")
    assert "091400600000001" in r01.reason and "Insufficient funds" in r01.reason
    # individual id (40-54) "MjMxNDAwMjAtOGQ"; receiver = original RDFI 09100001 (+ check digit 9) + account
    assert (r01.end_to_end_id, r01.payee_ref, r01.bank_ref) == ("MjMxNDAwMjAtOGQ", "091000019/123456789",
                                                                "091000017611242")
    # line 7, entry tx 21 (return of a checking credit), 0000004565 = 45.65 USD; addenda 99 line 8: R03; the
    # returned payout brings money back → CRDT
    assert (r03.line, r03.amount_minor, r03.direction, r03.reversal, r03.return_code) == (7, 4565, "CRDT", True,
                                                                                         "R03")
    assert (r03.end_to_end_id, r03.payee_ref, r03.bank_ref) == ("NmRjZTJmMzItMGN", "021000021/867530999999",
                                                                "021000029461242")
    assert "091400600000003" in r03.reason and "02100002" in r03.reason
    # batch headers lines 2 and 6: company id 123456789, batch numbers 0000001 / 0000002, effective date 000101
    assert [r.batch_ref for r in res.receipts] == ["123456789/0000001", "123456789/0000002"]
    assert {(r.booking, r.booking_date, r.currency) for r in res.receipts} == {(BOOKED, "2000-01-01", "USD")}


def test_cor_notification_of_change():
    res = _parse(COR.read_bytes(), COR.name)
    assert res.quarantined == [] and res.flags == []  # 4 filler lines (7-10) are ignored; controls agree
    (noc,) = res.receipts
    # line 3, entry tx 21 (NOC for a checking credit), amount 0000000000; addenda 98 line 4: C01 (incorrect
    # account number), original trace 121042880000001, original RDFI 12104288, corrected data 1918171614
    assert (noc.line, noc.kind, noc.booking, noc.amount_minor, noc.currency, noc.return_code, noc.status) == (
        3, NOTICE, INFO, 0, "USD", "C01", "COR")
    assert noc.reversal is False and noc.direction == "DBIT"  # about a credit the platform sent
    assert "1918171614" in noc.reason and "121042880000001" in noc.reason
    # individual id (40-54) "location #23"; original RDFI 12104288 + check digit 2; account "744-5678-99"
    assert (noc.end_to_end_id, noc.payee_ref, noc.bank_ref) == ("location #23", "121042882/744-5678-99",
                                                                "121042880000001")
    # batch header line 2: company id 121042882, batch 0000001, effective date 000000 (none)
    assert (noc.batch_ref, noc.booking_date) == ("121042882/0000001", None)
    # (the addenda's own trace field, 091012980000088, differs from the entry's trace: not a control total,
    # so it is not flagged)


def test_20110805a_ppd_and_iat_batches_with_wrong_batch_count():
    res = _parse(BIG.read_bytes(), BIG.name)
    assert res.quarantined == []
    rs = res.receipts
    assert len(rs) == 48 and Counter(r.kind for r in rs) == {BOOKING: 48}
    by_batch: dict[str, list] = {}
    for r in rs:
        by_batch.setdefault(r.batch_ref, []).append(r)
    # batch headers lines 2, 29, 49, 75: company id 0231380104, batch numbers 1, 3, 4, 5 (there is no batch 2)
    assert {k: len(v) for k, v in by_batch.items()} == {"0231380104/0000001": 25, "0231380104/0000003": 18,
                                                       "0231380104/0000004": 3, "0231380104/0000005": 2}
    b1, b3, b4, b5 = by_batch.values()
    # batch 1 (PPD BUY WIDGET, service class 225): lines 3-27, tx code 27 (checking debit) → CRDT;
    # line 3 amount 0000027000 = 270.00 USD, individual id A271; batch control line 28 total debit 4,610,000 cents
    assert {(r.status, r.direction) for r in b1} == {("27", "CRDT")}
    assert (b1[0].line, b1[0].amount_minor, b1[0].end_to_end_id, b1[0].bank_ref) == (3, 27000, "A271",
                                                                                      "042000010000001")
    assert sum(r.amount_minor for r in b1) == 4610000 and b1[-1].end_to_end_id == "A298"
    # batch 3 (PPD VERIFY, 220): lines 30-47, tx 22 (checking credit) micro amounts → DBIT; total credit 176
    assert {(r.status, r.direction) for r in b3} == {("22", "DBIT")}
    assert [r.amount_minor for r in b3][:3] == [8, 10, 2] and sum(r.amount_minor for r in b3) == 176
    # batch 4 (IAT BUY WIDGET, 225, USD→CAD): entries lines 50, 58, 66 with 7 addenda each (10-16);
    # receiver id from addenda 15 (A276, A277, A293), receiving DFI 021200025 from addenda 14, foreign account
    # 998412345 from positions 40-74
    assert [(r.line, r.amount_minor, r.direction, r.end_to_end_id) for r in b4] == [
        (50, 109000, "CRDT", "A276"), (58, 109000, "CRDT", "A277"), (66, 273000, "CRDT", "A293")]
    assert {(r.payee_ref, r.currency) for r in b4} == {("021200025/998412345", "USD")}
    # batch 5 (IAT VERIFY, 220): lines 76 and 84, tx 22, 18 and 6 cents → DBIT
    assert [(r.line, r.amount_minor, r.direction, r.end_to_end_id) for r in b5] == [
        (76, 18, "DBIT", "A257"), (84, 6, "DBIT", "A258")]
    # effective date 110808, no settlement date (76-78 blank) → not settled yet
    assert {(r.booking, r.booking_date, r.reversal) for r in rs} == {(PENDING, "2011-08-08", False)}
    # File control line 93 states 000005 batches, the file has 4 (batch numbers 1, 3, 4, 5). Its other fields
    # agree: 83 entry/addenda records, hash 0136685201, debits 5,101,000 and credits 200 cents, 10 blocks.
    (flag,) = res.flags
    assert (flag.reason_code, flag.line, flag.seqs) == ("NACHA_CONTROL_MISMATCH", 93, None)
    assert flag.detail.endswith("batch count 5 but records give 4")
    assert {r.flagged for r in rs} == {"NACHA_CONTROL_MISMATCH"}


def test_changed_batch_total_flags_that_batch_only():
    lines = _lines(RET)
    # batch control line 9 (batch 0000002): total credit 000000004565 → 000000004566
    lines[8] = _put(lines[8], 33, "000000004566")
    res = _parse("\n".join(lines).encode())
    (flag,) = res.flags
    assert (flag.reason_code, flag.line, flag.seqs) == ("NACHA_CONTROL_MISMATCH", 9, (1,))
    assert "total credit 4566 but records give 4565" in flag.detail
    assert [r.flagged for r in res.receipts] == [None, "NACHA_CONTROL_MISMATCH"]
    # the file control (line 10) totals: a changed debit total taints the whole file
    lines = _lines(RET)
    lines[9] = _put(lines[9], 32, "000000012355")
    res = _parse("\n".join(lines).encode())
    assert [(f.line, f.seqs) for f in res.flags] == [(10, None)]
    assert [r.flagged for r in res.receipts] == ["NACHA_CONTROL_MISMATCH"] * 2


def test_entry_hash_count_and_service_class_are_checked():
    lines = _lines(PPD)
    lines[2] = _put(lines[2], 4, "23138011")  # entry line 3: RDFI changed, batch/file entry hash now disagree
    res = _parse("\n".join(lines).encode())
    assert [(f.line, f.seqs) for f in res.flags] == [(6, (0, 1, 2)), (7, None)]
    assert "entry hash 69414030 but records give 69414031" in res.flags[0].detail
    lines = _lines(PPD)
    lines[1] = _put(lines[1], 2, "220")  # batch header: credits only, but line 3 is a debit (and control says 200)
    detail = _parse("\n".join(lines).encode()).flags[0].detail
    assert "service class 200 but records give 220" in detail and "220 (credits only)" in detail


def test_prenote_settled_batch_and_payment_addenda():
    lines = _lines(PPD)
    lines[1] = _put(lines[1], 76, "200")  # settlement date day 200 of 2019 = 2019-07-19 (filled by the operator)
    lines[4] = _put(_put(lines[4], 2, "23"), 30, "0000000000")  # line 5: prenote for a checking credit, zero
    addenda = _put(_put("705" + " " * 91, 4, "INVOICE 42"), 84, "00010000002")  # payment-related, for entry 2
    lines[5] = _put(_put(lines[5], 5, "000004"), 33, "000100000000")  # batch control: 4 records, credit 1,000,000
    lines[6] = _put(_put(lines[6], 14, "00000004"), 44, "000100000000")  # file control likewise
    lines = lines[:4] + [addenda] + lines[4:9]  # one filler less: still 10 records
    res = _parse("\n".join(lines).encode())
    assert res.quarantined == [] and res.flags == []
    debit, credit, prenote = res.receipts
    assert (debit.booking, debit.value_date) == (BOOKED, "2019-07-19")
    assert (credit.line, credit.reason, credit.booking) == (4, "INVOICE 42", BOOKED)
    assert (prenote.line, prenote.kind, prenote.booking, prenote.amount_minor, prenote.direction) == (
        6, NOTICE, INFO, 0, "DBIT")


def test_file_without_line_breaks_or_with_crlf_reads_the_same():
    data = PPD.read_bytes()
    want = [(r.line, r.amount_minor, r.bank_ref) for r in _parse(data).receipts]
    for variant in (data.replace(b"\n", b""), data.replace(b"\n", b"\r\n")):
        res = _parse(variant)
        assert res.flags == [] and [(r.line, r.amount_minor, r.bank_ref) for r in res.receipts] == want


@pytest.mark.parametrize(("edit", "code", "line"), [
    (lambda ls: ls[:3] + [ls[3][:60]] + ls[4:], "REPORT_MALFORMED", 4),             # truncated record
    (lambda ls: ls[:3] + [ls[3] + " "] + ls[4:], "REPORT_MALFORMED", 4),            # 95 characters
    (lambda ls: ls[:3] + [_put(ls[3], 30, "00000A0000")] + ls[4:], "AMOUNT_INVALID", 4),  # non-numeric amount
    (lambda ls: ls[:5] + [_put(ls[5], 21, "0002000000X0")] + ls[6:], "AMOUNT_INVALID", 6),  # batch control total
    (lambda ls: ls[:3] + [_put(ls[3], 1, "4")] + ls[4:], "REPORT_SCHEMA", 4),       # unknown record type
    (lambda ls: ls[:3] + [_put(ls[3], 2, "99")] + ls[4:], "REPORT_SCHEMA", 4),      # unknown transaction code
    (lambda ls: ls[1:], "FORMAT_MISMATCH", 1),                                      # no file header first
    (lambda ls: ls[:4], "REPORT_MALFORMED", 4),                                     # file cut inside a batch
    (lambda ls: ls[:6], "REPORT_MALFORMED", 6),                                     # no file control
    (lambda ls: ls[:3] + [ls[1]] + ls[3:], "REPORT_MALFORMED", 4),                 # batch header inside a batch
])
def test_broken_ppd_variants_are_quarantined_with_their_line(edit, code: str, line: int):
    res = _parse("\n".join(edit(_lines(PPD))).encode())
    assert res.receipts == [] and res.flags == []
    assert [(q.reason_code, q.line) for q in res.quarantined] == [(code, line)]


def test_other_formats_and_empty_files_are_refused():
    for other in ((FIXTURES / "mt940" / "wolph-mt940__jejik_abnamro.sta").read_bytes(), b"a,b\n1,2\n"):
        assert [q.reason_code for q in _parse(other).quarantined] == ["FORMAT_MISMATCH"]
    assert [q.reason_code for q in _parse(b"\n").quarantined] == ["REPORT_EMPTY"]


def test_return_addenda_with_a_change_code_is_refused():
    lines = _lines(RET)
    lines[3] = _put(lines[3], 4, "C01")  # addenda 99 (return) on line 4 carrying a NOC change code
    (q,) = _parse("\n".join(lines).encode()).quarantined
    assert (q.reason_code, q.line) == ("REPORT_SCHEMA", 4)
