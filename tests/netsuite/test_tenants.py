"""Two tenants on one NetSuite account: each sync reads and writes only its own bills, over SOAP and REST."""

from __future__ import annotations

import pytest

from connectors.netsuite.model import bill_external_id
from connectors.netsuite.rest_client import RestClient
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import sync_window, verify_window
from tests.netsuite.conftest import ALLOCATIONS, NO_SLEEP, config_for, window

W = "2025-09-23"
ACME, GLOBEX = "a" * 64, "b" * 64


def _client(sb, transport: str):
    return (RestClient if transport == "rest" else SuiteTalkClient)(config_for(sb, transport=transport),
                                                                    retry=NO_SLEEP)


def _tenant_window(tenant: str, digest: str, allocations: list[dict] = ALLOCATIONS) -> dict:
    decs = [{"principal_id": a["principal_id"], "payout_minor": a["payout_minor"], "decision": "ALLOW",
             "output_digest": digest} for a in allocations]
    return window(tenant_id=tenant, output_digest=digest, allocations=allocations, decisions=decs)


def _digests(sb) -> dict[str, str]:
    """externalId -> stamped digest, straight from the sandbox store."""
    out = {}
    for rec in sb.store.all("vendorBill"):
        custom = {cf.get("scriptId"): cf.findtext("{*}value") for cf in rec.fields["customFieldList"]}
        out[rec.external_id] = custom["custbody_vgos_output_digest"]
    return out


@pytest.mark.parametrize(("first", "second"), [("soap", "soap"), ("rest", "rest"), ("soap", "rest")])
def test_two_tenants_same_window_one_account_stay_apart(sandbox, first, second) -> None:
    """Old code searched by window id only: globex's sync zeroed acme's bills (or stamped its digest on them)."""
    acme = _tenant_window("acme", ACME)
    globex = _tenant_window("globex", GLOBEX, ALLOCATIONS[:2])
    assert sync_window(_client(sandbox, first), **acme).ok
    report = sync_window(_client(sandbox, second), **globex)
    assert report.ok and len(report.created) == 2 and report.updated == [] and report.zeroed == []
    digests = _digests(sandbox)
    assert len(digests) == 5
    for a in ALLOCATIONS:
        assert digests[bill_external_id("acme", W, a["principal_id"])] == ACME
    for a in ALLOCATIONS[:2]:
        assert digests[bill_external_id("globex", W, a["principal_id"])] == GLOBEX
    for client in (_client(sandbox, "soap"), _client(sandbox, "rest")):
        assert verify_window(client, **acme).ok and verify_window(client, **globex).ok
        assert [b.tenant_id for b in client.find_window_bills(W, "USD", "globex")] == ["globex"] * 2
    # acme re-syncs over the other transport: same externalIds, nothing rewritten, no duplicates
    again = sync_window(_client(sandbox, second), **acme)
    assert len(again.unchanged) == 3 and again.created == [] and again.zeroed == []
    assert len(sandbox.store.all("vendorBill")) == 5


def test_another_tenants_bill_is_dropped_even_when_a_search_returns_it(sandbox) -> None:
    """Defence in depth: if a search ever ignored the tenant criterion (an account whose field is not searchable,
    a bill stamped before the filter existed), stamping still never zeroes or restamps another tenant's bill."""
    acme, globex = _tenant_window("acme", ACME), _tenant_window("globex", GLOBEX, ALLOCATIONS[:2])
    client = _client(sandbox, "soap")
    assert sync_window(client, **acme).ok
    search = client.find_window_bills
    client.find_window_bills = lambda window_id, currency, tenant_id=None: search(window_id, currency, None)
    assert {b.tenant_id for b in client.find_window_bills(W, "USD", "globex")} == {"acme"}  # unscoped now
    report = sync_window(client, **globex)
    assert report.ok and len(report.created) == 2 and report.zeroed == [] and report.updated == []
    assert verify_window(client, **globex).ok and verify_window(client, **acme).ok
    assert sorted(_digests(sandbox).values()) == [ACME] * 3 + [GLOBEX] * 2
