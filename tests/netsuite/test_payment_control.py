"""Payment control: a person's hold survives every sync, dropped payees are zeroed, negative payouts are credits."""

from __future__ import annotations

import pytest

from connectors.netsuite.model import CREDIT, bill_external_id, credit_external_id
from connectors.netsuite.rest_client import RestClient
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import sync_window, verify_window
from tests.netsuite.conftest import ALLOCATIONS, NO_SLEEP, VENDORS, config_for, window
from tests.netsuite.faultproxy import start_proxy

W = "2025-09-23"
EXT = {pid: bill_external_id("default", W, pid) for pid in ("CRE-0001", "CRE-0002", "CRE-0003", "CRE-0004")}


def _client(sb, transport: str, url: str | None = None, **over):
    cfg = config_for(sb, transport=transport, **over)
    if url:
        from dataclasses import replace

        cfg = replace(cfg, base_url=url)
    return (RestClient if transport == "rest" else SuiteTalkClient)(cfg, retry=NO_SLEEP)


def _ui_edit(sb, external_id: str, **fields) -> None:
    """A person's edit in the UI: an `update` naming the bill by internalId, with only the changed fields."""
    soap = SuiteTalkClient(config_for(sb), retry=NO_SLEEP)
    rec = sb.store.get("vendorBill", external_id=external_id)
    resp = soap.call("update", record=soap.type("purchases", "VendorBill")(internalId=rec.internal_id, **fields))
    assert next(resp.iter("{*}status")).get("isSuccess") == "true"


def _hold(sb, external_id: str) -> str:
    """paymentHold as the sandbox stores it (no client code)."""
    return sb.store.get("vendorBill", external_id=external_id).fields["paymentHold"].text


def _total_cents(rec) -> int:
    return sum(round(float(e.findtext("{*}amount")) * 100) for e in rec.fields["expenseList"].iterfind("{*}expense"))


def _custom(rec) -> dict[str, str]:
    return {cf.get("scriptId"): cf.findtext("{*}value") for cf in rec.fields["customFieldList"]}


def _resealed(digest: str, allocations: list[dict] = ALLOCATIONS, hold: tuple[str, ...] = ()) -> dict:
    """The window re-sealed under a new digest, with every listed payee ALLOWed unless held."""
    decs = [{"principal_id": a["principal_id"], "payout_minor": a["payout_minor"],
             "decision": "HOLD" if a["principal_id"] in hold else "ALLOW", "output_digest": digest}
            for a in allocations]
    return window(output_digest=digest, allocations=allocations, decisions=decs)


@pytest.mark.parametrize("transport", ["soap", "rest"])
def test_a_hold_a_person_sets_survives_syncs_and_vgos_releases_only_its_own(sandbox, transport) -> None:
    """Old code sent paymentHold=false for every eligible bill, clearing AP's hold on the next sync."""
    client = _client(sandbox, transport)
    assert sync_window(client, **window()).ok  # CRE-0002 is held by the gate: VGOS's own hold
    assert _hold(sandbox, EXT["CRE-0002"]) == "true"
    _ui_edit(sandbox, EXT["CRE-0001"], paymentHold=True, memo="AP: vendor dispute")
    again = sync_window(client, **window())
    assert again.ok and _hold(sandbox, EXT["CRE-0001"]) == "true"
    drift = verify_window(client, **window())
    assert drift.ok and drift.manual_holds == [EXT["CRE-0001"]]
    # a re-seal makes every payee eligible: VGOS releases the hold it set, never the person's
    digest = "e" * 64
    report = sync_window(client, **_resealed(digest))
    assert report.ok
    assert _hold(sandbox, EXT["CRE-0002"]) == "false"
    assert _hold(sandbox, EXT["CRE-0001"]) == "true"
    assert _custom(sandbox.store.get("vendorBill", external_id=EXT["CRE-0001"]))["custbody_vgos_hold"] == "false"
    assert verify_window(client, **_resealed(digest)).ok
    assert len(sync_window(client, **_resealed(digest)).unchanged) == 3  # nothing left to write


def test_a_person_releasing_vgos_hold_is_not_undone_until_a_new_seal(sandbox) -> None:
    """VGOS re-holds only for a new decision (a re-seal); it reports the release as drift meanwhile."""
    client = _client(sandbox, "soap")
    sync_window(client, **window())
    _ui_edit(sandbox, EXT["CRE-0002"], paymentHold=False)
    assert sync_window(client, **window()).ok and _hold(sandbox, EXT["CRE-0002"]) == "false"
    kinds = {(i.principal_id, i.kind) for i in verify_window(client, **window()).items}
    assert kinds == {("CRE-0002", "ELIGIBILITY_DIFFERS")}
    digest = "d" * 64
    assert sync_window(client, **_resealed(digest, hold=("CRE-0002",))).ok
    assert _hold(sandbox, EXT["CRE-0002"]) == "true"


