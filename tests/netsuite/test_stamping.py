"""Stamping over real HTTP against the sandbox (SOAP transport)."""

from __future__ import annotations

from lxml import etree

from connectors.netsuite.model import bill_external_id
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import sync_window, verify_window
from tests.netsuite.conftest import DIGEST, NO_SLEEP, config_for, decisions, window


def _client(sb, **over):
    return SuiteTalkClient(config_for(sb, **over), retry=NO_SLEEP)


def _state(sb) -> dict:
    """Sandbox contents by externalId: amounts text, custom fields, paymentHold."""
    out = {}
    for rec in sb.store.all("vendorBill"):
        f = rec.fields
        amounts = [e.findtext("{*}amount") for e in f["expenseList"].iterfind("{*}expense")]
        custom = {cf.get("scriptId"): cf.findtext("{*}value") for cf in f["customFieldList"]}
        out[rec.external_id] = {"amounts": amounts, "hold": f["paymentHold"].text, "custom": custom,
                                "vendor": f["entity"].get("internalId")}
    return out


def test_demo_window_three_bills_and_rerun_creates_nothing(sandbox):
    client = _client(sandbox)
    first = sync_window(client, **window())
    assert len(first.created) == 3 and first.ok
    bills = {b.external_id: b for b in client.find_window_bills("2025-09-23", "USD")}
    by_pid = {pid: bills[bill_external_id("default", "2025-09-23", pid)] for pid in ("CRE-0001", "CRE-0002",
                                                                                      "CRE-0003")}
    assert [by_pid[p].total_minor for p in sorted(by_pid)] == [380, 275, 456]
    assert [by_pid[p].eligible_to_pay for p in sorted(by_pid)] == [True, False, True]
    assert [by_pid[p].payment_hold for p in sorted(by_pid)] == [False, True, False]
    assert all(b.window_id == "2025-09-23" and b.output_digest == DIGEST for b in by_pid.values())
    # the exact decimal text on the wire: 3.45 + 0.34 + 0.01 for CRE-0001
    state = _state(sandbox)
    assert state[bill_external_id("default", "2025-09-23", "CRE-0001")]["amounts"] == ["3.45", "0.34", "0.01"]
    second = sync_window(client, **window())
    assert second.created == [] and second.updated == [] and len(second.unchanged) == 3
    assert len(sandbox.store.all("vendorBill")) == 3
    assert verify_window(client, **window()).ok


def test_faults_every_third_call_with_latency_same_state_no_duplicates(sandbox_factory):
    calm = sandbox_factory()
    sync_window(_client(calm), **window())
    stormy = sandbox_factory(fault_every=3, latency_ms=50)
    client = _client(stormy, batch_size=1)
    report = sync_window(client, **window(), concurrency=3, batch_size=1)
    again = sync_window(client, **window(), concurrency=3, batch_size=1)
    assert report.ok and stormy.faults_injected > 0 and report.retries + again.retries > 0
    assert again.created == [] and len(again.unchanged) == 3
    assert _state(stormy) == _state(calm)
    assert len(stormy.store.all("vendorBill")) == 3


def test_new_digest_restamps_and_clears_eligibility_of_new_holds(sandbox):
    client = _client(sandbox)
    sync_window(client, **window())
    new_digest = "f" * 64
    report = sync_window(client, **window(output_digest=new_digest,
                                          decisions=decisions(new_digest, hold=("CRE-0002", "CRE-0003"))))
    assert len(report.updated) == 3 and report.created == []
    bills = {b.external_id: b for b in client.find_window_bills("2025-09-23", "USD")}
    cre3 = bills[bill_external_id("default", "2025-09-23", "CRE-0003")]
    assert cre3.output_digest == new_digest and cre3.eligible_to_pay is False and cre3.payment_hold is True
    assert len(sandbox.store.all("vendorBill")) == 3


def test_allow_bound_to_another_digest_is_not_eligible(sandbox):
    client = _client(sandbox)
    sync_window(client, **window(decisions=decisions("0" * 64, hold=())))
    assert all(b.eligible_to_pay is False and b.payment_hold for b in client.find_window_bills("2025-09-23", "USD"))


def test_missing_vendor_is_reported_never_guessed(sandbox):
    report = sync_window(_client(sandbox), **window(vendor_map={"CRE-0001": "101", "CRE-0003": "103"}))
    assert report.missing_vendor == ["CRE-0002"] and not report.ok
    assert len(sandbox.store.all("vendorBill")) == 2


