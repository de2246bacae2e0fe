"""Every real ISO 20022 sample read by hand: the receipts each file really contains, and where files contradict
themselves, the flag and the numbers that disagree.

Rows are (line, kind, level, amount_minor, currency, direction, booking, reversal, return_code); each comment
names the element of the file the expectation comes from. The Finnish FI_camt_052/054 samples break lines with a
bare CR, which the XML parser does not count, so every element there reports line 1 (`el.sourceline`); their
comments name elements by position instead (Ntry[3] = third entry).
"""

from __future__ import annotations

import pytest

from connectors.psp import iso_reports
from connectors.psp.receipts import BOOKED, BOOKING, DETAIL, FEE, INFO, PENDING, STATUS, ParseResult, Receipt
from connectors.psp.reports import detect_format, parse_bytes
from tests.conftest import FIXTURES

ISO = FIXTURES / "iso20022"
F = {
    "genkgo053v2": "genkgo-camt__camt053.v2.minimal.xml",
    "genkgo053v8": "genkgo-camt__camt053.v8.xml",
    "genkgo054v8": "genkgo-camt__camt054.v8.xml",
    "moov054debit": "moov-iso20022__200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml",
    "moov054ret2019": "moov-iso20022__200519_camt054-returns_p_ch2909000000250094239_1109800798_0_2019052023472022.xml",
    "moov054ret2020": "moov-iso20022__camt054-returns_p_ch5109000000250092291_1110097606_0_2020112500512470.xml",
    "fi052": "moov-iso20022__FI_camt_052_sample.xml.xml",
    "fi053": "moov-iso20022__FI_camt_053_sample.xml.xml",
    "fi054": "moov-iso20022__FI_camt_054_sample.xml.xml",
    "moov053": "moov-iso20022__camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml",
    "pain002grp": "moov-iso20022__pain002-epo_p_0_0_0_2018032614401842.xml",
    "pain002rjct": "moov-iso20022__pain002-epo_p_ch2909000000250094239_1109800799_0_2018032612092784.xml",
    "pain002part": "moov-iso20022__pain002-epo_p_ch5109000000250092291_1110097605_0_2018031511252307.xml",
    "oca053": "oca-bsi__test-camt053.xml",
    "oca053txdtls": "oca-bsi__test-camt053-txdtls.xml",
    "oca054": "oca-bsi__test-camt054.xml",
    "gs053": "pyiso20022-gs__camt053_001_02.xml",
}
# Outbound pain.001 initiations in the same folder are not bank reports (read back by connectors.psp.pain001).
NOT_REPORTS = {"moov-iso20022__musterfile_pain.001_Nov2020.xml", "pyiso20022-gs__pain001_001_08.xml"}

T, B = "TX", "BATCH"


def read(key: str) -> ParseResult:
    """Parse a sample through the dispatcher and check the fields every receipt must carry."""
    name = F[key]
    data = (ISO / name).read_bytes()
    fmt = detect_format(data)
    res = parse_bytes(fmt, data, name)
    assert res.ok, res.quarantined
    for i, r in enumerate(res.receipts):
        assert r.seq == i and r.source == f"{name}:{r.line}" and r.raw_sha256 == res.raw_sha256
        assert r.provider == "bank" and r.format == fmt and r.fee_minor >= 0
        assert r.amount_minor is None or (isinstance(r.amount_minor, int) and r.amount_minor >= 0)
        if r.kind != STATUS:
            assert r.booked_at == (r.booking_date or r.value_date) and r.booked_at
        if r.kind == DETAIL:
            parent = res.receipts[r.parent_seq]
            assert parent.level == B and parent.seq < r.seq and r.booking == parent.booking
        else:
            assert r.parent_seq is None
    return res


def rows(rs: list[Receipt]) -> list[tuple]:
    return [(r.line, r.kind, r.level, r.amount_minor, r.currency, r.direction, r.booking, r.reversal, r.return_code)
            for r in rs]


def flags(res: ParseResult) -> list[tuple]:
    return [(f.reason_code, f.line, f.seqs) for f in res.flags]


def money(rs: list[Receipt]) -> list[Receipt]:
    """Receipts that move money on the account (one per entry): not the DETAIL lines under a batch."""
    return [r for r in rs if r.kind in (BOOKING, FEE)]


def test_every_iso_sample_in_the_folder_has_a_test_here():
    names = {p.name for p in ISO.glob("*.xml")}
    assert names - NOT_REPORTS == set(F.values())


# --- camt.053 -------------------------------------------------------------------------------------------------

