"""One HTTP exchange with NetSuite: per-thread sessions, (connect, read) timeouts, network faults made retryable."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .model import WriteResult
from .retry import RETRY_STATUSES, TransientFault


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpTransport:
    """Sends requests with the configured timeouts and turns network faults into TransientFault.

    A connection reset, a remote end closing without an answer, a truncated body, and connect/read timeouts all
    raise TransientFault, so the caller's RetryPolicy re-sends them (safe: writes are upserts by externalId).
    """

    def __init__(self, *, connect_timeout_s: float, read_timeout_s: float, pool_size: int = 10,
                 configure: Callable[[requests.Session], None] | None = None) -> None:
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.pool_size = max(1, pool_size)
        self._configure = configure
        self._local = threading.local()
        self.sent = 0

    def session(self) -> requests.Session:
        """This thread's session (requests.Session is not thread-safe); keep-alive within a thread."""
        sess = getattr(self._local, "session", None)
        if sess is None:
            sess = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.pool_size, max_retries=0)
            sess.mount("http://", adapter)
            sess.mount("https://", adapter)
            if self._configure:
                self._configure(sess)
            self._local.session = sess
        return sess

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request; network faults raise TransientFault, HTTP statuses are the caller's to judge."""
        self.sent += 1
        try:
            return self.session().request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
            self._drop_session()
            raise TransientFault("TIMEOUT", f"{kind} timeout after {self._limit(kind)} s: {url}") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            self._drop_session()
            raise TransientFault("CONNECTION_DROPPED", f"{type(exc).__name__}: {_short(exc)}") from exc

    def _limit(self, kind: str) -> float:
        return self.timeout[0] if kind == "connect" else self.timeout[1]

    def _drop_session(self) -> None:
        """Forget this thread's pooled connections after a fault so the retry opens a fresh one."""
        sess = getattr(self._local, "session", None)
        if sess is not None:
            sess.close()
            self._local.session = None


def status_fault(resp: requests.Response) -> TransientFault | None:
    """TransientFault for a retryable HTTP status (429, 5xx), carrying Retry-After; None otherwise."""
    if resp.status_code not in RETRY_STATUSES and resp.status_code < 500:
        return None  # 4xx other than 429: the request itself is wrong, repeating it cannot help
    code = "HTTP_429" if resp.status_code == 429 else f"HTTP_{resp.status_code}"
    return TransientFault(code, f"HTTP {resp.status_code} from {resp.url}",
                          parse_retry_after(resp.headers.get("Retry-After")))


class ExhaustedWrites:
    """Bills whose batch was already retried to exhaustion on this thread, so a per-bill fallback skips them.

    Stamping retries a failed record alone; for a record that failed because its whole request could not get
    through (not a record-level error inside a good response), that would re-send the batch one bill at a time.
    upsert_bills notes such bills here and upsert_bill answers them from here without sending anything.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def reset(self) -> None:
        """Start a new batch on this thread (earlier notes no longer apply)."""
        self._local.failed = {}

    def note(self, result: WriteResult) -> None:
        """Remember a bill that failed with its whole request."""
        if getattr(self._local, "failed", None) is None:
            self._local.failed = {}
        self._local.failed[result.external_id] = result

    def take(self, external_id: str) -> WriteResult | None:
        """The noted failure for this bill (once), or None when it should be sent."""
        failed = getattr(self._local, "failed", None)
        return failed.pop(external_id, None) if failed else None


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
