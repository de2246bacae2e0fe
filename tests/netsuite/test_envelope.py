"""The fast bill envelopes (envelope.py) are the XML zeep builds, element for element, and valid per the real XSD."""

from __future__ import annotations

from dataclasses import replace

import pytest
from lxml import etree

from connectors.netsuite import soap_client
from connectors.netsuite.auth import make_passport
from connectors.netsuite.config import NetSuiteConfig
from connectors.netsuite.model import BILL, CREDIT, BillSpec, ExpenseLine
from connectors.netsuite.sandbox.schema import load_schema_set
from connectors.netsuite.soap_client import SOAP_ENV, XSI, SuiteTalkClient
from connectors.netsuite.stamping import build_bill_specs
from tests.netsuite.conftest import ALLOCATIONS, CREDS, NO_SLEEP, config_for, decisions, window

CUSTOM_IDS = {"window_id": "custbody_acme_window", "output_digest": "custbody_acme_digest",
              "transcript_url": "custbody_acme_link", "provider_batch_id": "custbody_acme_batch",
              "eligible_to_pay": "custbody_acme_ok_to_pay", "tenant_id": "custbody_acme_tenant",
              "vgos_hold": "custbody_acme_hold"}


def _canonical(el: etree._Element) -> tuple:
    """An element as (tag, attributes, text, children) with namespaces resolved, xsi:type QNames included, so the
    comparison does not depend on the prefixes either serializer picked."""
    attrs = {}
    for key, value in el.attrib.items():
        if key == f"{{{XSI}}}type":
            prefix, _, local = value.rpartition(":")
            value = f"{{{el.nsmap.get(prefix or None)}}}{local}"
        attrs[key] = value
    return el.tag, tuple(sorted(attrs.items())), el.text or "", tuple(_canonical(c) for c in el)


def _specs() -> list[BillSpec]:
    """Bills and credits covering every branch of bill_record: holds set/unset/released, credits, tenant or none,
    subsidiary or none, line memo none/empty/escaped, segments or none, several currencies and dates."""
    allocs = [dict(a) for a in ALLOCATIONS] + [
        {"principal_id": "CRE-0004", "net_minor": -500, "bonus_floor_minor": 20, "carry_minor": 0,
         "payout_minor": -480}]
    built = build_bill_specs(**window(tenant_id="acme", allocations=allocs, vendor_map={
        "CRE-0001": "101", "CRE-0002": "102", "CRE-0003": "103", "CRE-0004": "104"},
        provider_batch_id="po_123,po_456", transcript_url="https://audit.example.com/t?a=1&b=<2>"))
    assert {s.record_type for s in built} == {BILL, CREDIT}
    base = built[0]
    lines = (ExpenseLine("net", "2015", 123456, None, None, None), ExpenseLine("bonus", "2016", -7, "10", None, ""),
             ExpenseLine("carry", "2015", 0, None, "4", "R&D <carry> \"q\" 'a' é"))
    extra = [
        replace(base, payment_hold=None, vgos_hold=None, tenant_id="", subsidiary_id=None, memo="", lines=lines),
        replace(base, payment_hold=False, vgos_hold=False, eligible_to_pay=True, tran_date="2024-02-29"),
        replace(base, payment_hold=True, vgos_hold=None, eligible_to_pay=False, tran_date="2025-03-09",
                provider_batch_id=None),
        replace(base, currency="JPY", lines=(ExpenseLine("net", "2015", 380, "10", "1", "yen"),)),
        replace(base, currency="BHD", lines=(ExpenseLine("net", "2015", 1234, "10", "1", "dinar"),)),
        replace(base, record_type=CREDIT, external_id="vgos-cr-x", payment_hold=None, vgos_hold=None,
                subsidiary_id=None, memo="", lines=lines, tran_date="2025-12-31"),
    ]
    return built + extra