def test_genkgo_camt053_v2_minimal():
    res = read("genkgo053v2")
    (r,) = res.receipts
    # Ntry (line 90): Amt Ccy=EUR 8.85, CdtDbtInd CRDT, RvslInd false, Sts BOOK (v02 text), one TxDtls, no Btch
    assert rows(res.receipts) == [(90, BOOKING, T, 885, "EUR", "CRDT", BOOKED, False, None)]
    assert (r.status, r.booking_date, r.value_date) == ("BOOK", "2014-12-31", "2015-01-02")  # BookgDt, ValDt
    # no AcctSvcrRef / NtryRef; Refs only has Prtry LegalSequenceNumber (line 109): no bank ref, no EndToEndId
    assert (r.bank_ref, r.provider_ref, r.end_to_end_id, r.batch_ref) == (None, None, None, None)
    # a credit: the counterparty is the debtor, DbtrAcct/Id/IBAN (line 130)
    assert r.payee_ref == "NL56AGDH9619008421"
    assert (r.account, r.copy) == ("NL26VAYB8060476890", "CODU")  # Stmt/Acct/Id/IBAN line 38, CpyDplctInd line 35
    # Contradiction: OPBD 18.15 EUR CRDT (line 48) + booked credit 8.85 EUR = 27.00 EUR CRDT, but CLBD (Bal at
    # line 54) says 27.00 SEK DBIT (line 60-61): another currency and the other sign.
    assert flags(res) == [("STATEMENT_BALANCE_MISMATCH", 54, (0,))]
    assert "27.00 EUR CRDT" in res.flags[0].detail and "27.00 SEK DBIT" in res.flags[0].detail
    assert r.flagged == "STATEMENT_BALANCE_MISMATCH"


def test_genkgo_camt053_v8_keeps_the_entry_amount_not_the_detail_amount():
    res = read("genkgo053v8")
    (r,) = res.receipts
    # Ntry (line 110): Amt Ccy=EUR 8.85, CRDT, Sts/Cd BOOK (v08 form, line 113-115). Its single TxDtls says
    # Amt Ccy=SEK 0 (line 141): the old reader booked 0 SEK; the account moved 8.85 EUR.
    assert rows(res.receipts) == [(110, BOOKING, T, 885, "EUR", "CRDT", BOOKED, False, None)]
    assert (r.instructed_minor, r.instructed_currency) == (None, None)  # no AmtDtls/InstdAmt in the file
    assert r.booking_date == "2014-12-31"  # BookgDt/DtTm 2014-12-31T13:15:00+01:00 (line 117)
    assert r.bank_ref == "AAAASESS-FP-CN_98765/01"  # Ntry/AcctSvcrRef line 122
    assert r.end_to_end_id == "MUELL/FINP/RA12345"  # TxDtls/Refs/EndToEndId line 135
    assert (r.account, r.copy) == ("NL26VAYB8060476890", "CODU")  # Acct/Id/Othr/Id line 47, CpyDplctInd line 43
    # Same contradiction as v2: OPBD 18.15 EUR CRDT + 8.85 EUR = 27.00 EUR CRDT vs CLBD 27.00 SEK DBIT (line 74)
    assert flags(res) == [("STATEMENT_BALANCE_MISMATCH", 74, (0,))]


def test_moov_camt053_postfinance_debit_stays_a_debit_and_the_closing_balance_disagrees():
    res = read("moov053")
    assert rows(res.receipts) == [
        (77, BOOKING, T, 450, "CHF", "CRDT", BOOKED, False, None),     # Ntry[1]: 4.50 CHF CRDT
        (110, BOOKING, T, 7770, "CHF", "DBIT", BOOKED, False, None),   # Ntry[2]: 77.70 CHF DBIT, RvslInd false
        (142, BOOKING, T, 150000, "CHF", "CRDT", BOOKED, False, None),  # Ntry[3]: 1500.00 CHF CRDT
        (174, BOOKING, T, 153700, "CHF", "CRDT", BOOKED, False, None),  # Ntry[4]: 1537.00 CHF CRDT, ValDt 11-25
        (207, BOOKING, T, 169222, "CHF", "CRDT", BOOKED, False, None),  # Ntry[5]: 1692.22 CHF CRDT
    ]
    r = res.receipts
    # Ntry[2] (line 110): the entry says DBIT (line 112) though its TxDtls says CRDT (line 137) and the text
    # "GUTSCHRIFT": the entry's CdtDbtInd is the direction on the account (the old reader made it a credit).
    assert r[1].direction == "DBIT" and r[1].bank_ref == "0758103031480977"
    # NtryRef (line 78, 175, 208) is the entry's id at the bank, not the AcctSvcrRef: it goes to provider_ref
    assert [x.provider_ref for x in r] == ["41100000000872849", None, None, "014295803", "CH7730000001250094239"]
    assert [x.bank_ref for x in r] == ["0758103031480900", "0758103031480977", "07582000303F0C7U",
                                       "07582000303KBMSU", "07582000303KBMSU"]  # Ntry/AcctSvcrRef
    assert (r[3].booking_date, r[3].value_date) == ("2020-11-24", "2020-11-25")
    assert {x.account for x in r} == {"CH2909000000250094239"}
    # Contradiction: OPBD 211993.19 CRDT (line 35) + 4.50 - 77.70 + 1500.00 + 1537.00 + 1692.22 = 216649.21,
    # but CLBD (Bal line 41) says 215112.21: exactly the 1537.00 entry valued 2020-11-25 is missing from it
    # (the forward available balance FWAV, line 71, is 216649.21).
    assert flags(res) == [("STATEMENT_BALANCE_MISMATCH", 41, (0, 1, 2, 3, 4))]
    assert "216649.21 CHF CRDT" in res.flags[0].detail and "215112.21 CHF CRDT" in res.flags[0].detail
    assert all(x.flagged == "STATEMENT_BALANCE_MISMATCH" for x in r)


