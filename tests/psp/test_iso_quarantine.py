"""ISO 20022 files that cannot be trusted at all are quarantined whole (nothing imported); statements that merely
contradict themselves are imported with every receipt of the statement flagged."""

from __future__ import annotations

import re

import pytest

from connectors.psp.receipts import BOOKED, DETAIL, PENDING, Quarantine
from connectors.psp.reports import parse_bytes
from tests.conftest import FIXTURES

ISO = FIXTURES / "iso20022"
DEBIT = (ISO / "moov-iso20022__200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml"
         ).read_bytes()  # camt.054.001.04, one Ntry at line 31, Amt CHF 913.00 at line 32, TxDtls Amt at line 60
RETURN = (ISO / "moov-iso20022__200519_camt054-returns_p_ch2909000000250094239_1109800798_0_2019052023472022.xml"
          ).read_bytes()
BATCH = (ISO / "oca-bsi__test-camt053-txdtls.xml").read_bytes()  # consistent camt.053.001.04 batch statement
FI053 = (ISO / "moov-iso20022__FI_camt_053_sample.xml.xml").read_bytes()  # statement totals and balances agree
FI052 = (ISO / "moov-iso20022__FI_camt_052_sample.xml.xml").read_bytes()  # two reports, both consistent
FI054 = (ISO / "moov-iso20022__FI_camt_054_sample.xml.xml").read_bytes()
PAIN = (ISO / "moov-iso20022__pain002-epo_p_ch5109000000250092291_1110097605_0_2018031511252307.xml").read_bytes()
PAIN001 = (ISO / "pyiso20022-gs__pain001_001_08.xml").read_bytes()
NS4 = b"urn:iso:std:iso:20022:tech:xsd:camt.054.001.04"


