"""Payout batches: pain.001.001.09 valid against the official XSD, HOLD never paid, deterministic ids."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import xmlschema

from connectors.psp.batch import build_batch
from connectors.psp.pain001 import read_pain001
from connectors.psp.payees import demo_payees, parse_payees
from connectors.psp.stripe import form_fields
from tests.conftest import FIXTURES
from tests.recon.demo import CLOSE, DECISIONS, DIGEST, WINDOW, debtor, demo_batch
from vgos.errors import InputError

XSD = FIXTURES / "iso20022" / "xsd" / "pain.001.001.09.xsd"


def test_demo_pain001_has_two_transfers_ctrlsum_836_and_validates(tmp_path):
    batch = demo_batch("pain001")
    path = tmp_path / "batch.xml"
    path.write_bytes(batch.content)
    # independent check with a second XSD implementation (xmlschema), not the one the builder used
    doc = xmlschema.XMLSchema(str(XSD)).to_dict(str(path))
    tx = doc["CstmrCdtTrfInitn"]["PmtInf"][0]["CdtTrfTxInf"]
    assert [t["Cdtr"]["Nm"] for t in tx] == ["Creator One", "Creator Three"]
    assert [Decimal(str(t["Amt"]["InstdAmt"]["$"])) for t in tx] == [Decimal("3.80"), Decimal("4.56")]
    hdr = doc["CstmrCdtTrfInitn"]["GrpHdr"]
    assert Decimal(str(hdr["CtrlSum"])) == Decimal("8.36") and hdr["NbOfTxs"] == "2"
    assert hdr["MsgId"] == batch.provider_batch_id and hdr["CreDtTm"] == CLOSE
    assert batch.ctrl_sum_minor == 836
    assert b"CRE-0002" not in batch.content and b"Creator Two" not in batch.content
    items = read_pain001(path)
    assert [(i["amount_minor"], i["currency"]) for i in items] == [(380, "USD"), (456, "USD")]
    e2e = [i["end_to_end_id"] for i in items]
    assert len(set(e2e)) == 2 and all(len(x) <= 35 for x in e2e)
    assert [x.reason_code for x in batch.excluded] == ["CT_HOLD"]


def test_same_inputs_same_bytes_and_ids_bound_to_digest_and_rail():
    a, b = demo_batch("pain001"), demo_batch("pain001")
    assert a.content == b.content and a.provider_batch_id == b.provider_batch_id
    other_digest = "1" * 64
    decisions = [{**d, "output_digest": other_digest} for d in DECISIONS]
    c = demo_batch("pain001", decisions, digest=other_digest)
    assert c.provider_batch_id != a.provider_batch_id
    assert {i.end_to_end_id for i in c.items}.isdisjoint({i.end_to_end_id for i in a.items})
    assert demo_batch("csv").provider_batch_id != a.provider_batch_id


@pytest.mark.parametrize("rail", ["pain001", "csv", "stripe", "paypal"])
def test_hold_and_stale_decisions_never_appear_in_any_rail(rail):
    decisions = [*DECISIONS[:2], {**DECISIONS[2], "output_digest": "f" * 64}]
    batch = demo_batch(rail, decisions)
    assert [i.principal_id for i in batch.items] == ["CRE-0001"]
    assert {(x.principal_id, x.reason_code) for x in batch.excluded} == {
        ("CRE-0002", "CT_HOLD"), ("CRE-0003", "DIGEST_MISMATCH")}
    payees = demo_payees()
    for pid in ("CRE-0002", "CRE-0003"):
        assert payees[pid].account_ref(rail).encode() not in batch.content


def test_missing_payee_is_reported_never_guessed():
    payees = parse_payees("principal_id,name,iban\nCRE-0001,Creator One,DE89370400440532013000\n")
    kw = dict(tenant_id="default", window_id=WINDOW, output_digest=DIGEST, currency="USD", decisions=DECISIONS,
              debtor=debtor(), execution_date="2025-09-24", payees=payees)
    with pytest.raises(InputError, match="MISSING_PAYEE.*CRE-0003"):
        build_batch("pain001", **kw)
    batch = build_batch("pain001", on_missing_payee="skip", **kw)
    assert [i.principal_id for i in batch.items] == ["CRE-0001"]
    assert ("CRE-0003", "MISSING_PAYEE") in {(x.principal_id, x.reason_code) for x in batch.excluded}


def test_payee_directory_errors_name_the_line():
    with pytest.raises(InputError, match=r"payees.csv:3: field principal_id: duplicate"):
        parse_payees("principal_id,name\nA,x\nA,y\n", "payees.csv")


def test_invalid_debtor_bic_fails_xsd_before_anything_is_written():
    bad = {**debtor(), "bic": "NOT-A-BIC"}
    with pytest.raises(InputError, match="pain.001.001.09.xsd"):
        build_batch("pain001", tenant_id="default", window_id=WINDOW, output_digest=DIGEST, currency="USD",
                    decisions=DECISIONS, debtor=bad, execution_date="2025-09-24", payees=demo_payees())


def test_xsd_dir_override(monkeypatch, tmp_path):
    from connectors.psp import xsd

    monkeypatch.setenv("VGOS_ISO20022_XSD_DIR", str(tmp_path))
    with pytest.raises(InputError, match="XSD for pain.001.001.09 not found"):
        xsd.schema("pain.001.001.09")


def test_csv_rail_amounts_exact():
    rows = demo_batch("csv").content.decode().splitlines()
    assert rows[0].startswith("provider_batch_id,window_id,output_digest,end_to_end_id")
    assert [r.split(",")[8] for r in rows[1:]] == ["3.80", "4.56"]


def test_stripe_transfer_payloads():
    batch = demo_batch("stripe")
    body = json.loads(batch.content)
    reqs = body["requests"]
    assert [r["params"]["amount"] for r in reqs] == [380, 456]
    for r, it in zip(reqs, batch.items, strict=True):
        p = r["params"]
        assert r["path"] == "/v1/transfers" and p["currency"] == "usd"
        assert p["transfer_group"] == WINDOW
        assert p["metadata"]["window_id"] == WINDOW and p["metadata"]["output_digest"] == DIGEST
        assert r["idempotency_key"] == f"{batch.provider_batch_id}:{it.end_to_end_id}"
        assert p["destination"].startswith("acct_")
    fields = dict(form_fields(reqs[0]["params"]))
    assert fields["metadata[output_digest]"] == DIGEST and fields["amount"] == "380"


def test_paypal_payout_payload():
    batch = demo_batch("paypal")
    body = json.loads(batch.content)["body"]
    assert body["sender_batch_header"]["sender_batch_id"] == batch.provider_batch_id
    assert [i["amount"] for i in body["items"]] == [{"value": "3.80", "currency": "USD"},
                                                    {"value": "4.56", "currency": "USD"}]
    assert [i["sender_item_id"] for i in body["items"]] == [i.end_to_end_id for i in batch.items]
    assert all(len(i["sender_item_id"]) <= 63 for i in body["items"])