def test_fi_camt053_counts_each_entry_once_and_never_invents_a_payment():
    res = read("fi053")
    rs = res.receipts
    assert rows(rs) == [
        # Ntry[1] (line 208): 1000.12 DBIT, Btch NbOfTxs 4; its only TxDtls (line 246) holds just Purp SALA
        (208, BOOKING, B, 100012, "EUR", "DBIT", BOOKED, False, None),
        # Ntry[2] (line 254): 4000.00 DBIT, Btch NbOfTxs 3, no TxDtls at all
        (254, BOOKING, B, 400000, "EUR", "DBIT", BOOKED, False, None),
        # Ntry[3] (line 293): 4230.05 DBIT, Btch NbOfTxs 3, three TxDtls 2000.02 + 1000.01 + 1230.02
        (293, BOOKING, B, 423005, "EUR", "DBIT", BOOKED, False, None),
        (328, DETAIL, T, 200002, "EUR", "DBIT", BOOKED, False, None),   # AmtDtls/TxAmt line 338
        (377, DETAIL, T, 100001, "EUR", "DBIT", BOOKED, False, None),   # line 385
        (417, DETAIL, T, 123002, "EUR", "DBIT", BOOKED, False, None),   # line 426
        # Ntry[4] (line 475): 2000.00 CRDT, Btch NbOfTxs 2 (line 504) but a single TxDtls of 2000.00
        (475, BOOKING, B, 200000, "EUR", "CRDT", BOOKED, False, None),
        (506, DETAIL, T, 200000, "EUR", "CRDT", BOOKED, False, None),
        # Ntry[5] (line 515): 500.00 CRDT (RDDT/PMDD), Btch NbOfTxs 2 (line 544), one TxDtls of 500.00
        (515, BOOKING, B, 50000, "EUR", "CRDT", BOOKED, False, None),
        (546, DETAIL, T, 50000, "EUR", "CRDT", BOOKED, False, None),
        # Ntry[6] (line 555): 3000.00 CRDT, Btch NbOfTxs 2 (line 580), one TxDtls of 3000.00
        (555, BOOKING, B, 300000, "EUR", "CRDT", BOOKED, False, None),
        (582, DETAIL, T, 300000, "EUR", "CRDT", BOOKED, False, None),
        # Ntry[7] (line 592): 2120.00 CRDT, one TxDtls: InstdAmt 3200.00 USD (FX), Chrgs/Amt 20.00 EUR
        (592, BOOKING, T, 212000, "EUR", "CRDT", BOOKED, False, None),
        # Ntry[8] (line 688): 5455.00 CRDT, InstdAmt 5500.00 EUR, Chrgs/Amt 45.00 EUR
        (688, BOOKING, T, 545500, "EUR", "CRDT", BOOKED, False, None),
        # Ntry[9] (line 781): 10000.00 CRDT, EndToEndIdSCT01
        (781, BOOKING, T, 1000000, "EUR", "CRDT", BOOKED, False, None),
        # Ntry[10] (line 859): 200.00 DBIT, BkTxCd RCDT/CHRG (line 878): a bank charge, two TxDtls of 100.00
        (859, FEE, B, 20000, "EUR", "DBIT", BOOKED, False, None),
        (885, DETAIL, T, 10000, "EUR", "DBIT", BOOKED, False, None),
        (915, DETAIL, T, 10000, "EUR", "DBIT", BOOKED, False, None),
    ]
    # The statement's own totals: TtlNtries/NbOfNtries 10 (line 189), TtlCdtNtries 6 / 23075.00 (line 193-194),
    # TtlDbtNtries 4 / 9430.17 (line 198-199), i.e. 10 entries moving 3,250,517 minor units; and OPBD 10000.00
    # (line 127) + 23075.00 - 9430.17 = 23644.83 = CLBD (line 164). The old reader returned 19 receipts summing
    # 4,343,534 (batches counted as totals and again as lines, plus invented payments); each entry counts once now.
    assert len(money(rs)) == 10 and sum(r.amount_minor for r in money(rs)) == 3_250_517
    assert sum(r.amount_minor for r in money(rs) if r.direction == "CRDT") == 2_307_500
    assert sum(r.amount_minor for r in money(rs) if r.direction == "DBIT") == 943_017
    # batch references and counts: Btch/PmtInfId (lines 242, 287, 323), else Btch/MsgId (lines 502, 542, 578)
    assert [(r.batch_ref, r.n_txs) for r in rs if r.level == B] == [
        ("CustRefForSalaBatch", 4), ("CustRefForPmtBatch", 3), ("CustRefForPmtBatch9", 3),
        ("BANKFILEID998765", 2), ("BANKFILEID998799", 2), ("BANKFILEID998765", 2), (None, 2)]
    assert [r.parent_seq for r in rs if r.kind == DETAIL] == [2, 2, 2, 6, 8, 10, 15, 15]
    # Ntry[3] details: TxDtls/Refs/AcctSvcrRef and the creditor's account (CdtrAcct/Id/Othr/Id) of a debit
    assert [(r.bank_ref, r.payee_ref, r.batch_ref) for r in rs[3:6]] == [
        ("091029ARCH03001", "29501800020582", "CustRefForPmtBatch9"),
        ("091029ARCH03002", "29501800020582", "CustRefForPmtBatch9"),
        ("091029ARCH03003", "29501800020574", "CustRefForPmtBatch9")]
    fx, net = rs[12], rs[13]
    assert (fx.instructed_minor, fx.instructed_currency, fx.fee_minor) == (320000, "USD", 2000)
    assert (fx.bank_ref, fx.provider_ref) == ("091029ACCTSTMTARCH06", "ISSRBKREF12345678")  # AcctSvcrRef, TxId
    assert (fx.booking_date, fx.value_date) == ("2009-10-29", "2009-10-30")
    # InstdAmt 5500.00 is in the entry's currency (no FX); charges 45.00 EUR (line 727)
    assert (net.instructed_minor, net.fee_minor, net.fee_included) == (None, 4500, False)
    assert rs[14].end_to_end_id == "EndToEndIdSCT01"
    # Only the batches whose listed TxDtls disagree with Btch/NbOfTxs are flagged (2 said, 1 listed);
    # Ntry[1]/[2] list no transaction, so there is nothing to disagree with; the statement itself adds up.
    assert flags(res) == [("BATCH_DETAILS_MISMATCH", 475, (6, 7)), ("BATCH_DETAILS_MISMATCH", 515, (8, 9)),
                          ("BATCH_DETAILS_MISMATCH", 555, (10, 11))]
    assert all("NbOfTxs 2 but 1 TxDtls" in f.detail for f in res.flags)
    assert [r.seq for r in rs if r.flagged] == list(range(6, 12))