def sub(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace the first occurrence of `old` (which must be there)."""
    assert old in data, old
    return data.replace(old, new, 1)


def quarantined(fmt: str, data: bytes) -> Quarantine:
    res = parse_bytes(fmt, data, "bad.xml")
    assert res.receipts == [] and res.flags == [] and not res.ok
    (q,) = res.quarantined
    assert q.reason and q.path == "bad.xml" and q.format == fmt
    return q


# --- quarantine: nothing is imported ---------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "line"), [
    (DEBIT[: len(DEBIT) // 2], DEBIT[: len(DEBIT) // 2].count(b"\n") + 1),  # cut in the middle of the entry
    (DEBIT[:-12], DEBIT[:-12].count(b"\n") + 1),                           # closing tags missing
    (sub(DEBIT, b"</Sts>", b"</Status>"), 35),                              # mismatched tag (Sts at line 35)
], ids=["half", "tail", "mismatched-tag"])
def test_truncated_or_broken_xml_is_malformed_with_its_line(data: bytes, line: int):
    q = quarantined("camt054", data)
    assert (q.reason_code, q.line) == ("REPORT_MALFORMED", line)


@pytest.mark.parametrize("data", [b"", b"id,amount\n1,2\n", b"\xef\xbb\xbf  "], ids=["empty", "csv", "bom"])
def test_not_xml_at_all_is_malformed(data: bytes):
    assert quarantined("camt053", data).reason_code == "REPORT_MALFORMED"


@pytest.mark.parametrize("ns", [
    b"urn:iso:std:iso:20022:tech:xsd:camt.054.001.99",   # no such version
    b"urn:iso:std:iso:20022:tech:xsd:camt.054.001.01",   # before the supported range (02-08)
    b"urn:iso:std:iso:20022:tech:xsd:camt.054.001.09",   # after it
    b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.04",   # another message's namespace around a camt.054 body
    b"http://www.six-interbank-clearing.com/de/camt.054.001.04.ch.02.xsd",  # no such national variant here
    b"urn:example:camt.054",
], ids=["v99", "v01", "v09", "camt053-ns", "six-camt", "foreign"])
def test_wrong_namespace_is_format_mismatch(ns: bytes):
    q = quarantined("camt054", sub(DEBIT, NS4, ns))
    assert (q.reason_code, q.line) == ("FORMAT_MISMATCH", 2)  # the Document element


def test_document_without_namespace_is_format_mismatch():
    q = quarantined("camt054", sub(DEBIT, b' xmlns="' + NS4 + b'"', b""))
    assert q.reason_code == "FORMAT_MISMATCH"


@pytest.mark.parametrize(("fmt", "data"), [
    ("camt053", DEBIT),      # a camt.054 notification handed in as a statement
    ("camt052", BATCH),      # a camt.053 statement as an account report
    ("pain002", DEBIT),
    ("camt053", PAIN001),    # our own outbound pain.001
    ("camt054", PAIN),       # a pain.002 status report
], ids=["054-as-053", "053-as-052", "054-as-pain002", "pain001-as-053", "pain002-as-054"])
def test_wrong_message_type_is_format_mismatch(fmt: str, data: bytes):
    assert quarantined(fmt, data).reason_code == "FORMAT_MISMATCH"


@pytest.mark.parametrize("ns", [b"http://www.six-interbank-clearing.com/de/pain.002.001.03.ch.03.xsd",
                                b"urn:iso:std:iso:20022:tech:xsd:pain.002.001.02",
                                b"urn:iso:std:iso:20022:tech:xsd:pain.002.001.11"], ids=["six-ch03", "v02", "v11"])
def test_pain002_outside_the_supported_versions_is_format_mismatch(ns: bytes):
    six = b"http://www.six-interbank-clearing.com/de/pain.002.001.03.ch.02.xsd"
    assert quarantined("pain002", sub(PAIN, six, ns)).reason_code == "FORMAT_MISMATCH"


AMT = b'<Amt Ccy="CHF">913.00</Amt>'  # Ntry/Amt, line 32


@pytest.mark.parametrize(("data", "code", "line"), [
    (sub(DEBIT, AMT, b'<Amt Ccy="CHF">-913.00</Amt>'), "AMOUNT_INVALID", 32),     # ISO amounts are >= 0
    (sub(DEBIT, AMT, b'<Amt Ccy="CHF">913,00</Amt>'), "AMOUNT_INVALID", 32),      # not a decimal
    (sub(DEBIT, AMT, b'<Amt Ccy="CHF">9.13E2</Amt>'), "AMOUNT_INVALID", 32),
    (sub(DEBIT, AMT, b'<Amt Ccy="CHF"></Amt>'), "AMOUNT_INVALID", 32),
    (sub(DEBIT, AMT, b'<Amt Ccy="CHF">913.001</Amt>'), "AMOUNT_INVALID", 32),     # 3 decimals for CHF (2)
    (sub(DEBIT, AMT, b'<Amt Ccy="ZZZ">913.00</Amt>'), "CURRENCY_INVALID", 32),    # not ISO 4217
    (sub(DEBIT, AMT, b'<Amt Ccy="chf">913.00</Amt>'), "CURRENCY_INVALID", 32),
    (sub(DEBIT, AMT, b'<Amt Ccy="DEM">913.00</Amt>'), "CURRENCY_INVALID", 32),    # historic, no longer active
    (sub(DEBIT, AMT, b"<Amt>913.00</Amt>"), "CURRENCY_INVALID", 32),
    (DEBIT.replace(AMT, b'<Amt Ccy="ZZZ">913.00</Amt>').replace(  # the detail line (line 60) is checked too
        b'<Amt Ccy="ZZZ">913.00</Amt>', AMT, 1), "CURRENCY_INVALID", 60),
    (sub(BATCH, b'<Amt Ccy="CHF">75960.15</Amt>', b'<Amt Ccy="CHF">-75960.15</Amt>'), "AMOUNT_INVALID", 35),  # OPBD
    (sub(FI054, b'<Amt Ccy="JPY">79255.00</Amt>', b'<Amt Ccy="JPY">79255.50</Amt>'), "AMOUNT_INVALID", 1),  # JPY: 0
], ids=["negative", "comma", "exponent", "empty", "decimals", "ZZZ", "lowercase", "historic", "no-ccy", "detail",
        "balance", "yen-decimals"])
def test_bad_amounts_and_currencies_quarantine_the_file(data: bytes, code: str, line: int):
    fmt = "camt053" if b"BkToCstmrStmt" in data else "camt054"
    q = quarantined(fmt, data)
    assert (q.reason_code, q.line) == (code, line)


@pytest.mark.parametrize(("data", "line"), [
    (sub(DEBIT, AMT, b""), 31),                                                    # Ntry/Amt missing
    (sub(DEBIT, b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>DEBIT</CdtDbtInd>"), 31),
    (sub(DEBIT, b"<CdtDbtInd>DBIT</CdtDbtInd>", b""), 31),
    (sub(DEBIT, b"<Sts>BOOK</Sts>", b""), 31),                                     # entry status missing
    (sub(DEBIT, b"<Sts>BOOK</Sts>", b"<Sts>DONE</Sts>"), 31),                      # not an entry status code
    (sub(RETURN, b"<NbOfTxs>1</NbOfTxs>", b"<NbOfTxs>one</NbOfTxs>"), 54),
    (sub(BATCH, b"<CdtDbtInd>CRDT</CdtDbtInd>", b""), 29),                         # OPBD balance without sign
], ids=["no-amt", "bad-cdtdbtind", "no-cdtdbtind", "no-sts", "bad-sts", "bad-nboftxs", "balance-sign"])
def test_missing_required_elements_are_schema_errors(data: bytes, line: int):
    fmt = "camt053" if b"BkToCstmrStmt" in data else "camt054"
    q = quarantined(fmt, data)
    assert (q.reason_code, q.line) == ("REPORT_SCHEMA", line)


def test_statement_message_without_statement_is_a_schema_error():
    data = re.sub(rb"<Ntfctn>.*</Ntfctn>", b"", DEBIT, flags=re.S)
    assert quarantined("camt054", data).reason_code == "REPORT_SCHEMA"


def test_external_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-42")
    doctype = f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'.encode()
    data = sub(RETURN, b"?>\n", b"?>\n" + doctype).replace(b"Kontonummer falsch", b"&xxe;")
    res = parse_bytes("camt054", data, "xxe.xml")
    assert res.ok and "TOPSECRET" not in repr(res.receipts)


# --- self-contradicting statements: imported, every receipt of the statement flagged --------------------------

def flagged(fmt: str, data: bytes) -> tuple[list[str], list]:
    res = parse_bytes(fmt, data, "stmt.xml")
    assert res.ok and res.receipts
    return [f.reason_code for f in res.flags], res.receipts


def drop_entry(data: bytes, bank_ref: bytes) -> bytes:
    """The file without the Ntry whose AcctSvcrRef is `bank_ref` (text surgery keeps the other lines)."""
    out, n = re.subn(rb"<Ntry>(?:(?!<Ntry>).)*?<AcctSvcrRef>" + bank_ref + rb"</AcctSvcrRef>.*?</Ntry>", b"", data,
                     count=1, flags=re.S)
    assert n == 1
    return out


def test_consistent_statements_are_not_flagged():
    assert flagged("camt053", BATCH)[0] == []
    # FI camt.053: only three batches that list 1 of NbOfTxs 2 transactions; its own totals and balances agree
    assert flagged("camt053", FI053)[0] == ["BATCH_DETAILS_MISMATCH"] * 3
    assert flagged("camt052", FI052)[0] == []


@pytest.mark.parametrize(("old", "new"), [
    (b'<Amt Ccy="CHF">79443.15</Amt>', b'<Amt Ccy="CHF">79443.16</Amt>'),  # CLBD one cent off (line 47)
    (b"<CdtDbtInd>CRDT</CdtDbtInd>\n        <Dt>\n          <Dt>2017-03-22",  # OPBD turned into a debit balance
     b"<CdtDbtInd>DBIT</CdtDbtInd>\n        <Dt>\n          <Dt>2017-03-22"),
    (b'<Amt Ccy="CHF">79443.15</Amt>', b'<Amt Ccy="EUR">79443.15</Amt>'),  # closing in another currency
], ids=["closing", "opening-sign", "closing-currency"])
def test_balance_that_does_not_add_up_flags_every_receipt(old: bytes, new: bytes):
    codes, rs = flagged("camt053", sub(BATCH, old, new))
    assert codes == ["STATEMENT_BALANCE_MISMATCH"]
    assert len(rs) == 3 and all(r.flagged == "STATEMENT_BALANCE_MISMATCH" for r in rs)


def test_removed_entry_breaks_count_totals_and_balance():
    data = drop_entry(FI053, b"091029ACCTSTMTARCH08")  # Ntry[9]: the 10000.00 EUR credit
    codes, rs = flagged("camt053", data)
    assert codes == ["STATEMENT_ENTRY_COUNT_MISMATCH", "STATEMENT_TOTALS_MISMATCH", "STATEMENT_BALANCE_MISMATCH"] + \
        ["BATCH_DETAILS_MISMATCH"] * 3
    assert len(rs) == 17 and all(r.flagged == "STATEMENT_ENTRY_COUNT_MISMATCH" for r in rs)


@pytest.mark.parametrize(("old", "new", "code"), [
    (b"<NbOfNtries>10</NbOfNtries>", b"<NbOfNtries>11</NbOfNtries>", "STATEMENT_ENTRY_COUNT_MISMATCH"),
    (b"<NbOfNtries>6</NbOfNtries>", b"<NbOfNtries>5</NbOfNtries>", "STATEMENT_ENTRY_COUNT_MISMATCH"),  # credits
    (b"<Sum>23075.00</Sum>", b"<Sum>23075.01</Sum>", "STATEMENT_TOTALS_MISMATCH"),                     # credit sum
    (b"<Sum>9430.17</Sum>", b"<Sum>9430.71</Sum>", "STATEMENT_TOTALS_MISMATCH"),                       # debit sum
], ids=["count", "credit-count", "credit-sum", "debit-sum"])
def test_changed_total_flags_the_whole_statement(old: bytes, new: bytes, code: str):
    codes, rs = flagged("camt053", sub(FI053, old, new))
    assert codes == [code] + ["BATCH_DETAILS_MISMATCH"] * 3  # statement flags first: they win on every receipt
    assert len(rs) == 18 and all(r.flagged == code for r in rs)


@pytest.mark.parametrize(("old", "new"), [
    (b"<TtlNetNtryAmt>2120.00</TtlNetNtryAmt>", b"<TtlNetNtryAmt>2120.01</TtlNetNtryAmt>"),
    (b"<TtlNetNtryAmt>2120.00</TtlNetNtryAmt>\r\t\t\t\t\t<CdtDbtInd>CRDT",  # the file breaks lines with CR
     b"<TtlNetNtryAmt>2120.00</TtlNetNtryAmt>\r\t\t\t\t\t<CdtDbtInd>DBIT"),
    (b"<Sum>2120.00</Sum>", b"<Sum>2100.00</Sum>"),
], ids=["net", "net-sign", "sum"])
def test_flags_taint_only_the_report_that_contradicts_itself(old: bytes, new: bytes):
    res = parse_bytes("camt052", sub(FI052, old, new), "rpt.xml")
    assert [(f.reason_code, f.seqs) for f in res.flags] == [("STATEMENT_TOTALS_MISMATCH", (0,))]
    pending, booked = res.receipts  # Rpt[1] (pending prenotice) is flagged, Rpt[2] is not
    assert (pending.booking, pending.flagged) == (PENDING, "STATEMENT_TOTALS_MISMATCH")
    assert (booked.booking, booked.flagged) == (BOOKED, None)


@pytest.mark.parametrize("data", [
    sub(BATCH, b'<Amt Ccy="CHF">2187.00</Amt>', b'<Amt Ccy="CHF">2186.00</Amt>'),  # lines sum to 3482.00 != 3483.00
    sub(BATCH, b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>3</NbOfTxs>"),                   # says 3, lists 2
    re.sub(rb"<TxDtls>(?:(?!<TxDtls>).)*?1296\.00.*?</TxDtls>", b"", BATCH, count=1, flags=re.S),  # one line gone
], ids=["detail-amount", "nboftxs", "missing-detail"])
def test_batch_whose_lines_disagree_flags_that_entry(data: bytes):
    codes, rs = flagged("camt053", data)
    assert codes == ["BATCH_DETAILS_MISMATCH"]
    assert all(r.flagged == "BATCH_DETAILS_MISMATCH" for r in rs)
    assert rs[0].amount_minor == 348300  # the booked amount stays Ntry/Amt whatever the lines say


# --- the versions the reader accepts (synthetic minimal messages) -----------------------------------------------

BODIES = {"camt.052": ("BkToCstmrAcctRpt", "Rpt"), "camt.053": ("BkToCstmrStmt", "Stmt"),
          "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}


def entry(version: int, amount: str, ccy: str = "EUR", direction: str = "CRDT", sts: str = "BOOK",
          dtls: str = "", chrgs: str = "") -> str:
    status = f"<Sts><Cd>{sts}</Cd></Sts>" if version >= 6 else f"<Sts>{sts}</Sts>"
    return (f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>{status}'
            f"<BookgDt><Dt>2025-09-24</Dt></BookgDt>{chrgs}{dtls}</Ntry>")


def camt(msg: str, version: int, entries: list[str], head: str = "") -> bytes:
    root, stmt = BODIES[msg]
    ns = f"urn:iso:std:iso:20022:tech:xsd:{msg}.001.{version:02d}"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><{root}><GrpHdr><MsgId>M</MsgId>'
            f"<CreDtTm>2025-09-24T18:00:00</CreDtTm></GrpHdr><{stmt}><Id>S</Id>"
            f"<Acct><Id><IBAN>CH9300762011623852957</IBAN></Id></Acct>{head}{''.join(entries)}</{stmt}>"
            f"</{root}></Document>").encode()


@pytest.mark.parametrize("msg", sorted(BODIES))
@pytest.mark.parametrize("version", range(2, 9))
def test_every_supported_camt_version_reads(msg: str, version: int):
    pdng = entry(version, "5.00", sts="PDNG", direction="DBIT")
    res = parse_bytes(msg.replace(".", ""), camt(msg, version, [entry(version, "10.00"), pdng]), "v.xml")
    assert res.ok and res.flags == []
    assert [(r.amount_minor, r.direction, r.booking, r.status) for r in res.receipts] == [
        (1000, "CRDT", BOOKED, "BOOK"), (500, "DBIT", PENDING, "PDNG")]


@pytest.mark.parametrize(("ccy", "text", "minor"), [("JPY", "1500", 1500), ("KWD", "1.234", 1234),
                                                     ("BHD", "0.500", 500), ("EUR", "1.230", 123)])
def test_minor_units_follow_the_currency(ccy: str, text: str, minor: int):
    res = parse_bytes("camt053", camt("camt.053", 8, [entry(8, text, ccy)]), "m.xml")
    assert [(r.amount_minor, r.currency) for r in res.receipts] == [(minor, ccy)]


@pytest.mark.parametrize(("ccy", "text"), [("JPY", "1500.5"), ("KWD", "1.2345"), ("EUR", "1.234")])
def test_more_decimals_than_the_currency_allows_is_amount_invalid(ccy: str, text: str):
    q = quarantined("camt053", camt("camt.053", 8, [entry(8, text, ccy)]))
    assert q.reason_code == "AMOUNT_INVALID"


def test_v08_net_total_and_included_charges():
    summary = ("<TxsSummry><TtlNtries><NbOfNtries>2</NbOfNtries><Sum>17.50</Sum>"
               "<TtlNetNtry><Amt>{net}</Amt><CdtDbtInd>{ind}</CdtDbtInd></TtlNetNtry></TtlNtries></TxsSummry>")
    chrgs = ('<Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">0.50</TtlChrgsAndTaxAmt><Rcrd><Amt Ccy="EUR">0.50</Amt>'
             "<ChrgInclInd>true</ChrgInclInd></Rcrd></Chrgs>")
    lines = "".join(f'<TxDtls><Refs><EndToEndId>E{i}</EndToEndId></Refs><Amt Ccy="EUR">{a}</Amt></TxDtls>'
                    for i, a in enumerate(("5.00", "2.00")))
    debit = entry(8, "7.50", direction="DBIT", chrgs=chrgs, dtls=f"<NtryDtls>{lines}</NtryDtls>")
    ok = parse_bytes("camt053", camt("camt.053", 8, [entry(8, "10.00"), debit],
                                     summary.format(net="2.50", ind="CRDT")), "ok.xml")
    assert ok.ok and ok.flags == []
    batch = ok.receipts[1]  # 7.50 debited = lines 5.00 + 2.00 plus the included 0.50 charge: consistent
    assert (batch.level, batch.amount_minor, batch.fee_minor, batch.fee_included, batch.n_txs) == (
        "BATCH", 750, 50, True, 2)
    assert [(r.kind, r.amount_minor, r.end_to_end_id) for r in ok.receipts[2:]] == [(DETAIL, 500, "E0"),
                                                                                  (DETAIL, 200, "E1")]
    bad = parse_bytes("camt053", camt("camt.053", 8, [entry(8, "10.00"), debit],
                                      summary.format(net="2.50", ind="DBIT")), "bad.xml")
    assert [f.reason_code for f in bad.flags] == ["STATEMENT_TOTALS_MISMATCH"]
    assert all(r.flagged for r in bad.receipts)


def pain002(version: int, body: str) -> bytes:
    ns = f"urn:iso:std:iso:20022:tech:xsd:pain.002.001.{version:02d}"
    return (f'<Document xmlns="{ns}"><CstmrPmtStsRpt><GrpHdr><MsgId>S1</MsgId>'
            f"<CreDtTm>2025-09-24T10:00:00</CreDtTm></GrpHdr>{body}</CstmrPmtStsRpt></Document>").encode()


TX = ("<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{sts}</TxSts>{why}"
      '<OrgnlTxRef><Amt><InstdAmt Ccy="{ccy}">12.50</InstdAmt></Amt></OrgnlTxRef></TxInfAndSts>')


@pytest.mark.parametrize("version", range(3, 11))
def test_every_supported_pain002_version_reads(version: int):
    why = "<StsRsnInf><Rsn><Prtry>X1</Prtry></Rsn><AddtlInf>closed</AddtlInf></StsRsnInf>"
    body = ("<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pain.001</OrgnlMsgNmId>"
            "<GrpSts>PART</GrpSts></OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>"
            + TX.format(e2e="E1", sts="ACSC", why="", ccy="EUR") + TX.format(e2e="E2", sts="RJCT", why=why, ccy="EUR")
            + "</OrgnlPmtInfAndSts>")
    res = parse_bytes("pain002", pain002(version, body), "p.xml")
    assert res.ok
    assert [(r.level, r.status, r.batch_ref, r.end_to_end_id, r.amount_minor, r.reversal, r.return_code)
            for r in res.receipts] == [("BATCH", "PART", "M1", None, None, False, None),
                                       ("TX", "ACSC", "P1", "E1", 1250, False, None),
                                       ("TX", "RJCT", "P1", "E2", 1250, True, "X1")]
    assert res.receipts[2].reason == "X1: closed"


def test_pain002_bad_currency_is_quarantined():
    body = ("<OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pain.001</OrgnlMsgNmId>"
            "</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>"
            + TX.format(e2e="E1", sts="ACSC", why="", ccy="ZZZ") + "</OrgnlPmtInfAndSts>")
    assert quarantined("pain002", pain002(10, body)).reason_code == "CURRENCY_INVALID"
    assert quarantined("pain002", pain002(10, body)[:-40]).reason_code == "REPORT_MALFORMED"
