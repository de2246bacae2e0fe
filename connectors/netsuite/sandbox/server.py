"""HTTP server of the sandbox: routes SOAP and REST, injects latency and concurrency faults."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

from ..config import DEFAULT_VERSION, FIXTURE_WSDL, Credentials
from .records import RecordRules
from .rest import RestReply, RestService, _error
from .soap import SoapFaultReply, SoapService
from .store import RecordStore
from .tba import TbaVerifier


@dataclass(frozen=True)
class SandboxConfig:
    """Credentials the sandbox accepts, the WSDL it validates against, the account's clock and zone, faults.

    user_timezone is the web-services user's time zone preference (IANA name): SOAP dates are read in it and
    returned as Pacific dateTimes. clock and max_skew_s bound the accepted TBA timestamps.
    """

    credentials: Credentials
    wsdl: str = str(FIXTURE_WSDL)
    version: str = DEFAULT_VERSION
    latency_ms: int = 0
    fault_every: int = 0
    record_fault_every: int = 0
    validate_responses: bool = True
    user_timezone: str = "America/Los_Angeles"
    max_skew_s: int = 300
    clock: Callable[[], float] = field(default=time.time)


class Sandbox:
    """A running sandbox: url, store, counters; stop() shuts it down."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.store = RecordStore()
        creds = config.credentials
        self.verifier = TbaVerifier(creds.account, creds.consumer_key, creds.consumer_secret, creds.token_id,
                                    creds.token_secret, clock=config.clock, max_skew_s=config.max_skew_s)
        self.rules = RecordRules(wsdl=config.wsdl, version=config.version, store=self.store,
                                 user_zone=ZoneInfo(config.user_timezone))
        self.soap = SoapService(wsdl=config.wsdl, version=config.version, verifier=self.verifier,
                                store=self.store, rules=self.rules, validate_responses=config.validate_responses)
        self.soap.record_fault_every = config.record_fault_every
        self.rest = RestService(self.verifier, self.store, self.rules)
        self._calls = itertools.count(1)
        self.faults_injected = 0
        self.requests_seen = 0
        self.httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    def inject_fault_now(self) -> bool:
        """Count one accepted call; True when this call must fail with a concurrency fault."""
        n = next(self._calls)
        self.requests_seen = n
        if self.config.fault_every and n % self.config.fault_every == 0:
            self.faults_injected += 1
            return True
        return False

    def start(self) -> Sandbox:
        """Serve from a background thread, so a test or the demo can call it over loopback."""
        # a short poll interval makes stop() quick (tests start and stop many sandboxes)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="netsuite-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and release its port."""
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(config: SandboxConfig, host: str = "127.0.0.1", port: int = 0) -> Sandbox:
    """Start a sandbox in a background thread (port 0 picks a free port)."""
    return Sandbox(config, host, port).start()


def _make_handler(sb: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet by default
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            if sb.config.latency_ms:
                time.sleep(sb.config.latency_ms / 1000)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _read(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _soap(self) -> None:
            data = self._read()
            xml = {"Content-Type": "text/xml; charset=utf-8"}
            expected = f"/services/NetSuitePort_{sb.config.version}"
            if self.path.split("?")[0] != expected:
                exc = SoapFaultReply("invalidVersionFault", "INVALID_WS_VERSION",
                                     f"this endpoint serves {expected}")
                return self._send(500, sb.soap.fault(exc), xml)
            try:
                header, op = sb.soap.parse_and_check(data)
                if sb.inject_fault_now():
                    raise SoapFaultReply("exceededConcurrentRequestLimitFault", "WS_REQUEST_BLOCKED",
                                         "Only one request may be made against a session at a time",
                                         "soapenv:Server.userException")
                body = sb.soap.dispatch(header, op)
            except SoapFaultReply as exc:
                return self._send(500, sb.soap.fault(exc), xml)
            self._send(200, body, xml)

        def _rest(self, method: str) -> None:
            data = self._read()
            host = self.headers.get("Host", "")
            base = f"http://{host}"
            path, _, query = self.path.partition("?")
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply: RestReply | None = sb.rest.authenticate(method, base + self.path, headers)
            if reply is None:
                if sb.inject_fault_now():
                    reply = _error(429, "SSS_REQUEST_LIMIT_EXCEEDED", "Request limit exceeded")
                else:
                    reply = sb.rest.handle(method, base, path, query, headers, data)
            self._send(reply.status, reply.body, reply.headers)

        def _route(self, method: str) -> None:
            if self.path.startswith("/services/rest/"):
                return self._rest(method)
            if method == "POST" and self.path.startswith("/services/NetSuitePort_"):
                return self._soap()
            self._read()
            self._send(404, b"not found", {"Content-Type": "text/plain"})

        def do_POST(self) -> None:  # noqa: N802
            self._route("POST")

        def do_GET(self) -> None:  # noqa: N802
            self._route("GET")

        def do_PUT(self) -> None:  # noqa: N802
            self._route("PUT")

        def do_PATCH(self) -> None:  # noqa: N802
            self._route("PATCH")

    return Handler