def test_oca_camt053_reversed_direct_debit_batch_and_a_balance_that_does_not_add_up():
    res = read("oca053")
    rs = res.receipts
    assert rows(rs) == [
        # Ntry[1] (line 50): 754.25 EUR DBIT (RDDT/ESDD), one TxDtls
        (50, BOOKING, T, 75425, "EUR", "DBIT", BOOKED, False, None),
        # Ntry[2] (line 113): 664.05 EUR DBIT, RvslInd true (line 116), IDDT/UPDD; Btch NbOfTxs 2, TtlAmt 664.05
        (113, BOOKING, B, 66405, "EUR", "DBIT", BOOKED, True, None),
        (144, DETAIL, T, 56405, "EUR", "DBIT", BOOKED, True, "AC06"),  # TxAmt 564.05, RtrInf/Rsn/Cd AC06 line 180
        (185, DETAIL, T, 10000, "EUR", "DBIT", BOOKED, True, "AC06"),  # TxAmt 100.00, RtrInf/Rsn/Cd AC06 line 221
        # Ntry[3] (line 228): 1405.31 EUR CRDT
        (228, BOOKING, T, 140531, "EUR", "CRDT", BOOKED, False, None),
    ]
    # RvslInd keeps the booked direction (DBIT): the old reader flipped it and lost the reversal
    assert [r.end_to_end_id for r in rs] == ["435005714488-ABNO33052620", None, "TESTBANK/NL/20141229/01206408",
                                             "TESTBANK/NL/20141229/01206407", "115"]
    assert (rs[1].batch_ref, rs[1].n_txs) == ("2018/125-20141229-NORM", 2)  # Btch/PmtInfId line 139
    assert rs[0].payee_ref == "NL46ABNA0499998748" and rs[4].payee_ref == "NL69ABNA0522123643"
    assert all(r.bank_ref is None for r in rs)  # the file carries no AcctSvcrRef anywhere
    # Contradiction: OPBD 15568.27 CRDT (line 32) - 754.25 - 664.05 + 1405.31 = 15555.28, CLBD says 15121.12
    assert flags(res) == [("STATEMENT_BALANCE_MISMATCH", 38, (0, 1, 2, 3, 4))]
    assert "15555.28 EUR CRDT" in res.flags[0].detail and "15121.12 EUR CRDT" in res.flags[0].detail


def test_oca_camt053_txdtls_batch_adds_up():
    res = read("oca053txdtls")
    rs = res.receipts
    assert rows(rs) == [
        # Ntry (line 53): 3483.00 CHF CRDT, Btch NbOfTxs 2 (line 77)
        (53, BOOKING, B, 348300, "CHF", "CRDT", BOOKED, False, None),
        (79, DETAIL, T, 218700, "CHF", "CRDT", BOOKED, False, None),   # TxDtls/Amt 2187.00 (line 87)
        (144, DETAIL, T, 129600, "CHF", "CRDT", BOOKED, False, None),  # TxDtls/Amt 1296.00 (line 152)
    ]
    assert (rs[0].provider_ref, rs[0].bank_ref) == ("012345678", "20170323001234567891234567891234")  # 54, 65
    assert (rs[0].batch_ref, rs[0].n_txs) == (None, 2)  # Btch has no PmtInfId/MsgId, TxDtls no PmtInfId
    # credits: the debtor's account is the counterparty (DbtrAcct/Id/IBAN lines 111, 176)
    assert [r.payee_ref for r in rs[1:]] == ["CH2222000000123456789", "CH3333000000123456789"]
    assert [r.bank_ref for r in rs[1:]] == ["123456CHCAFEBABE", "123456CHCAFEBABE"]  # TxDtls/Refs/AcctSvcrRef
    # OPBD 75960.15 (line 35) + 3483.00 = 79443.15 = CLBD (line 47); 2187.00 + 1296.00 = 3483.00
    assert res.flags == [] and not any(r.flagged for r in rs)