class _CrashAfter:
    """Wraps a real client and dies (like a killed process) after n upsertList calls."""

    def __init__(self, inner, n):
        self.inner, self.n = inner, n

    def find_window_bills(self, *a):
        return self.inner.find_window_bills(*a)

    def upsert_bills(self, specs):
        if self.n == 0:
            raise SystemExit("crash")
        self.n -= 1
        return self.inner.upsert_bills(specs)

    def upsert_bill(self, spec):
        return self.inner.upsert_bill(spec)


def test_crash_mid_sync_then_rerun_creates_no_duplicate(sandbox):
    client = _client(sandbox)
    try:
        sync_window(_CrashAfter(client, 1), **window(), concurrency=1, batch_size=1)
    except SystemExit:
        pass
    assert len(sandbox.store.all("vendorBill")) == 1
    first_id = sandbox.store.all("vendorBill")[0].internal_id
    report = sync_window(client, **window(), batch_size=1)
    assert len(report.created) == 2 and len(report.unchanged) == 1
    assert len(sandbox.store.all("vendorBill")) == 3
    assert sandbox.store.all("vendorBill")[0].internal_id == first_id


def test_failed_records_of_an_upsert_list_are_retried_alone(sandbox_factory):
    sb = sandbox_factory(record_fault_every=3)  # the 3rd record of the list fails, its lone retry succeeds
    report = sync_window(_client(sb), **window(), batch_size=3)
    assert report.ok and len(report.created) == 3
    assert len(sb.store.all("vendorBill")) == 3


def test_a_record_that_keeps_failing_is_reported_with_its_code(sandbox_factory):
    sb = sandbox_factory(record_fault_every=1)
    report = sync_window(_client(sb), **window(), batch_size=3)
    assert not report.ok and report.created == []
    assert sorted(f.code for f in report.failed) == ["UNEXPECTED_ERROR"] * 3


def test_read_back_reports_drift(sandbox):
    client = _client(sandbox)
    sync_window(client, **window())
    ext1 = bill_external_id("default", "2025-09-23", "CRE-0001")
    rec = sandbox.store.get("vendorBill", external_id=ext1)
    rec.fields["expenseList"][0].find("{*}amount").text = "9.99"
    for cf in rec.fields["customFieldList"]:
        if cf.get("scriptId") == "custbody_vgos_eligible_to_pay":
            cf.find("{*}value").text = "false"
    ext3 = bill_external_id("default", "2025-09-23", "CRE-0003")
    gone = sandbox.store.get("vendorBill", external_id=ext3)
    for cf in gone.fields["customFieldList"]:
        if cf.get("scriptId") == "custbody_vgos_window_id":
            cf.find("{*}value").text = "1999-01-01"
    kinds = {(i.principal_id, i.kind) for i in verify_window(client, **window()).items}
    assert kinds == {("CRE-0001", "AMOUNT_DIFFERS"), ("CRE-0001", "ELIGIBILITY_DIFFERS"),
                     ("CRE-0003", "MISSING_BILL")}


def test_external_id_is_deterministic_and_charset_safe():
    a = bill_external_id("acme corp", "2025-09-23", "CRE/0001 é")
    assert a == bill_external_id("acme corp", "2025-09-23", "CRE/0001 é")
    assert a != bill_external_id("acme corp", "2025-09-23", "CRE_0001 é")
    assert len(a) <= 80 and all(c.isascii() and (c.isalnum() or c in "-_") for c in a)


def test_amounts_use_the_currency_exponent(sandbox):
    client = _client(sandbox)
    from connectors.netsuite.stamping import build_bill_specs
    from gl_mappings import DEMO_FILE, load_gl_mapping

    for ccy, minor, text in (("JPY", 380, "380"), ("BHD", 1234, "1.234"), ("USD", 5, "0.05")):
        alloc = [{"principal_id": "P", "net_minor": minor, "bonus_floor_minor": 0, "carry_minor": 0,
                  "payout_minor": minor}]
        spec = build_bill_specs(**{**window(allocations=alloc, vendor_map={"P": "1"}, currency=ccy),
                                   "gl_mapping": load_gl_mapping(path=DEMO_FILE)})[0]
        env = etree.fromstring(client.envelope("upsert", record=client.bill_record(spec)))
        assert [e.text for e in env.iter("{*}amount")] == [text]
