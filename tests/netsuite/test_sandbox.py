"""The sandbox's checks are real: schema, TokenPassport, OAuth 1.0a; responses are schema-valid."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from lxml import etree

from connectors.netsuite.rest_client import RestClient
from connectors.netsuite.sandbox.schema import load_schema_set
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import build_bill_specs, sync_window, verify_window
from tests.conftest import REPO
from tests.netsuite.conftest import CREDS, NO_SLEEP, config_for, window

SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "upsert"}


def _post(sb, body: bytes) -> requests.Response:
    return requests.post(f"{sb.url}/services/NetSuitePort_2023_2", data=body, headers=SOAP_HEADERS, timeout=10)


def _spec():
    return build_bill_specs(**window())[0]


def test_valid_request_is_accepted_and_response_is_schema_valid(sandbox):
    client = SuiteTalkClient(config_for(sandbox), retry=NO_SLEEP)
    resp = _post(sandbox, client.envelope("upsert", record=client.bill_record(_spec())))
    assert resp.status_code == 200
    body = etree.fromstring(resp.content).find("{*}Body")[0]
    schema = load_schema_set(client.config.wsdl_path())
    assert schema.errors(body) == []
    get = _post(sandbox, client.envelope("getList", baseRef=[client.type("core", "RecordRef")(
        externalId=_spec().external_id, type="vendorBill")]))
    assert schema.errors(etree.fromstring(get.content).find("{*}Body")[0]) == []
    assert b"3.45" in get.content


def test_request_breaking_the_schema_is_refused(sandbox):
    client = SuiteTalkClient(config_for(sandbox), retry=NO_SLEEP)
    good = client.envelope("upsert", record=client.bill_record(_spec()))
    bad_amount = good.replace(b">3.45<", b">three<")
    root = etree.fromstring(good)
    memo = next(root.iter("{*}memo"))
    memo.tag = etree.QName(memo).namespace and f"{{{etree.QName(memo).namespace}}}memoX"
    unknown_element = etree.tostring(root)
    for body in (bad_amount, unknown_element):
        resp = _post(sandbox, body)
        assert resp.status_code == 500 and b"schema validation failed" in resp.content
    assert sandbox.store.all() == []


def test_bad_signature_and_replayed_nonce_are_refused(sandbox):
    client = SuiteTalkClient(config_for(sandbox), retry=NO_SLEEP)
    good = client.envelope("upsert", record=client.bill_record(_spec()))
    root = etree.fromstring(good)
    sig = next(root.iter("{*}signature"))
    sig.text = ("A" if sig.text[0] != "A" else "B") + sig.text[1:]
    resp = _post(sandbox, etree.tostring(root))
    assert resp.status_code == 500 and b"invalidCredentialsFault" in resp.content
    assert sandbox.store.all() == []
    assert _post(sandbox, good).status_code == 200
    replay = _post(sandbox, good)
    assert replay.status_code == 500 and b"nonce already used" in replay.content


def test_wrong_secret_is_refused_end_to_end(sandbox):
    from dataclasses import replace

    wrong = replace(config_for(sandbox), credentials=replace(CREDS, token_secret="not-the-secret"))
    try:
        SuiteTalkClient(wrong, retry=NO_SLEEP).upsert_bill(_spec())
    except Exception as exc:  # noqa: BLE001
        assert "INVALID_LOGIN_CREDENTIALS" in str(exc)
    else:
        raise AssertionError("a bad signature was accepted")


def test_rest_transport_with_faults_and_suiteql_paging(sandbox_factory):
    sb = sandbox_factory(fault_every=3)
    client = RestClient(config_for(sb, transport="rest", page_size=2), retry=NO_SLEEP)
    report = sync_window(client, **window())
    assert report.ok and len(report.created) == 3 and sb.faults_injected > 0
    again = sync_window(client, **window())
    assert len(again.unchanged) == 3 and len(sb.store.all("vendorBill")) == 3
    assert verify_window(client, **window()).ok
    rows = client.suiteql("SELECT id, externalid FROM transaction WHERE custbody_vgos_window_id = '2025-09-23'",
                          page_size=2)
    assert len(rows) == 3


def test_rest_rejects_bad_oauth_and_unknown_property(sandbox):
    url = f"{sandbox.url}/services/rest/record/v1/vendorBill/eid:x1"
    assert requests.put(url, data=b"{}", timeout=10).status_code == 401
    from dataclasses import replace

    from connectors.netsuite.auth import oauth1_auth

    bad = requests.put(url, data=b"{}", auth=oauth1_auth(replace(CREDS, consumer_secret="wrong")), timeout=10)
    assert bad.status_code == 401
    unknown = requests.put(url, data=b'{"entity": {"id": "1"}, "colour": "red"}', auth=oauth1_auth(CREDS),
                           headers={"X-NetSuite-PropertyNameValidation": "error",
                                    "Content-Type": "application/json"}, timeout=10)
    assert unknown.status_code == 400 and b"colour" in unknown.content
    ok = requests.put(url, data=b'{"entity": {"id": "1"}}', auth=oauth1_auth(CREDS),
                      headers={"X-NetSuite-PropertyNameValidation": "error",
                               "Content-Type": "application/json"}, timeout=10)
    assert ok.status_code == 204 and ok.headers["Location"].endswith("/vendorBill/1001")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # a separate process end to end: CI runs it (make test stays < 3 min)
def test_module_entry_point_serves(tmp_path):
    port = _free_port()
    env = {**os.environ, "NETSUITE_ACCOUNT": CREDS.account, "NETSUITE_CONSUMER_KEY": CREDS.consumer_key,
           "NETSUITE_CONSUMER_SECRET": CREDS.consumer_secret, "NETSUITE_TOKEN_ID": CREDS.token_id,
           "NETSUITE_TOKEN_SECRET": CREDS.token_secret}
    proc = subprocess.Popen([sys.executable, "-m", "connectors.netsuite.sandbox", "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline().decode()
        assert f"127.0.0.1:{port}" in line
        from connectors.netsuite.config import NetSuiteConfig

        cfg = NetSuiteConfig(credentials=CREDS, base_url=f"http://127.0.0.1:{port}")
        for _ in range(50):
            try:
                report = sync_window(SuiteTalkClient(cfg, retry=NO_SLEEP), **window())
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert len(report.created) == 3
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: do not leave a server behind
            proc.kill()
            proc.wait(timeout=30)