def usd(line: int, direction: str, reversal: bool = False, code: str | None = None) -> tuple:
    """A 10.00 USD booked single-payment row (most Goldman Sachs sample entries)."""
    return (line, BOOKING, T, 1000, "USD", direction, BOOKED, reversal, code)


def test_goldman_sachs_camt053_reversals_fx_and_totals_that_do_not_match_the_entries():
    res = read("gs053")
    rs = res.receipts
    assert rows(rs) == [
        usd(109, "CRDT", True),            # RvslInd true (line 113), "ACH Credit Reject", RtrInf without Rsn
        usd(151, "DBIT"),
        usd(198, "CRDT"),
        usd(235, "CRDT"),
        usd(282, "CRDT"),
        usd(349, "CRDT"),                  # interest (ACMT/MCOP/INTR)
        usd(390, "DBIT"),
        (460, BOOKING, T, 2906, "EUR", "DBIT", BOOKED, False, None),  # Amt Ccy=EUR 29.06 (line 462)
        usd(536, "DBIT"),
        usd(603, "CRDT", True),            # RvslInd true (line 607) and BkTxCd ICDT/RRTN (line 620)
        usd(670, "CRDT"),
        usd(714, "CRDT"),
        usd(755, "CRDT", True, "R02"),     # RvslInd true (line 759), RtrInf/Rsn/Prtry R02 (line 812)
        usd(818, "CRDT"),
        usd(856, "DBIT"),
    ]
    assert rs[0].reason == "Status changed to REJECTED : REJECT REVERSAL"  # RtrInf/AddtlInf (line 146)
    fx = rs[7]  # InstdAmt 25.00 USD (line 495) against the EUR 29.06 booking
    assert (fx.instructed_minor, fx.instructed_currency, fx.end_to_end_id) == (2500, "USD", "5741412")
    assert (fx.booking_date, fx.payee_ref) == ("2023-08-02", "GB14BARC20325340846481")
    assert (rs[0].provider_ref, rs[0].bank_ref, rs[0].batch_ref, rs[0].end_to_end_id) == (
        "52198201", "B20092800002225", "RP/GS/CTFILERP0002/CTBA0003", "GSGWGDNCTAHQM8")  # NtryRef, Refs
    assert rs[14].batch_ref == "CLIENTID200928A0000001"  # Refs/PmtInfId " CLIENTID200928A0000001" (line 878)
    assert rs[0].booking_date == "2023-10-01" and {r.account for r in rs} == {"DD01100056869"}
    # Contradictions (TxsSummry line 93): NbOfNtries 14 but 15 Ntry listed; TtlCdtNtries 9 / 90.00 but 10
    # credits / 100.00; TtlDbtNtries 5 / 50.00 but the debits sum to 69.06 (one is 29.06 EUR); TtlNtries Sum 140.00
    # but 169.06; net 40.00 CRDT but 30.94. Balances: OPBD 843686.20 DBIT (line 51) + 100.00 - 40.00 USD booked =
    # 843626.20 DBIT, CLBD (Bal line 57) says 846665.15 DBIT, and an EUR entry sits on the USD statement.
    every = tuple(range(15))
    assert flags(res) == [("STATEMENT_ENTRY_COUNT_MISMATCH", 93, every), ("STATEMENT_TOTALS_MISMATCH", 93, every),
                          ("STATEMENT_BALANCE_MISMATCH", 57, every)]
    count, totals, balance = (f.detail for f in res.flags)
    assert "NbOfNtries 14 but 15" in count and "TtlCdtNtries/NbOfNtries 9 but 10" in count
    assert "Sum 140.00 but listed entries sum to 169.06" in totals and "net 40.00 CRDT" in totals
    assert "843626.20 USD DBIT" in balance and "846665.15 USD DBIT" in balance and "EUR" in balance
    assert {r.flagged for r in rs} == {"STATEMENT_ENTRY_COUNT_MISMATCH"}  # the first flag wins on a receipt


# --- camt.052 -------------------------------------------------------------------------------------------------

