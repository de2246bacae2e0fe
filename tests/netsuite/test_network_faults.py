"""The NetSuite network layer under real faults: a proxy on 127.0.0.1 in front of the sandbox drops, errors, stalls."""

from __future__ import annotations

import math
import socket
import time
from pathlib import Path

import pytest

from connectors.netsuite.config import DEFAULT_CONCURRENCY, MAX_BATCH_SIZE, NetSuiteConfig
from connectors.netsuite.pipeline import DEMO_VENDOR_MAP, effective_concurrency, sync_and_verify
from connectors.netsuite.rest_client import RestClient, make_client
from connectors.netsuite.retry import NetSuiteError, RetryPolicy, TransientFault
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import build_bill_specs, sync_window
from connectors.netsuite.transport import parse_retry_after
from tests.netsuite.conftest import CREDS, window
from tests.netsuite.faultproxy import start_proxy
from tests.netsuite.test_cli_window import authorized_window  # noqa: F401 - fixture reused by the CLI tests
from vgos.errors import InputError
from vgos_app.cli import main
from vgos_app.demo import SEED_WINDOW

PAGE = 1000  # NetSuiteConfig.page_size: search results per page
STORM = dict(drop_every=3, error_every=4)  # the schedule: every 3rd answer lost after processing, 5xx on 4th


