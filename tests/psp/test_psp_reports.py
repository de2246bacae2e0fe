"""Provider reports → receipts: every shared sample parses; malformed files are quarantined whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.psp.pain001 import read_pain001
from connectors.psp.reports import detect_format, parse_bytes, parse_report
from tests.conftest import FIXTURES
from vgos_app.cli import main

ISO = sorted((FIXTURES / "iso20022").glob("*.xml"))
PSP = sorted((FIXTURES / "psp").glob("*.csv"))
# Fixture files that are not provider reports this project reads (see connectors/psp/reports.py UNSUPPORTED).
NOT_REPORTS = {"pain001": [p for p in ISO if "pain001" in p.name.replace(".", "") or "pain.001" in p.name],
               "unsupported": [p for p in PSP if "CheckoutCom" in p.name or "accounting_report" in p.name]}


@pytest.mark.parametrize("path", [p for p in ISO + PSP if p not in sum(NOT_REPORTS.values(), [])],
                         ids=lambda p: p.name[:60])
def test_every_shared_report_sample_parses(path: Path):
    fmt = detect_format(path.read_bytes())
    assert fmt is not None
    res = parse_report(fmt, path)
    assert res.quarantined == [] and res.receipts
    for r in res.receipts:
        assert r.raw_sha256 == res.raw_sha256 and r.source == f"{path.name}:{r.line}" and r.line >= 1
        assert r.amount_minor is None or isinstance(r.amount_minor, int)


@pytest.mark.parametrize("path", NOT_REPORTS["pain001"], ids=lambda p: p.name[:60])
def test_pain001_samples_read_back(path: Path):
    items = read_pain001(path)
    assert items and all(isinstance(i["amount_minor"], int) and i["currency"] for i in items)


@pytest.mark.parametrize("path", NOT_REPORTS["unsupported"], ids=lambda p: p.name[:60])
def test_unsupported_psp_files_are_refused_explicitly(path: Path):
    assert detect_format(path.read_bytes()) is None
    res = parse_report("adyen-settlement", path)
    assert res.receipts == [] and res.quarantined[0].reason_code == "FORMAT_MISMATCH"


def test_known_values_exact_minor_units():
    ch = parse_report("camt054", FIXTURES / "iso20022" /
                      "moov-iso20022__200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml")
    (r,) = ch.receipts
    assert (r.amount_minor, r.currency, r.direction, r.end_to_end_id) == (91300, "CHF", "DBIT",
                                                                         "20190424001255000100006")
    sts = parse_report("pain002", next(p for p in ISO if "pain002" in p.name and "1109800799" in p.name)).receipts
    tx = [x for x in sts if x.level == "TX"][0]
    assert (tx.status, tx.end_to_end_id) == ("RJCT", "EndToEndId-006-01-01") and tx.reason.startswith("AC01")
    stripe = parse_report("stripe", FIXTURES / "psp" / "smashpig__Stripe__settlement_report.csv").receipts
    assert (stripe[0].amount_minor, stripe[0].fee_minor, stripe[0].currency) == (2500, 95, "USD")
    pp = parse_report("paypal-stl", FIXTURES / "psp" / "smashpig__PayPal__stl.csv").receipts
    assert (pp[0].amount_minor, pp[0].fee_minor, pp[0].currency) == (5200, 225, "AUD")
    batch = [x for x in parse_report("camt054", FIXTURES / "iso20022" / "genkgo-camt__camt054.v8.xml").receipts
             if x.level == "BATCH"][0]
    # Ntry/Amt (what the account was debited) is 200000 SEK; Btch/TtlAmt says 6.30 CHF and NbOfTxs 2 while three
    # TxDtls are listed: the sample contradicts itself, so it is imported flagged
    assert (batch.amount_minor, batch.currency, batch.n_txs, batch.batch_ref, batch.flagged) == (
        20000000, "SEK", 2, "UXC06170000006PI00001", "BATCH_DETAILS_MISMATCH")


CAMT = (FIXTURES / "iso20022" / "genkgo-camt__camt054.v8.xml").read_bytes()
STRIPE = (FIXTURES / "psp" / "smashpig__Stripe__settlement_report.csv").read_bytes()


@pytest.mark.parametrize(("fmt", "data", "code", "line"), [
    ("camt054", CAMT[: len(CAMT) // 2], "REPORT_MALFORMED", None),
    ("camt054", CAMT.replace(b'<Amt Ccy="CHF">3.1</Amt>', b'<Amt Ccy="CHF">3.105</Amt>', 1), "AMOUNT_INVALID", 102),
    ("camt054", CAMT.replace(b'<Amt Ccy="SEK">200000</Amt>', b"", 1), "REPORT_SCHEMA", 63),
    ("camt053", CAMT, "FORMAT_MISMATCH", None),
    ("stripe", STRIPE.replace(b"USD,25,0.95", b"XX1,25,0.95"), "CURRENCY_INVALID", 2),
    ("stripe", STRIPE.replace(b",0.95,", b",0.9x,"), "AMOUNT_INVALID", 2),
    ("stripe", STRIPE + b"txn_999,short,row\n", "REPORT_MALFORMED", 9),
    ("paypal-stl", b'"SB",1,2\n', "FORMAT_MISMATCH", 1),
])
def test_malformed_files_are_quarantined_whole(fmt, data, code, line):
    res = parse_bytes(fmt, data, "bad.file")
    assert res.receipts == []
    (q,) = res.quarantined
    assert q.reason_code == code and q.reason
    if line is not None:
        assert q.line == line
    else:
        assert q.line is None or q.line >= 1


def test_cli_recon_parse_prints_json_lines(capsys, tmp_path):
    f = FIXTURES / "iso20022" / "genkgo-camt__camt054.v8.xml"
    assert main(["recon", "parse", "--format", "camt054", str(f)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4 and {x["level"] for x in lines} == {"TX", "BATCH"}
    bad = tmp_path / "bad.xml"
    bad.write_bytes(CAMT[:500])
    assert main(["recon", "parse", "--format", "camt054", str(bad)]) == 2
    assert "quarantined REPORT_MALFORMED" in capsys.readouterr().err


def test_an_amount_beyond_exact_range_quarantines_the_file():
    """10^22 minor units has no exact JSON form and overflows int64 sums: the whole file is set aside."""
    huge = STRIPE.replace(b"USD,25,0.95,24.05", b"USD,99999999999999999999,0.95,99999999999999999998.05")
    res = parse_bytes("stripe", huge, "huge.csv")
    assert res.receipts == [] and res.quarantined[0].reason_code == "AMOUNT_INVALID"
    assert res.quarantined[0].line == 2 and "amount_minor" in res.quarantined[0].reason