def test_fi_camt052_intraday_pending_entry_is_not_booked():
    res = read("fi052")
    pend, sct = res.receipts
    assert rows(res.receipts) == [
        # Rpt[1]/Ntry: 2120.00 EUR CRDT, Sts PDNG (prenotice of an incoming payment)
        (1, BOOKING, T, 212000, "EUR", "CRDT", PENDING, False, None),
        # Rpt[2]/Ntry: 100.00 EUR CRDT, Sts BOOK
        (1, BOOKING, T, 10000, "EUR", "CRDT", BOOKED, False, None),
    ]
    assert pend.status == "PDNG" and pend.booking != BOOKED
    # no AcctSvcrRef yet: NtryRef 21892819 is not a bank reference
    assert (pend.bank_ref, pend.provider_ref) == (None, "21892819")
    # AmtDtls/InstdAmt 3200.00 USD against the EUR booking (FX); BookgDt 2009-11-02, ValDt 2009-11-03
    assert (pend.instructed_minor, pend.instructed_currency) == (320000, "USD")
    assert (pend.booking_date, pend.value_date) == ("2009-11-02", "2009-11-03")
    # BookgDt/DtTm 2009-10-30T11:00:00+02:00, AcctSvcrRef 091029ACCTSTMTARCH08, Refs/EndToEndId EndToEndIdSCT01
    assert (sct.booking_date, sct.bank_ref, sct.end_to_end_id) == ("2009-10-30", "091029ACCTSTMTARCH08",
                                                                   "EndToEndIdSCT01")
    assert {r.account for r in res.receipts} == {"FI7433010001222090"}
    # Rpt[1] TxsSummry: 1 entry, Sum 2120.00, TtlNetNtryAmt 2120.00 CRDT (pending entries are listed, so counted);
    # Rpt[2]: 1 entry, TtlCdtNtries 1 / 100.00; its balances are interim (ITBD), not OPBD/CLBD: nothing to flag.
    assert res.flags == []


# --- camt.054 -------------------------------------------------------------------------------------------------

def test_moov_camt054_single_debit():
    res = read("moov054debit")
    (r,) = res.receipts
    # Ntry (line 31): Amt Ccy=CHF 913.00, DBIT, RvslInd false, Sts BOOK, one TxDtls, no Btch
    assert rows(res.receipts) == [(31, BOOKING, T, 91300, "CHF", "DBIT", BOOKED, False, None)]
    # Ntry/AcctSvcrRef (line 42) is the bank ref; TxDtls/Refs EndToEndId (line 58), PmtInfId (line 57)
    assert (r.bank_ref, r.end_to_end_id, r.batch_ref) == ("074820002ZU1EQ0K", "20190424001255000100006", "30003101")
    assert (r.account, r.booking_date, r.status) == ("CH2909000000250094239", "2019-04-25", "BOOK")
    assert res.flags == []


def test_moov_camt054_return_booked_by_transaction_code():
    res = read("moov054ret2019")
    batch, det = res.receipts
    assert rows(res.receipts) == [
        # Ntry (line 31): 400.00 CHF CRDT, RvslInd false (line 34) but BkTxCd ICDT/RRTN (line 48): a return;
        # Btch NbOfTxs 1 (line 54) makes it a batch booking
        (31, BOOKING, B, 40000, "CHF", "CRDT", BOOKED, True, None),
        # TxDtls (line 56): Amt 400.00 (line 63), RtrInf/Rsn/Cd AC01 (line 110)
        (56, DETAIL, T, 40000, "CHF", "CRDT", BOOKED, True, "AC01"),
    ]
    assert (batch.n_txs, batch.batch_ref, batch.bank_ref) == (1, "PmtInfId-004-01", "086820002PBWFX2U")
    assert (det.end_to_end_id, det.bank_ref, det.parent_seq) == ("EndToEndId-004-01-01", "180327CH02P92DYD", 0)
    assert det.payee_ref == "CH8709000000929471495"  # a credit: DbtrAcct/Id/IBAN (line 84)
    assert det.reason == "AC01: Kontonummer falsch"  # RtrInf Rsn/Cd + AddtlInf
    assert res.flags == []


def test_moov_camt054_reversal_indicator_is_a_return_not_a_debit():
    res = read("moov054ret2020")
    batch, det = res.receipts
    assert rows(res.receipts) == [
        # Ntry (line 31): 500.00 CHF, CdtDbtInd CRDT, RvslInd true (line 34), ICDT/RRTN: money came back
        (31, BOOKING, B, 50000, "CHF", "CRDT", BOOKED, True, None),
        # TxDtls (line 56): Amt 500.00, RtrInf/Rsn/Cd AC01 (line 110)
        (56, DETAIL, T, 50000, "CHF", "CRDT", BOOKED, True, "AC01"),
    ]
    # the returned payment is the one pain.002 rejected (EndToEndId-001-03-04, PmtInfId-001-03)
    assert (det.end_to_end_id, det.batch_ref, det.bank_ref) == ("EndToEndId-001-03-04", "PmtInfId-001-03",
                                                                "190520CH02ZZTJR1")
    assert (batch.bank_ref, batch.account) == ("075820002ZZTJR1K", "CH5109000000250092291")


