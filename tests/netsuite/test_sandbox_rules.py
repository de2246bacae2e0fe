"""The sandbox enforces NetSuite's rules: 100 records per upsertList, `update` edits, paid bills, closed periods."""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests

from connectors.netsuite import jsonexact
from connectors.netsuite.auth import oauth1_auth
from connectors.netsuite.model import bill_external_id
from connectors.netsuite.rest_client import RestClient
from connectors.netsuite.retry import NetSuiteError
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import build_bill_specs, sync_window, verify_window
from tests.netsuite.conftest import CREDS, NO_SLEEP, config_for, decisions, window

EXT1 = bill_external_id("default", "2025-09-23", "CRE-0001")


def _client(sb, **over) -> SuiteTalkClient:
    return SuiteTalkClient(config_for(sb, **over), retry=NO_SLEEP)


def _ui_edit(client: SuiteTalkClient, internal_id: str, **fields) -> object:
    """What a person's edit in the UI produces: an `update` naming the record and only the changed fields."""
    record = client.type("purchases", "VendorBill")(internalId=internal_id, **fields)
    return client.call("update", record=record)


def test_upsert_list_over_100_records_is_refused_with_netsuites_fault(sandbox) -> None:
    client = _client(sandbox)
    spec = build_bill_specs(**window())[0]
    specs = [replace(spec, external_id=f"bulk-{i:03d}") for i in range(101)]
    with pytest.raises(NetSuiteError) as err:
        client.call("upsertList", record=[client.bill_record(s) for s in specs])
    assert err.value.code == "EXCEEDED_MAX_RCRD"
    assert sandbox.store.all() == []
    resp = client.call("upsertList", record=[client.bill_record(s) for s in specs[:100]])
    assert len(list(resp.iter("{*}writeResponse"))) == 100 and len(sandbox.store.all()) == 100


def test_update_changes_only_the_fields_a_person_edited_and_verify_sees_it(sandbox) -> None:
    client = _client(sandbox)
    assert sync_window(client, **window()).ok
    rec = sandbox.store.get("vendorBill", external_id=EXT1)
    resp = _ui_edit(client, rec.internal_id, memo="edited by AP", paymentHold=True)
    assert next(resp.iter("{*}status")).get("isSuccess") == "true"
    assert rec.fields["memo"].text == "edited by AP" and rec.fields["paymentHold"].text == "true"
    assert len(list(rec.fields["expenseList"])) == 3  # untouched fields and lines stay
    drift = verify_window(client, **window())  # a person's hold on an eligible bill is theirs: listed, not drift
    assert drift.ok and drift.manual_holds == [EXT1]
    missing = _ui_edit(client, "999999", memo="x")
    status = next(missing.iter("{*}status"))
    assert status.get("isSuccess") == "false" and status.findtext("{*}statusDetail/{*}code") == "RCRD_DSNT_EXIST"


def test_a_paid_bill_refuses_edits_over_soap_rest_and_update(sandbox) -> None:
    client = _client(sandbox)
    assert sync_window(client, **window()).ok
    sandbox.store.mark_paid("vendorBill", EXT1)
    before = sandbox.store.get("vendorBill", external_id=EXT1).fields["customFieldList"]
    digest = "a" * 64
    report = sync_window(client, **window(output_digest=digest, decisions=decisions(digest)))
    assert [f.external_id for f in report.failed] == [EXT1] and report.failed[0].code == "TRANS_EDIT_DISALLWD"
    assert len(report.updated) == 2
    assert sandbox.store.get("vendorBill", external_id=EXT1).fields["customFieldList"] is before
    rest = RestClient(config_for(sandbox, transport="rest"), retry=NO_SLEEP)
    result = rest.upsert_bill(build_bill_specs(**window(output_digest=digest, decisions=decisions(digest)))[0])
    assert not result.ok and result.code == "TRANS_EDIT_DISALLWD"
    rec = sandbox.store.get("vendorBill", external_id=EXT1)
    status = next(_ui_edit(client, rec.internal_id, memo="x").iter("{*}status"))
    assert status.get("isSuccess") == "false"


def test_closed_period_refuses_creates_and_edits(sandbox) -> None:
    client = _client(sandbox)
    assert sync_window(client, **window()).ok
    sandbox.store.close_period("2025-09")
    digest = "b" * 64
    report = sync_window(client, **window(output_digest=digest, decisions=decisions(digest)))
    assert len(report.failed) == 3 and {f.code for f in report.failed} == {"TRAN_PRD_CLOSED"}
    assert all(r.fields["customFieldList"][1].findtext("{*}value") != digest for r in sandbox.store.all())
    # a new bill dated in the closed period is refused too, and leaves no record behind
    other = window(window_id="2025-09-30", tran_date="2025-09-30")
    assert {f.code for f in sync_window(client, **other).failed} == {"TRAN_PRD_CLOSED"}
    assert len(sandbox.store.all()) == 3
    # moving an open bill into the closed period is an edit in that period as well
    url = f"{sandbox.url}/services/rest/record/v1/vendorBill/eid:new-in-october"
    auth_headers = {"Content-Type": "application/json"}
    created = requests.put(url, data=jsonexact.dumps({"entity": {"id": "1"}, "tranDate": "2025-10-02"}).encode(),
                           auth=oauth1_auth(CREDS), headers=auth_headers, timeout=10)
    assert created.status_code == 204
    moved = requests.put(url, data=jsonexact.dumps({"tranDate": "2025-09-15"}).encode(), auth=oauth1_auth(CREDS),
                         headers=auth_headers, timeout=10)
    assert moved.status_code == 400 and b"TRAN_PRD_CLOSED" in moved.content


def test_rest_rejects_a_bad_date_and_unknown_sublist_fields(sandbox) -> None:
    url = f"{sandbox.url}/services/rest/record/v1/vendorBill/eid:bad-date"
    for body in ({"tranDate": "23/09/2025"}, {"expense": {"items": [{"colour": "red"}]}}):
        resp = requests.put(url, data=jsonexact.dumps(body).encode(), auth=oauth1_auth(CREDS), timeout=10,
                            headers={"Content-Type": "application/json"})
        assert resp.status_code == 400
    assert sandbox.store.all() == []