@pytest.mark.parametrize("transport", ["soap", "rest"])
def test_a_reseal_dropping_a_payee_zeroes_its_bill(sandbox, transport) -> None:
    """Old code kept the dropped payee's amounts and stamped the new digest on them: an open bill it never owed."""
    client = _client(sandbox, transport)
    assert sync_window(client, **window()).ok
    digest = "c" * 64
    kept = [a for a in ALLOCATIONS if a["principal_id"] != "CRE-0003"]
    report = sync_window(client, **_resealed(digest, kept))
    assert report.ok and report.zeroed == [EXT["CRE-0003"]]
    open_for_payee = [r for r in sandbox.store.all("vendorBill")
                      if r.fields["entity"].get("internalId") == VENDORS["CRE-0003"] and _total_cents(r) != 0]
    assert open_for_payee == []
    dropped = sandbox.store.get("vendorBill", external_id=EXT["CRE-0003"])
    assert _custom(dropped)["custbody_vgos_eligible_to_pay"] == "false"
    assert verify_window(client, **_resealed(digest, kept)).ok
    again = sync_window(client, **_resealed(digest, kept))
    assert again.zeroed == [] and again.updated == [] and len(again.unchanged) == 2
    # the payee comes back in a later seal: its bill carries its amounts again
    back = sync_window(client, **_resealed("b" * 64))
    assert back.ok and _total_cents(sandbox.store.get("vendorBill", external_id=EXT["CRE-0003"])) == 456
    assert len(sandbox.store.all("vendorBill")) == 3


def _with_negative(digest: str) -> dict:
    """The demo window plus CRE-0004, whose chargebacks exceed its earnings (payout -5.20)."""
    neg = {"principal_id": "CRE-0004", "events": 1, "net_minor": -500, "bonus_floor_minor": 0,
           "remainder_micro": 0, "carry_minor": -20, "payout_minor": -520}
    w = _resealed(digest, [*ALLOCATIONS, neg])
    return {**w, "vendor_map": {**VENDORS, "CRE-0004": "104"}}


@pytest.mark.parametrize("transport", ["soap", "rest"])
def test_a_negative_payout_becomes_a_vendor_credit(sandbox, transport) -> None:
    """Old code skipped a negative payout (NEGATIVE_PAYOUT): the amount the payee owes never reached NetSuite."""
    client = _client(sandbox, transport)
    digest = "a" * 64
    report = sync_window(client, **_with_negative(digest))
    ext = credit_external_id("default", W, "CRE-0004")
    assert report.ok and ext in report.created and report.skipped == {}
    credits = sandbox.store.all(CREDIT)
    assert [c.external_id for c in credits] == [ext]
    assert _total_cents(credits[0]) == 520 and credits[0].fields["entity"].get("internalId") == "104"
    assert _custom(credits[0])["custbody_vgos_output_digest"] == digest
    assert "paymentHold" not in credits[0].fields
    assert sandbox.store.get("vendorBill", external_id=EXT["CRE-0004"]) is None
    assert verify_window(client, **_with_negative(digest)).ok
    assert len(sync_window(client, **_with_negative(digest)).unchanged) == 4


def test_a_payee_turning_negative_gets_its_bill_zeroed_and_a_credit(sandbox) -> None:
    """A payee owed in one seal and owing in the next: the bill is zeroed, the credit carries what it owes."""
    client = _client(sandbox, "soap")
    first = {**_with_negative("a" * 64)}
    positive = [{**a, "net_minor": 300, "carry_minor": 0, "payout_minor": 300} if a["principal_id"] == "CRE-0004"
                else a for a in first["allocations"]]
    assert sync_window(client, **{**first, "allocations": positive}).ok
    assert _total_cents(sandbox.store.get("vendorBill", external_id=EXT["CRE-0004"])) == 300
    report = sync_window(client, **_with_negative("9" * 64))
    assert report.ok and report.zeroed == [EXT["CRE-0004"]]
    assert report.created == [credit_external_id("default", W, "CRE-0004")]
    assert _total_cents(sandbox.store.get("vendorBill", external_id=EXT["CRE-0004"])) == 0
    assert verify_window(client, **_with_negative("9" * 64)).ok


def test_a_request_failing_as_a_whole_is_not_resent_bill_by_bill(sandbox) -> None:
    """Old stamping re-sent every bill of a refused upsertList alone (N extra requests that fail the same way)."""
    with start_proxy(sandbox.url, soap_fault_every=1, soap_fault_code="INSUFFICIENT_PERMISSION",
                     only_ops=frozenset({"upsertList"})) as proxy:
        client = _client(sandbox, "soap", url=proxy.url)
        report = sync_window(client, **window(), batch_size=3)
    assert sorted(f.code for f in report.failed) == ["INSUFFICIENT_PERMISSION"] * 3
    assert all(f.request_failed for f in report.failed)
    assert proxy.ops["upsertList"] == 1 and proxy.ops["upsert"] == 0


def test_sync_uses_the_configured_concurrency_not_a_hard_coded_five(sandbox) -> None:
    """Old sync_window defaulted to 5 parallel batches whatever NETSUITE_CONCURRENCY said."""
    allocs = [{"principal_id": f"P{i:02d}", "events": 1, "net_minor": 100 + i, "bonus_floor_minor": 0,
               "remainder_micro": 0, "carry_minor": 0, "payout_minor": 100 + i} for i in range(8)]
    w = window(allocations=allocs, vendor_map={a["principal_id"]: "101" for a in allocs},
               decisions=[])
    with start_proxy(sandbox.url, latency_ms=40, only_ops=frozenset({"upsertList"})) as proxy:
        client = _client(sandbox, "soap", url=proxy.url, concurrency=1)
        report = sync_window(client, **w, batch_size=1)
    assert report.ok and len(report.created) == 8
    assert proxy.max_in_flight == 1