def test_genkgo_camt054_v8_batch_debit_whose_lines_disagree():
    res = read("genkgo054v8")
    rs = res.receipts
    assert rows(rs) == [
        # Ntry (line 63): Amt Ccy=SEK 200000 (line 64), DBIT, Sts/Cd BOOK; Btch NbOfTxs 2, TtlAmt 6.3 CHF
        (63, BOOKING, B, 20_000_000, "SEK", "DBIT", BOOKED, False, None),
        # three TxDtls: Amt 3.1 / 3.2 / 3.2 CHF (lines 102, 193, 278); their own CdtDbtInd says CRDT, but they
        # are lines of a debit booking on this account (DbtrAcct = the account, line 134)
        (96, DETAIL, T, 310, "CHF", "DBIT", BOOKED, False, None),
        (187, DETAIL, T, 320, "CHF", "DBIT", BOOKED, False, None),
        (272, DETAIL, T, 320, "CHF", "DBIT", BOOKED, False, None),
    ]
    assert (rs[0].n_txs, rs[0].batch_ref, rs[0].bank_ref) == (2, "UXC06170000006PI00001", "ACSR160617103200001")
    assert [r.end_to_end_id for r in rs[1:]] == ["UXC06170000006PI00001EE00001", "UXC06170000006PI00001EE00002",
                                                 "UXC06170000006PI00001EE00002"]  # the third repeats the second
    assert [r.payee_ref for r in rs[1:]] == ["CH4112345003131313131", "CH7212345003232323232",
                                             "CH7212345003232323232"]  # CdtrAcct of a debit
    assert {(r.account, r.copy) for r in rs} == {("CH2801234000123456789", "CODU")}
    # Contradiction: Btch/NbOfTxs 2 (line 92) but 3 TxDtls, summing 9.50 CHF against Btch/TtlAmt 6.30 CHF (line 93)
    assert flags(res) == [("BATCH_DETAILS_MISMATCH", 63, (0, 1, 2, 3))]
    assert "NbOfTxs 2 but 3 TxDtls" in res.flags[0].detail and "9.50 CHF != Btch/TtlAmt 6.30 CHF" in \
        res.flags[0].detail
    assert {r.flagged for r in rs} == {"BATCH_DETAILS_MISMATCH"}


def test_oca_camt054_one_payment_batch():
    res = read("oca054")
    batch, det = res.receipts
    assert rows(res.receipts) == [
        # Ntry (line 31): 5.00 EUR CRDT, RvslInd false, Btch NbOfTxs 1 (line 55)
        (31, BOOKING, B, 500, "EUR", "CRDT", BOOKED, False, None),
        (57, DETAIL, T, 500, "EUR", "CRDT", BOOKED, False, None),  # TxDtls/Amt 5.00 (line 67)
    ]
    assert (batch.provider_ref, batch.bank_ref, batch.n_txs) == ("NL0000000000000000000", "98888208N8", 1)
    assert (det.end_to_end_id, det.bank_ref, det.payee_ref) == ("ENDTOENDID-01", "15180015077602405",
                                                                "NL46ABNA0499998748")
    assert res.flags == []


def test_fi_camt054_info_entry_is_information_only_and_the_net_total_disagrees():
    res = read("fi054")
    rs = res.receipts
    assert rows(rs) == [
        (1, BOOKING, B, 200000, "EUR", "CRDT", BOOKED, False, None),  # Ntry[1] 2000.00 CRDT, Btch 2, TtlAmt 2000
        (1, DETAIL, T, 190000, "EUR", "CRDT", BOOKED, False, None),   # TxAmt 1900.00
        (1, DETAIL, T, 10000, "EUR", "CRDT", BOOKED, False, None),    # TxAmt 100.00
        (1, BOOKING, B, 50000, "EUR", "CRDT", BOOKED, False, None),   # Ntry[2] 500.00 CRDT, Btch 2
        (1, DETAIL, T, 40000, "EUR", "CRDT", BOOKED, False, None),
        (1, DETAIL, T, 10000, "EUR", "CRDT", BOOKED, False, None),
        (1, BOOKING, B, 300000, "EUR", "CRDT", BOOKED, False, None),  # Ntry[3] 3000.00 CRDT, Btch 2
        (1, DETAIL, T, 250000, "EUR", "CRDT", BOOKED, False, None),
        (1, DETAIL, T, 50000, "EUR", "CRDT", BOOKED, False, None),
        (1, BOOKING, B, 423005, "EUR", "DBIT", BOOKED, False, None),  # Ntry[4] 4230.05 DBIT, Btch 3
        (1, DETAIL, T, 200002, "EUR", "DBIT", BOOKED, False, None),
        (1, DETAIL, T, 100001, "EUR", "DBIT", BOOKED, False, None),
        (1, DETAIL, T, 123002, "EUR", "DBIT", BOOKED, False, None),
        (1, BOOKING, B, 100000, "EUR", "DBIT", BOOKED, False, None),  # Ntry[5] 1000.00 DBIT, FX batch of 2
        (1, DETAIL, T, 50000, "EUR", "DBIT", BOOKED, False, None),    # TxAmt 500.00 EUR, InstdAmt 750.00 USD
        (1, DETAIL, T, 50000, "EUR", "DBIT", BOOKED, False, None),    # TxAmt 500.00 EUR, InstdAmt 79255.00 JPY
        # Ntry[6]: 100.00 CRDT, RvslInd true, Sts INFO, two TxDtls with RtrInf AC01 / CUST: information only.
        # The old reader turned it into two booked returns.
        (1, BOOKING, B, 10000, "EUR", "CRDT", INFO, False, None),
        (1, DETAIL, T, 4000, "EUR", "CRDT", INFO, False, None),
        (1, DETAIL, T, 6000, "EUR", "CRDT", INFO, False, None),
    ]
    info = rs[16:]
    assert all(r.status == "INFO" and not r.reversal and r.return_code is None for r in info)
    assert info[1].reason == "information only: AC01: 1+TILIÄ EI LÖYDY"  # RtrInf kept as text only
    assert [(r.batch_ref, r.n_txs) for r in rs if r.level == B] == [
        ("BANKFILEID998765", 2), ("BANKFILEID998799", 2), ("BANKFILEID998765", 2), ("CustRefForPmtBatch9", 3),
        ("BTCHIDXCBT19210219", 2), ("BANKFILEID998799", 2)]  # Ntry[6] Btch has no NbOfTxs: 2 TxDtls listed
    fx = rs[14:16]
    assert [(r.instructed_minor, r.instructed_currency, r.fee_minor) for r in fx] == [(75000, "USD", 2000),
                                                                                     (79255, "JPY", 2000)]
    assert [(r.end_to_end_id, r.payee_ref) for r in fx] == [("ISSRBKREF12345678", "123456789"),
                                                            ("ISSRBKREF12345679", "123456789")]
    assert [r.end_to_end_id for r in rs[7:9]] == ["EndToEndIdAT-41-001", "EndToEndIdAT-41-002"]
    assert rs[13].value_date is None and rs[13].booked_at == "2009-10-30"  # Ntry[5] has BookgDt but no ValDt
    # TxsSummry: NbOfNtries 6 and Sum 10830.05 agree with the entries, but TtlNetNtryAmt 169.95 CRDT does not:
    # credits 2000.00 + 500.00 + 3000.00 + 100.00 - debits 4230.05 + 1000.00 = 369.95 CRDT (169.95 is what one
    # gets by counting the RvslInd credit of 100.00 as a debit). Every batch adds up with its lines.
    assert flags(res) == [("STATEMENT_TOTALS_MISMATCH", 1, tuple(range(19)))]
    assert "net 169.95 CRDT but credits - debits = 369.95 CRDT" in res.flags[0].detail