def _fixed_passport(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same nonce and timestamp for both serializers, so whole envelopes (header too) can be compared."""
    monkeypatch.setattr(soap_client, "make_passport",
                        lambda creds, now_s: make_passport(creds, now_s=1_760_000_000, nonce="n0nce&<x>"))


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", None])
@pytest.mark.parametrize("field_ids", [None, CUSTOM_IDS])
def test_fast_envelope_equals_what_zeep_builds(monkeypatch, zone, field_ids) -> None:
    _fixed_passport(monkeypatch)
    over = {"field_ids": field_ids} if field_ids else {}
    cfg = NetSuiteConfig(credentials=CREDS, base_url="http://127.0.0.1:9", timezone=zone, **over)
    client = SuiteTalkClient(cfg)
    specs = _specs()
    zeep_env = etree.fromstring(client.envelope("upsertList", record=[client.bill_record(s) for s in specs]))
    fast_env = etree.fromstring(client.bill_envelope("upsertList", specs))
    assert _canonical(fast_env) == _canonical(zeep_env)
    for spec in specs:
        one_zeep = etree.fromstring(client.envelope("upsert", record=client.bill_record(spec)))
        assert _canonical(etree.fromstring(client.bill_envelope("upsert", [spec]))) == _canonical(one_zeep)
    # the cases are really on the wire: configured ids, the credit's type, the date in the zone
    body = etree.tostring(fast_env).decode()
    assert ("custbody_acme_hold" in body) == bool(field_ids) and "VendorCredit" in body
    expected_offset = {"America/New_York": "-04:00", "Asia/Tokyo": "+09:00", None: "-07:00"}[zone]
    assert f"2025-09-23T12:00:00{expected_offset}" in body


def test_fast_envelope_validates_against_the_suitetalk_xsd() -> None:
    cfg = NetSuiteConfig(credentials=CREDS, base_url="http://127.0.0.1:9", timezone="Europe/Berlin",
                         field_ids=CUSTOM_IDS)
    client = SuiteTalkClient(cfg)
    schema = load_schema_set(cfg.wsdl_path())
    for operation, specs in (("upsertList", _specs()), ("upsert", _specs()[:1])):
        env = etree.fromstring(client.bill_envelope(operation, specs))
        assert env.tag == f"{{{SOAP_ENV}}}Envelope"
        header, body = env.find(f"{{{SOAP_ENV}}}Header"), env.find(f"{{{SOAP_ENV}}}Body")
        for el in [*header, *body]:
            assert schema.errors(el) == [], etree.QName(el).localname


def test_each_attempt_gets_a_fresh_passport_around_the_same_records() -> None:
    cfg = NetSuiteConfig(credentials=CREDS, base_url="http://127.0.0.1:9")
    client = SuiteTalkClient(cfg)
    build = client._bill_request("upsertList", _specs())
    first, second = etree.fromstring(build()), etree.fromstring(build())
    nonce = f"{{{soap_client.ns('core', '2023_2')}}}nonce"
    assert first.findtext(f".//{nonce}") != second.findtext(f".//{nonce}")
    assert _canonical(first.find(f"{{{SOAP_ENV}}}Body")) == _canonical(second.find(f"{{{SOAP_ENV}}}Body"))


def test_sync_sends_the_fast_envelope_and_the_sandbox_accepts_it(sandbox) -> None:
    """End to end: the sandbox validates every request against the XSD and stores what it was sent."""
    client = SuiteTalkClient(config_for(sandbox, field_ids=CUSTOM_IDS), retry=NO_SLEEP)
    specs = build_bill_specs(**window(decisions=decisions(hold=("CRE-0001",))))
    results = client.upsert_bills(specs)
    assert all(r.ok for r in results), results
    stored = {b.external_id: b for b in client.find_window_bills("2025-09-23", "USD", "default")}
    assert {e: (b.total_minor, b.eligible_to_pay, b.payment_hold, b.vgos_hold) for e, b in stored.items()} == {
        s.external_id: (s.total_minor, s.eligible_to_pay, s.payment_hold is True, s.vgos_hold) for s in specs}


def test_fast_envelope_refuses_other_operations() -> None:
    client = SuiteTalkClient(NetSuiteConfig(credentials=CREDS, base_url="http://127.0.0.1:9"))
    with pytest.raises(ValueError, match="not search"):
        client.bill_envelope("search", _specs())
    with pytest.raises(ValueError, match="exactly one"):
        client.bill_envelope("upsert", _specs()[:2])
