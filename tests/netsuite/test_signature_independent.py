"""TBA signatures checked against Oracle's documented recipe, with code of this test's own (no auth.py, no oauthlib).

Also: the sandbox verifies with its own code, so a client that signs the wrong string is refused even when
auth.py's verifiers are broken the same way; timestamps are fresh and nonces single-use on SOAP and REST.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests

from connectors.netsuite import auth
from connectors.netsuite.auth import make_passport, oauth1_auth
from connectors.netsuite.rest_client import RestClient
from connectors.netsuite.retry import NetSuiteError, RetryPolicy
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import build_bill_specs
from tests.netsuite.conftest import CREDS, NO_SLEEP, config_for, window

SANDBOX_DIR = Path(__file__).resolve().parents[2] / "connectors" / "netsuite" / "sandbox"
ONE_TRY = RetryPolicy(max_attempts=1, sleep=lambda s: None, base_delay_s=0.0)


# -- Oracle's recipe, written here from the documentation --------------------------------------------------
def _enc(s: str) -> str:
    return quote(s, safe="-._~")


def _hmac_b64(key: str, msg: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()).decode()


def recipe_passport_signature(account: str, consumer_key: str, token: str, nonce: str, ts: int,
                              consumer_secret: str, token_secret: str) -> str:
    """TokenPassport: HMAC-SHA256 over account&consumerKey&tokenId&nonce&timestamp, key consumerSecret&tokenSecret."""
    return _hmac_b64(f"{consumer_secret}&{token_secret}", f"{account}&{consumer_key}&{token}&{nonce}&{ts}")


def recipe_oauth_signature(method: str, url: str, oauth: dict[str, str], consumer_secret: str,
                           token_secret: str) -> str:
    """OAuth 1.0a: METHOD & enc(base URL) & enc(sorted enc(k)=enc(v)), key enc(cs)&enc(ts)."""
    parts = urlsplit(url)
    params = [(k, v) for k, v in oauth.items() if k not in ("realm", "oauth_signature")]
    params += [(unquote(k), unquote(v)) for k, _, v in (p.partition("=") for p in parts.query.split("&") if p)]
    normalized = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in params))
    base_url = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"
    base = f"{method.upper()}&{_enc(base_url)}&{_enc(normalized)}"
    return _hmac_b64(f"{_enc(consumer_secret)}&{_enc(token_secret)}", base)


def _header_params(header: str | bytes) -> dict[str, str]:
    header = header.decode() if isinstance(header, bytes) else header
    assert header.startswith("OAuth ")
    out = {}
    for piece in header[len("OAuth "):].split(","):
        k, _, v = piece.strip().partition("=")
        out[k] = unquote(v.strip('"'))
    return out


# -- the client's output equals the recipe --------------------------------------------------------------
def test_client_passport_equals_the_documented_recipe() -> None:
    p = make_passport(CREDS, now_s=1_700_000_000, nonce="6b1c0e0c5d3a4f")
    assert p.signature == recipe_passport_signature(CREDS.account, CREDS.consumer_key, CREDS.token_id,
                                                    "6b1c0e0c5d3a4f", 1_700_000_000, CREDS.consumer_secret,
                                                    CREDS.token_secret)
    assert (p.account, p.consumer_key, p.token, p.algorithm) == (CREDS.account, CREDS.consumer_key,
                                                                 CREDS.token_id, "HMAC-SHA256")


def test_client_oauth_header_equals_the_documented_recipe() -> None:
    url = "https://tstdrv9.suitetalk.api.netsuite.com/services/rest/record/v1/vendorBill/eid:a%20b?replace=expense"
    prepared = requests.Request("PUT", url, data=b"{}", auth=oauth1_auth(CREDS),
                                headers={"Content-Type": "application/json"}).prepare()
    params = _header_params(prepared.headers["Authorization"])
    assert params["realm"] == CREDS.account and params["oauth_signature_method"] == "HMAC-SHA256"
    assert params["oauth_consumer_key"] == CREDS.consumer_key and params["oauth_token"] == CREDS.token_id
    expected = recipe_oauth_signature("PUT", prepared.url, params, CREDS.consumer_secret, CREDS.token_secret)
    assert params["oauth_signature"] == expected


# -- the sandbox does not share the client's code ----------------------------------------------------------
def test_sandbox_never_imports_the_client_auth_module_or_oauthlib() -> None:
    for path in SANDBOX_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                assert not (node.level >= 1 and mod in ("auth", "netsuite.auth")), path.name
                assert not mod.startswith(("oauthlib", "requests_oauthlib", "connectors.netsuite.auth")), path.name
                assert not (node.level >= 1 and mod == "" and any(a.name == "auth" for a in node.names)), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith(("oauthlib", "requests_oauthlib")) for a in node.names), path.name


def _break_client_verifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every verify_* of auth.py (wherever it was imported) accept anything."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("connectors.netsuite") or module is None:
            continue
        if hasattr(module, "verify_passport"):
            monkeypatch.setattr(module, "verify_passport", lambda *a, **k: True)
        if hasattr(module, "verify_oauth1"):
            monkeypatch.setattr(module, "verify_oauth1", lambda *a, **k: None)


def _swapped_base_string(account: str, consumer_key: str, token_id: str, nonce: str, timestamp: int) -> bytes:
    return "&".join([account, token_id, consumer_key, nonce, str(timestamp)]).encode()


def test_sandbox_refuses_a_client_that_swaps_consumer_key_and_token_in_the_passport(
        sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "passport_base_string", _swapped_base_string)
    client = SuiteTalkClient(config_for(sandbox), retry=ONE_TRY)
    with pytest.raises(NetSuiteError) as err:
        client.upsert_bill(build_bill_specs(**window())[0])
    assert err.value.code == "INVALID_LOGIN_CREDENTIALS"
    assert sandbox.store.all() == []


def test_sandbox_refuses_a_bad_signature_even_when_auth_py_verifiers_accept_everything(
        sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    _break_client_verifiers(monkeypatch)
    wrong = replace(CREDS, token_secret="not-the-secret")
    soap = SuiteTalkClient(replace(config_for(sandbox), credentials=wrong), retry=ONE_TRY)
    with pytest.raises(NetSuiteError) as err:
        soap.upsert_bill(build_bill_specs(**window())[0])
    assert err.value.code == "INVALID_LOGIN_CREDENTIALS"
    rest = RestClient(replace(config_for(sandbox, transport="rest"), credentials=wrong), retry=ONE_TRY)
    result = rest.upsert_bill(build_bill_specs(**window())[0])
    assert not result.ok and result.code == "INVALID_LOGIN"
    assert sandbox.store.all() == []


def test_sandbox_refuses_a_rest_client_that_swaps_consumer_key_and_token_in_the_signed_string(sandbox) -> None:
    url = f"{sandbox.url}/services/rest/record/v1/vendorBill/eid:x1?replace=expense"
    oauth = {"oauth_consumer_key": CREDS.consumer_key, "oauth_token": CREDS.token_id,
             "oauth_signature_method": "HMAC-SHA256", "oauth_timestamp": str(int(time.time())),
             "oauth_nonce": "n-swap-1", "oauth_version": "1.0"}
    swapped = {**oauth, "oauth_consumer_key": CREDS.token_id, "oauth_token": CREDS.consumer_key}

    def header(signature: str) -> str:
        fields = {"realm": CREDS.account, **oauth, "oauth_signature": signature}
        return "OAuth " + ", ".join(f'{k}="{_enc(v)}"' for k, v in fields.items())

    bad = recipe_oauth_signature("PUT", url, swapped, CREDS.consumer_secret, CREDS.token_secret)
    resp = requests.put(url, data=b'{"entity": {"id": "1"}}', timeout=10,
                        headers={"Authorization": header(bad), "Content-Type": "application/json"})
    assert resp.status_code == 401 and b"signature does not verify" in resp.content
    oauth["oauth_nonce"] = "n-swap-2"
    good = recipe_oauth_signature("PUT", url, oauth, CREDS.consumer_secret, CREDS.token_secret)
    ok = requests.put(url, data=b'{"entity": {"id": "1"}}', timeout=10,
                      headers={"Authorization": header(good), "Content-Type": "application/json"})
    assert ok.status_code == 204


# -- freshness and replay ------------------------------------------------------------------------------
def test_soap_timestamp_must_be_within_300_s_of_the_sandbox_clock(sandbox_factory) -> None:
    sb = sandbox_factory(clock=lambda: 1_800_000_000.0)
    spec = build_bill_specs(**window())[0]
    for skew, accepted in ((-301, False), (301, False), (-299, True), (299, True)):
        client = SuiteTalkClient(config_for(sb), retry=ONE_TRY, clock=lambda s=skew: 1_800_000_000.0 + s)
        if accepted:
            assert client.upsert_bill(spec).ok
        else:
            with pytest.raises(NetSuiteError) as err:
                client.upsert_bill(spec)
            assert err.value.code == "INVALID_LOGIN_CREDENTIALS" and "timestamp" in str(err.value)


def test_rest_timestamp_must_be_fresh(sandbox_factory) -> None:
    sb = sandbox_factory(clock=lambda: time.time() + 1000)
    result = RestClient(config_for(sb, transport="rest"), retry=ONE_TRY).upsert_bill(build_bill_specs(**window())[0])
    assert not result.ok and result.code == "INVALID_LOGIN" and "timestamp" in (result.message or "")
    assert sb.store.all() == []


def test_rest_nonce_cannot_be_replayed(sandbox) -> None:
    url = f"{sandbox.url}/services/rest/record/v1/vendorBill/eid:replayed"
    prepared = requests.Request("PUT", url, data=b'{"entity": {"id": "1"}}', auth=oauth1_auth(CREDS),
                                headers={"Content-Type": "application/json"}).prepare()
    with requests.Session() as s:
        assert s.send(prepared, timeout=10).status_code == 204
        again = s.send(prepared, timeout=10)
    assert again.status_code == 401 and b"nonce already used" in again.content


def test_soap_nonce_cannot_be_replayed_across_operations(sandbox) -> None:
    client = SuiteTalkClient(config_for(sandbox), retry=NO_SLEEP)
    body = client.envelope("upsert", record=client.bill_record(build_bill_specs(**window())[0]))
    post = {"headers": {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "upsert"}, "timeout": 10}
    assert requests.post(f"{sandbox.url}/services/NetSuitePort_2023_2", data=body, **post).status_code == 200
    replay = requests.post(f"{sandbox.url}/services/NetSuitePort_2023_2", data=body, **post)
    assert replay.status_code == 500 and b"nonce already used" in replay.content


def test_sandbox_recipe_agrees_with_this_tests_recipe_on_awkward_urls() -> None:
    from connectors.netsuite.sandbox import tba

    oauth = {"realm": "TSTDRV9", "oauth_consumer_key": "ck ü+/", "oauth_token": "tok~*", "oauth_nonce": "n",
             "oauth_timestamp": "1", "oauth_signature_method": "HMAC-SHA256", "oauth_version": "1.0"}
    for url in ("HTTPS://Acct.SuiteTalk.api.netsuite.com:443/services/rest/query/v1/suiteql?limit=2&offset=0",
                "http://127.0.0.1:8080/services/rest/record/v1/vendorBill/eid:a%20b?replace=expense&x=%C3%A9&x=1"):
        assert tba.oauth_signature("POST", url, oauth, "cs&x", "ts é") == recipe_oauth_signature(
            "POST", url.replace("HTTPS://Acct.SuiteTalk.api.netsuite.com:443",
                                "https://acct.suitetalk.api.netsuite.com"), oauth, "cs&x", "ts é")
    assert tba.passport_signature("A", "c", "t", "n", "9", "s1", "s2") == recipe_passport_signature(
        "A", "c", "t", "n", 9, "s1", "s2")