class Sleeps:
    """Injectable sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, s: float) -> None:
        self.calls.append(s)


JOURNAL_REQUESTS = {"soap": 3, "rest": 4}  # first post of a one-entry journal, with its read-back


def fast_retry(**over) -> RetryPolicy:
    return RetryPolicy(**{"sleep": Sleeps(), "base_delay_s": 0.001, "seed": 7, **over})


def config(url: str, **over) -> NetSuiteConfig:
    return NetSuiteConfig(credentials=CREDS, base_url=url, **over)


def many_bills(n: int, digest: str = "c" * 64) -> dict:
    """A window of n principals (all mapped to vendors), half ALLOW and half HOLD."""
    allocs, decisions, vendors = [], [], {}
    for i in range(n):
        pid = f"P{i:05d}"
        net, bonus = 100 + i % 991, (100 + i % 991) // 10
        allocs.append({"principal_id": pid, "net_minor": net, "bonus_floor_minor": bonus, "carry_minor": 0,
                       "payout_minor": net + bonus})
        decisions.append({"principal_id": pid, "payout_minor": net + bonus, "output_digest": digest,
                          "decision": "ALLOW" if i % 2 else "HOLD", "reason_code": None if i % 2 else "CT_HOLD"})
        vendors[pid] = str(20_000 + i)
    return window(window_id="2025-10-01", tran_date="2025-10-01", output_digest=digest, allocations=allocs,
                  decisions=decisions, vendor_map=vendors)


def stored_bills(sb) -> list[str]:
    return [r.external_id for r in sb.store.all("vendorBill")]


def storm_sync(sandbox_factory, bills: int, batch_size: int, concurrency: int, latency_ms: int,
               transport: str = "soap") -> None:
    """Sync + verify `bills` bills through the storm; assert a clean end and a request count at the minimum."""
    sb = sandbox_factory()
    w = many_bills(bills)
    with start_proxy(sb.url, latency_ms=latency_ms, **STORM) as proxy:
        cfg = config(proxy.url, batch_size=batch_size, concurrency=concurrency, transport=transport)
        t0 = time.perf_counter()
        # The retry sleeps are recorded, not waited, so the concurrent workers can stay in step and one of them can
        # meet the schedule's faulty answers (half of all) many times in a row, which real jittered sleeps would
        # break up; the storm checks that every fault costs one retry, not how many attempts one batch needs.
        report, drift = sync_and_verify(cfg, w, retry=fast_retry(max_attempts=30))
        elapsed = time.perf_counter() - t0
    ids = stored_bills(sb)
    assert report.ok and len(report.created) == bills and report.failed == []
    assert drift is not None and drift.ok and drift.checked == bills
    assert len(ids) == bills and len(set(ids)) == bills  # 0 duplicates
    if transport == "soap":  # search, upsertList per batch, verify search + searchMoreWithId pages
        needed = 1 + math.ceil(bills / batch_size) + math.ceil(bills / PAGE)
    else:  # SuiteQL (one page), a PUT per bill, then SuiteQL and a GET per bill for verify
        needed = 1 + bills + 1 + bills
    # the window's journal entry: SOAP getList, upsert, getList to verify; REST GET (absent), PUT, GET, GET (no r1)
    needed += JOURNAL_REQUESTS[transport]
    least = proxy.plan.minimum_requests(needed)
    print(f"\n{transport} storm: {bills} bills, batch {batch_size}, concurrency {concurrency}, latency {latency_ms} ms:"
          f" {proxy.requests} requests ({proxy.delivered} answered, {proxy.counts['drop']} dropped,"
          f" {proxy.counts['error']} 5xx); fault-free minimum {needed}, minimum under this fault schedule {least};"
          f" {elapsed:.1f} s")
    assert proxy.delivered == needed  # nothing was re-sent one bill at a time, no extra round trip
    assert proxy.requests <= least + 1  # every fault cost exactly one retry (≈2x: half the requests fail)
    assert proxy.counts["drop"] > 0 and proxy.counts["error"] > 0


# -- the storm ----------------------------------------------------------------------------------------------
def test_storm_few_hundred_bills_soap(sandbox_factory, vgos_home: Path) -> None:
    storm_sync(sandbox_factory, bills=300, batch_size=20, concurrency=3, latency_ms=10)


def test_storm_rest(sandbox_factory, vgos_home: Path) -> None:
    storm_sync(sandbox_factory, bills=20, batch_size=10, concurrency=2, latency_ms=2, transport="rest")


@pytest.mark.slow
def test_storm_5000_bills_soap(sandbox_factory, vgos_home: Path) -> None:
    storm_sync(sandbox_factory, bills=5000, batch_size=100, concurrency=4, latency_ms=50)


# -- each fault is retried ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "plan", "code"), [
    ("5xx", dict(error_status=503), "HTTP_503"),
    ("502", dict(error_status=502), "HTTP_502"),
    ("429", dict(error_status=429), "HTTP_429"),
    ("dropped", {}, "CONNECTION_DROPPED"),
    ("SSS_REQUEST_LIMIT_EXCEEDED", dict(soap_fault_code="SSS_REQUEST_LIMIT_EXCEEDED"), "SSS_REQUEST_LIMIT_EXCEEDED"),
    ("WS_CONCUR_SESSION_DISALLWD", dict(soap_fault_code="WS_CONCUR_SESSION_DISALLWD"), "WS_CONCUR_SESSION_DISALLWD"),
    ("WS_REQUEST_BLOCKED", dict(soap_fault_code="WS_REQUEST_BLOCKED"), "WS_REQUEST_BLOCKED"),
])
def test_each_transient_fault_is_retried_once_and_the_batch_lands(sandbox_factory, fault, plan, code) -> None:
    sb = sandbox_factory()
    kind = "drop" if fault == "dropped" else "soap_fault" if "soap_fault_code" in plan else "error"
    with start_proxy(sb.url, faults_at={1: kind, 2: kind}, only_ops=frozenset({"upsertList"}), **plan) as proxy:
        client = SuiteTalkClient(config(proxy.url), retry=fast_retry())
        seen: list[str] = []
        original = client._call_once

        def spy(*a, **kw):
            try:
                return original(*a, **kw)
            except TransientFault as exc:
                seen.append(exc.code)
                raise

        client._call_once = spy  # type: ignore[method-assign]
        report = sync_window(client, **window(), batch_size=3)
    assert report.ok and len(report.created) == 3 and len(stored_bills(sb)) == 3
    assert seen == [code, code] and client.retries == 2
    assert proxy.ops["upsertList"] == 3 and proxy.ops.get("upsert", 0) == 0  # retried as a batch


def test_rest_5xx_and_429_are_retried(sandbox_factory) -> None:
    sb = sandbox_factory()
    with start_proxy(sb.url, faults_at={1: "error", 3: "error"}, error_status=503,
                     only_ops=frozenset({"PUT "})) as proxy:
        client = RestClient(config(proxy.url, transport="rest"), retry=fast_retry())
        report = sync_window(client, **window(), batch_size=3)
    assert report.ok and len(stored_bills(sb)) == 3 and client.retries == 2 and proxy.requests == 5
    sb429 = sandbox_factory(fault_every=2)  # the sandbox's own 429 SSS_REQUEST_LIMIT_EXCEEDED
    client = RestClient(config(sb429.url, transport="rest"), retry=fast_retry())
    assert sync_window(client, **window(), batch_size=3).ok and client.retries > 0


def test_retry_after_is_honoured_and_bounded(sandbox_factory) -> None:
    for header, cap, expected in (("1.5", 60.0, 1.5), ("3600", 2.0, 2.0)):
        sb = sandbox_factory()
        with start_proxy(sb.url, faults_at={1: "error"}, error_status=429, retry_after=header,
                         only_ops=frozenset({"upsertList"})) as proxy:
            sleeps = Sleeps()
            client = SuiteTalkClient(config(proxy.url), retry=fast_retry(sleep=sleeps, retry_after_max_s=cap))
            assert sync_window(client, **window(), batch_size=3).ok
        assert sleeps.calls == [expected]
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_a_permanent_fault_is_not_retried(sandbox_factory) -> None:
    sb = sandbox_factory()
    with start_proxy(sb.url, faults_at={1: "soap_fault"}, soap_fault_code="INVALID_LOGIN_CREDENTIALS",
                     only_ops=frozenset({"upsertList"})) as proxy:
        client = SuiteTalkClient(config(proxy.url), retry=fast_retry())
        sync_window(client, **window(), batch_size=3)
    assert proxy.ops["upsertList"] == 1 and client.retries == 0


def test_jitter_is_seedable_and_capped() -> None:
    a = [RetryPolicy(seed=3).delay(n) for n in range(1, 12)]
    b = [RetryPolicy(seed=3).delay(n) for n in range(1, 12)]
    assert a == b and a != [RetryPolicy(seed=4).delay(n) for n in range(1, 12)]
    assert all(0 <= d <= 10.0 for d in a)
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=4, sleep=sleeps, seed=1)
    with pytest.raises(NetSuiteError, match="gave up after 4 attempts") as exc:
        policy.call(lambda: (_ for _ in ()).throw(TransientFault("HTTP_503", "down")))
    assert exc.value.code == "HTTP_503" and len(sleeps.calls) == 3
    assert not isinstance(exc.value, TransientFault)  # an outer layer never retries it again


# -- batches ------------------------------------------------------------------------------------------------
def test_a_failed_batch_is_retried_as_a_batch_and_a_rerun_completes_without_duplicates(sandbox_factory) -> None:
    sb = sandbox_factory()
    w = many_bills(250)
    # every upsertList reaches the sandbox and is applied, but no answer ever comes back
    with start_proxy(sb.url, drop_every=1, only_ops=frozenset({"upsertList", "upsert"})) as proxy:
        client = SuiteTalkClient(config(proxy.url), retry=fast_retry(max_attempts=3))
        report = sync_window(client, **w, batch_size=100, concurrency=2)
    assert not report.ok and len(report.failed) == 250
    assert {f.code for f in report.failed} == {"CONNECTION_DROPPED"}
    assert proxy.ops["upsertList"] == 3 * 3 and proxy.ops.get("upsert", 0) == 0  # 3 batches x 3 attempts
    again = sync_window(SuiteTalkClient(config(sb.url), retry=fast_retry()), **w, batch_size=100)
    assert again.ok and again.created == [] and len(again.unchanged) == 250
    assert len(stored_bills(sb)) == 250


def test_batch_size_over_100_is_refused_and_lists_are_split(sandbox_factory, monkeypatch) -> None:
    with pytest.raises(InputError, match=r"NETSUITE_BATCH_SIZE must be in 1\.\.100"):
        NetSuiteConfig.from_env({**_env(), "NETSUITE_BATCH_SIZE": "101"})
    with pytest.raises(InputError, match="NETSUITE_BATCH_SIZE"):
        config("http://127.0.0.1:9", batch_size=1000)
    assert NetSuiteConfig.from_env({**_env(), "NETSUITE_BATCH_SIZE": "100"}).batch_size == MAX_BATCH_SIZE
    sb = sandbox_factory()
    specs = build_bill_specs(**many_bills(250))
    with start_proxy(sb.url) as proxy:
        results = SuiteTalkClient(config(proxy.url), retry=fast_retry()).upsert_bills(specs)
    assert all(r.ok for r in results) and len(results) == 250 and proxy.ops["upsertList"] == 3


def test_cli_refuses_batch_size_over_100_with_one_line(authorized_window, monkeypatch, capsys) -> None:  # noqa: F811
    monkeypatch.setenv("NETSUITE_BATCH_SIZE", "500")
    assert main(["netsuite", "sync", SEED_WINDOW, "--vendor-map", str(DEMO_VENDOR_MAP)]) == 2
    err = capsys.readouterr().err
    assert "NETSUITE_BATCH_SIZE must be in 1..100" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# -- timeouts -----------------------------------------------------------------------------------------------
def test_read_timeout_is_configurable_and_honoured(sandbox_factory) -> None:
    cfg = NetSuiteConfig.from_env({**_env(), "NETSUITE_READ_TIMEOUT_S": "1.5", "NETSUITE_CONNECT_TIMEOUT_S": "2"})
    assert (cfg.connect_timeout_s, cfg.read_timeout_s) == (2.0, 1.5)
    with pytest.raises(InputError, match="NETSUITE_READ_TIMEOUT_S"):
        NetSuiteConfig.from_env({**_env(), "NETSUITE_READ_TIMEOUT_S": "soon"})
    sb = sandbox_factory()
    with start_proxy(sb.url, faults_at={1: "stall"}, stall_s=10, only_ops=frozenset({"upsertList"})) as proxy:
        env = {**_env(), "NETSUITE_BASE_URL": proxy.url, "NETSUITE_READ_TIMEOUT_S": "1.5",
               "NETSUITE_CONNECT_TIMEOUT_S": "2"}
        client = SuiteTalkClient(NetSuiteConfig.from_env(env), retry=fast_retry())
        assert client.http.timeout == (2, 1.5) and client.config.soap_url.startswith(proxy.url)
        t0 = time.perf_counter()
        report = sync_window(client, **window(), batch_size=3)
        elapsed = time.perf_counter() - t0
    assert report.ok and proxy.counts["stall"] == 1 and client.retries == 1
    assert elapsed < 6  # the 10 s stall was cut at the 1.5 s read timeout, then the retry went through


def test_unreachable_account_fails_with_one_line_exit_1(authorized_window, monkeypatch, capsys) -> None:  # noqa: F811
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("NETSUITE_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NETSUITE_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("NETSUITE_BACKOFF_BASE_S", "0.01")
    monkeypatch.setenv("NETSUITE_CONCURRENCY", "2")
    assert main(["netsuite", "sync", SEED_WINDOW, "--vendor-map", str(DEMO_VENDOR_MAP)]) == 1
    err = capsys.readouterr().err
    assert "CONNECTION_DROPPED" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# -- the CLI through the storm --------------------------------------------------------------------------------
def test_cli_sync_through_faults_exits_0_then_reports_failures_and_a_rerun_completes(
        authorized_window, sandbox, monkeypatch, capsys) -> None:  # noqa: F811
    args = ["netsuite", "sync", SEED_WINDOW, "--vendor-map", str(DEMO_VENDOR_MAP)]
    monkeypatch.setenv("NETSUITE_BACKOFF_BASE_S", "0.001")
    monkeypatch.setenv("NETSUITE_MAX_ATTEMPTS", "3")
    with start_proxy(sandbox.url, drop_every=1, only_ops=frozenset({"upsert"})) as proxy:
        monkeypatch.setenv("NETSUITE_BASE_URL", proxy.url)
        assert main(args) == 1  # every write lost: each bill listed as failed, no traceback
    captured = capsys.readouterr()
    assert captured.out.count("FAILED") == 3 and "Traceback" not in captured.out + captured.err
    assert proxy.ops["upsertList"] == 3 and proxy.ops.get("upsert", 0) == 0
    with start_proxy(sandbox.url, latency_ms=5, **STORM) as proxy:
        monkeypatch.setenv("NETSUITE_BASE_URL", proxy.url)
        monkeypatch.setenv("NETSUITE_MAX_ATTEMPTS", "8")
        assert main(args) == 0
        assert main(["netsuite", "verify", SEED_WINDOW, "--vendor-map", str(DEMO_VENDOR_MAP)]) == 0
    assert proxy.counts["drop"] + proxy.counts["error"] > 0
    ids = stored_bills(sandbox)
    assert len(ids) == 3 and len(set(ids)) == 3


# -- concurrency --------------------------------------------------------------------------------------------
def test_concurrency_comes_from_config(sandbox_factory, vgos_home: Path) -> None:
    assert NetSuiteConfig.from_env({**_env(), "NETSUITE_CONCURRENCY": "7"}).concurrency == 7
    with pytest.raises(InputError, match="NETSUITE_CONCURRENCY"):
        NetSuiteConfig.from_env({**_env(), "NETSUITE_CONCURRENCY": "0"})
    sb = sandbox_factory()
    with start_proxy(sb.url, latency_ms=60, only_ops=frozenset({"upsertList"})) as proxy:
        cfg = config(proxy.url, concurrency=3, batch_size=25)
        assert effective_concurrency(cfg, make_client(cfg)) == (3, "config")
        report, drift = sync_and_verify(cfg, many_bills(300), retry=fast_retry())
    assert report.ok and drift is not None and drift.ok
    assert proxy.ops["upsertList"] == 12 and proxy.max_in_flight == 3
    assert proxy.ops.get("getIntegrationGovernanceInfo", 0) == 0  # configured: the account is not asked


def test_concurrency_from_governance_when_readable_else_default(sandbox_factory, vgos_home: Path) -> None:
    sb = sandbox_factory()
    with start_proxy(sb.url, latency_ms=60, governance_limit=4, only_ops=frozenset({"upsertList"})) as proxy:
        cfg = config(proxy.url, batch_size=25)
        assert cfg.concurrency is None
        assert effective_concurrency(cfg, make_client(cfg)) == (4, "governance")
        report, _ = sync_and_verify(cfg, many_bills(300), retry=fast_retry())
    assert report.ok and proxy.max_in_flight == 4
    # an account that refuses getIntegrationGovernanceInfo, or REST (no such call): the documented default applies
    with start_proxy(sb.url, faults_at={1: "soap_fault"}, soap_fault_code="INSUFFICIENT_PERMISSION",
                     only_ops=frozenset({"getIntegrationGovernanceInfo"})) as proxy:
        refused = config(proxy.url)
        assert effective_concurrency(refused, make_client(refused)) == (DEFAULT_CONCURRENCY, "default")
    assert proxy.requests == 1  # a refusal is not retried
    rest = config(sb.url, transport="rest")
    assert effective_concurrency(rest, make_client(rest)) == (DEFAULT_CONCURRENCY, "default")


def _env() -> dict[str, str]:
    return {"NETSUITE_ACCOUNT": CREDS.account, "NETSUITE_CONSUMER_KEY": CREDS.consumer_key,
            "NETSUITE_CONSUMER_SECRET": CREDS.consumer_secret, "NETSUITE_TOKEN_ID": CREDS.token_id,
            "NETSUITE_TOKEN_SECRET": CREDS.token_secret}


@pytest.mark.parametrize("var,value", [("NETSUITE_READ_TIMEOUT_S", "inf"), ("NETSUITE_CONNECT_TIMEOUT_S", "nan"),
                                       ("NETSUITE_READ_TIMEOUT_S", "0"), ("NETSUITE_BACKOFF_BASE_S", "nan"),
                                       ("NETSUITE_BACKOFF_MAX_S", "1e9")])
def test_timeouts_that_never_fire_are_refused(var, value):
    """inf or nan would make a request wait forever (every comparison with nan is false): one config line."""
    with pytest.raises(InputError, match=var):
        NetSuiteConfig.from_env({**_env(), var: value})
