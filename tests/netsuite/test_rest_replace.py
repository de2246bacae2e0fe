"""Line replacement on update, REST and SOAP on one account: same bills, same externalIds, no doubled amounts."""

from __future__ import annotations

import requests
from lxml import etree

from connectors.netsuite import jsonexact
from connectors.netsuite.auth import oauth1_auth
from connectors.netsuite.model import bill_external_id
from connectors.netsuite.rest_client import RestClient
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import build_bill_specs, sync_window, verify_window
from tests.netsuite.conftest import ALLOCATIONS, CREDS, NO_SLEEP, config_for, decisions, window

PIDS = ("CRE-0001", "CRE-0002", "CRE-0003")


def _resealed(factor: int, digest_char: str) -> dict:
    """The demo window re-sealed with every amount multiplied (a new digest, same payees)."""
    digest = digest_char * 64
    allocs = [{**a, **{k: a[k] * factor for k in ("net_minor", "bonus_floor_minor", "carry_minor",
                                                     "payout_minor")}} for a in ALLOCATIONS]
    return window(allocations=allocs, output_digest=digest, decisions=decisions(digest))


def _totals(sb) -> dict[str, int]:
    """Each stored bill's total in cents, read straight from the sandbox store (no client code)."""
    out = {}
    for rec in sb.store.all("vendorBill"):
        amounts = [e.findtext("{*}amount") for e in rec.fields["expenseList"].iterfind("{*}expense")]
        out[rec.external_id] = sum(round(float(a) * 100) for a in amounts)
    return out


def _expected(factor: int) -> dict[str, int]:
    return {bill_external_id("default", "2025-09-23", a["principal_id"]): a["payout_minor"] * factor
            for a in ALLOCATIONS}


def _put(sb, external_id: str, body: dict, query: str = "") -> requests.Response:
    url = f"{sb.url}/services/rest/record/v1/vendorBill/eid:{external_id}{query}"
    return requests.put(url, data=jsonexact.dumps(body).encode(), auth=oauth1_auth(CREDS), timeout=10,
                        headers={"Content-Type": "application/json"})


def test_sandbox_appends_rest_lines_without_replace_and_replaces_with_it(sandbox) -> None:
    rest = RestClient(config_for(sandbox, transport="rest"), retry=NO_SLEEP)
    spec = build_bill_specs(**window())[0]
    body = rest.bill_body(spec)
    assert _put(sandbox, spec.external_id, body).status_code == 204
    assert _put(sandbox, spec.external_id, body).status_code == 204  # what NetSuite does: lines appended
    assert _totals(sandbox)[spec.external_id] == 2 * spec.total_minor
    assert _put(sandbox, spec.external_id, body, "?replace=expense").status_code == 204
    assert _totals(sandbox)[spec.external_id] == spec.total_minor


def test_rest_reseal_replaces_lines_instead_of_doubling_them(sandbox) -> None:
    rest = RestClient(config_for(sandbox, transport="rest"), retry=NO_SLEEP)
    assert sync_window(rest, **window()).ok
    resealed = _resealed(2, "b")
    report = sync_window(rest, **resealed)
    assert report.ok and len(report.updated) == 3
    assert _totals(sandbox) == _expected(2)
    assert verify_window(rest, **resealed).ok


def test_soap_client_replaces_all_lines_and_sandbox_appends_when_replace_all_is_false(sandbox) -> None:
    client = SuiteTalkClient(config_for(sandbox), retry=NO_SLEEP)
    spec = build_bill_specs(**window())[0]
    record = client.bill_record(spec)
    env = etree.fromstring(client.envelope("upsert", record=record))
    assert next(env.iter("{*}expenseList")).get("replaceAll") == "true"
    assert client.upsert_bill(spec).ok
    record.expenseList.replaceAll = False
    client.call("upsert", record=record)
    assert _totals(sandbox)[spec.external_id] == 2 * spec.total_minor  # appended, as NetSuite does
    assert client.upsert_bill(spec).ok
    assert _totals(sandbox)[spec.external_id] == spec.total_minor


def test_soap_reseal_with_new_amounts_replaces_lines(sandbox) -> None:
    client = SuiteTalkClient(config_for(sandbox), retry=NO_SLEEP)
    assert sync_window(client, **window()).ok
    resealed = _resealed(3, "c")
    assert sync_window(client, **resealed).ok
    assert _totals(sandbox) == _expected(3)
    assert verify_window(client, **resealed).ok


def test_soap_then_rest_then_soap_on_one_window(sandbox) -> None:
    soap = SuiteTalkClient(config_for(sandbox), retry=NO_SLEEP)
    rest = RestClient(config_for(sandbox, transport="rest"), retry=NO_SLEEP)

    first = sync_window(soap, **window())
    assert first.ok and len(first.created) == 3
    # REST sees the SOAP bills under the same externalIds: nothing to create, nothing to change
    same = sync_window(rest, **window())
    assert same.created == [] and len(same.unchanged) == 3
    resealed = _resealed(2, "d")
    second = sync_window(rest, **resealed)
    assert second.ok and second.created == [] and len(second.updated) == 3
    assert _totals(sandbox) == _expected(2)
    # a SOAP search over bills REST wrote must work, and SOAP must find them rather than create others
    assert verify_window(soap, **resealed).ok
    third_window = _resealed(5, "e")
    third = sync_window(soap, **third_window)
    assert third.ok and third.created == [] and len(third.updated) == 3
    assert len(sandbox.store.all("vendorBill")) == 3
    assert _totals(sandbox) == _expected(5)
    assert verify_window(rest, **third_window).ok and verify_window(soap, **third_window).ok
    by_ext = {b.external_id: b for b in soap.find_window_bills("2025-09-23", "USD")}
    assert sorted(by_ext) == sorted(bill_external_id("default", "2025-09-23", p) for p in PIDS)
