"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the sandbox: drops, 5xx, 429, SOAP limit faults, stalls.

Faults follow a fixed schedule on the arrival number n of each counted request (1-based), so a test can compute
the least number of requests any client needs to get S requests through (`minimum_requests`). Written without
the client's code: canned SOAP faults are literal XML, forwarding copies bytes and headers (Host included, so
the sandbox checks REST OAuth signatures against the URL the client signed).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te", "upgrade"}
_FAULTS_NS = "urn:faults_2023_2.platform.webservices.netsuite.com"
_SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


def soap_fault(code: str, element: str = "exceededRequestLimitFault", message: str = "injected") -> bytes:
    """A SuiteTalk fault envelope as NetSuite sends it for limit faults (HTTP 500)."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{_SOAP_NS}"><soapenv:Body>'
        f"<soapenv:Fault><faultcode>soapenv:Server.userException</faultcode><faultstring>{message}</faultstring>"
        f'<detail><platformFaults:{element} xmlns:platformFaults="{_FAULTS_NS}">'
        f"<platformFaults:code>{code}</platformFaults:code><platformFaults:message>{message}"
        f"</platformFaults:message></platformFaults:{element}></detail></soapenv:Fault></soapenv:Body>"
        f"</soapenv:Envelope>"
    ).encode()


def governance_reply(limit: int) -> bytes:
    """A getIntegrationGovernanceInfo answer reporting `limit` concurrent requests for this integration."""
    core = "urn:core_2023_2.platform.webservices.netsuite.com"
    msgs = "urn:messages_2023_2.platform.webservices.netsuite.com"
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{_SOAP_NS}"><soapenv:Body>'
        f'<getIntegrationGovernanceInfoResponse xmlns="{msgs}"><platformCore:getIntegrationGovernanceInfoResult '
        f'xmlns:platformCore="{core}"><platformCore:status isSuccess="true"/>'
        f"<platformCore:integrationConcurrencyLimit>{limit}</platformCore:integrationConcurrencyLimit>"
        f"<platformCore:limitType>_integrationSpecific</platformCore:limitType>"
        f"</platformCore:getIntegrationGovernanceInfoResult></getIntegrationGovernanceInfoResponse>"
        f"</soapenv:Body></soapenv:Envelope>"
    ).encode()


@dataclass
class FaultPlan:
    """Which counted request gets which fault (0 = never); n is the arrival number among counted requests."""

    drop_every: int = 0  # forward, let the sandbox process it, then close the socket without answering
    error_every: int = 0  # answer error_status without forwarding
    error_status: int = 503
    retry_after: str | None = None  # Retry-After header on error answers
    soap_fault_every: int = 0  # answer HTTP 500 with a SOAP fault carrying soap_fault_code, without forwarding
    soap_fault_code: str = "SSS_REQUEST_LIMIT_EXCEEDED"
    stall_every: int = 0  # hold the request stall_s seconds, then close without answering (a read timeout)
    stall_s: float = 2.0
    latency_ms: int = 0  # added to every request before forwarding
    faults_at: dict[int, str] = field(default_factory=dict)  # explicit faults by n ("error", "drop", ...)
    # count/fault only requests whose SOAPAction (or "METHOD /path") starts with one of these; empty: all
    only_ops: frozenset[str] = field(default_factory=frozenset)
    governance_limit: int | None = None  # answer getIntegrationGovernanceInfo with this limit

    def counts(self, op: str) -> bool:
        """Whether a request for `op` is counted (and so may be faulted)."""
        return not self.only_ops or any(op.startswith(p) for p in self.only_ops)

    def fault(self, n: int) -> str | None:
        """The fault of counted request n, or None when it passes."""
        if n in self.faults_at:
            return self.faults_at[n]
        for every, name in ((self.error_every, "error"), (self.soap_fault_every, "soap_fault"),
                            (self.stall_every, "stall"), (self.drop_every, "drop")):
            if every and n % every == 0:
                return name
        return None

    def minimum_requests(self, successes: int) -> int:
        """Least number of counted requests any client needs so that `successes` of them get through."""
        n = ok = 0
        while ok < successes:
            n += 1
            ok += self.fault(n) is None
        return n


class FaultProxy:
    """The proxy server; `url` replaces the sandbox URL in the client's configuration."""

    def __init__(self, upstream: str, plan: FaultPlan) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plan = plan
        self.counts: Counter[str] = Counter()
        self.ops: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._n = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fault-proxy", daemon=True)

    @property
    def requests(self) -> int:
        """Counted requests received (every attempt the client made)."""
        return self.counts["requests"]

    @property
    def delivered(self) -> int:
        """Counted requests whose answer reached the client."""
        return self.counts["delivered"]

    def start(self) -> FaultProxy:
        """Serve in a background thread (idempotent)."""
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def stop(self) -> None:
        """End stalls, stop serving and free the port."""
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _admit(self, op: str) -> str | None:
        """Count the request (if it is counted) and decide its fault."""
        with self._lock:
            self.ops[op] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if not self.plan.counts(op):
                return None
            self._n += 1
            self.counts["requests"] += 1
            fault = self.plan.fault(self._n)
            self.counts[fault or "passed"] += 1
            return fault

    def _done(self, counted: bool, delivered: bool) -> None:
        with self._lock:
            self.in_flight -= 1
            if counted and delivered:
                self.counts["delivered"] += 1


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    plan = proxy.plan

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            return

        def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _hang_up(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            op = self.headers.get("SOAPAction", "").strip('"') or f"{self.command} {self.path.split('?')[0]}"
            counted = plan.counts(op)
            fault = proxy._admit(op)
            delivered = False
            try:
                if plan.latency_ms:
                    time.sleep(plan.latency_ms / 1000)
                if plan.governance_limit is not None and op == "getIntegrationGovernanceInfo":
                    self._reply(200, governance_reply(plan.governance_limit), [("Content-Type", "text/xml")])
                    delivered = True
                    return
                if fault == "error":
                    headers = [("Content-Type", "text/html")]
                    if plan.retry_after is not None:
                        headers.append(("Retry-After", plan.retry_after))
                    self._reply(plan.error_status, b"<html>Service Unavailable</html>", headers)
                    return
                if fault == "soap_fault":
                    self._reply(500, soap_fault(plan.soap_fault_code), [("Content-Type", "text/xml")])
                    return
                if fault == "stall":
                    proxy._stop.wait(plan.stall_s)
                    self._hang_up()
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=data,
                                 headers={k: v for k, v in self.headers.items() if k.lower() not in _HOP})
                    resp = conn.getresponse()
                    body = resp.read()
                finally:
                    conn.close()
                if fault == "drop":  # the sandbox has applied the request; its answer never arrives
                    self._hang_up()
                    return
                self._reply(resp.status, body,
                            [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP])
                delivered = True
            finally:
                proxy._done(counted, delivered)

        def do_POST(self) -> None:  # noqa: N802
            self._handle()

        def do_GET(self) -> None:  # noqa: N802
            self._handle()

        def do_PUT(self) -> None:  # noqa: N802
            self._handle()

        def do_PATCH(self) -> None:  # noqa: N802
            self._handle()

    return Handler


def start_proxy(upstream: str, **plan: object) -> FaultProxy:
    """Start a proxy in front of `upstream` with a FaultPlan built from keyword arguments."""
    return FaultProxy(upstream, FaultPlan(**plan)).start()  # type: ignore[arg-type]