# --- pain.002 -------------------------------------------------------------------------------------------------

def test_pain002_group_reject():
    res = read("pain002grp")
    (g,) = res.receipts
    # OrgnlGrpInfAndSts (line 15): OrgnlMsgId MsgId-005, GrpSts RJCT, StsRsnInf Rsn/Cd AM10 + AddtlInf (line 21-23)
    assert (g.kind, g.level, g.status, g.batch_ref, g.line) == (STATUS, B, "RJCT", "MsgId-005", 15)
    assert (g.reversal, g.return_code, g.booking, g.direction) == (True, "AM10", INFO, "DBIT")
    assert g.reason == "AM10: 904114;ControlSum fehlerhaft" and g.amount_minor is None
    assert g.booked_at == "2018-03-26T14:40:00"  # GrpHdr/CreDtTm


def test_pain002_payment_and_transaction_rejected():
    res = read("pain002rjct")
    pmt, tx = res.receipts
    # the whole Document is on line 2: no GrpSts; OrgnlPmtInfAndSts PmtInfSts RJCT, Rsn/Cd NARR;
    # TxInfAndSts TxSts RJCT, Rsn/Cd AC01 "Konto ungültig"
    assert [(r.kind, r.level, r.status, r.batch_ref, r.end_to_end_id, r.reversal, r.return_code, r.line)
            for r in res.receipts] == [
        (STATUS, B, "RJCT", "PmtInfId-006-01", None, True, "NARR", 2),
        (STATUS, T, "RJCT", "PmtInfId-006-01", "EndToEndId-006-01-01", True, "AC01", 2)]
    assert pmt.reason == "NARR: 1297193;Sammelauftrag ohne ausführbaren Einzelauftrag"
    assert tx.reason == "AC01: 1301813;Konto ungültig" and tx.provider_ref == "InstrId-006-01-01"
    assert all(r.booking == INFO and r.amount_minor is None for r in res.receipts)  # OrgnlTxRef has no Amt


def test_pain002_partial_payment_information_rejects_only_its_transaction():
    res = read("pain002part")
    pmt, tx = res.receipts
    # PmtInfSts PART (no reason): the batch is not rejected; TxSts RJCT AC01 for EndToEndId-001-03-04
    assert (pmt.level, pmt.status, pmt.reversal, pmt.return_code, pmt.batch_ref) == (B, "PART", False, None,
                                                                                     "PmtInfId-001-03")
    assert (tx.level, tx.status, tx.reversal, tx.return_code, tx.end_to_end_id) == (T, "RJCT", True, "AC01",
                                                                                    "EndToEndId-001-03-04")
    assert tx.batch_ref == "PmtInfId-001-03" and tx.reason.startswith("AC01: ")


@pytest.mark.parametrize("key", ["moov054debit", "oca053txdtls", "pain002part"])
def test_public_entry_points_keep_their_signatures(key: str):
    data = (ISO / F[key]).read_bytes()
    root = iso_reports.parse_xml(data)
    kind = iso_reports.message_kind(root)
    assert kind in iso_reports.ROOTS and root.tag.rpartition("}")[2] == "Document"
    out = (iso_reports.pain002_receipts(data, "x.xml", "0" * 64) if kind == "pain002"
           else iso_reports.camt_receipts(data, kind, "x.xml", "0" * 64))
    assert isinstance(out, list) and out and out[0].source.startswith("x.xml:")  # consistent: a plain list
