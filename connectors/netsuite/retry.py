"""Exponential backoff with jitter for NetSuite faults that a repeated request can cure, within a bounded budget.

What is retried (TransientFault): dropped connections (reset, remote disconnected, a response lost after the
server processed the request), connect and read timeouts, HTTP 5xx without a SOAP fault, HTTP 429, and the SOAP
faults SSS_REQUEST_LIMIT_EXCEEDED, WS_CONCUR_SESSION_DISALLWD, WS_REQUEST_BLOCKED (and the
exceededConcurrentRequestLimitFault family). Everything else (credentials, schema, permissions) fails at once.

Re-sending is safe because every write VGOS makes is an upsert keyed by externalId (SOAP upsert/upsertList,
REST PUT .../eid:<externalId>): a request the server already applied, when sent again, finds the same record and
replaces it with the same content, so a retry can never create a duplicate bill. Reads (search, getList,
SuiteQL) have no side effects.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

CONCURRENCY_CODES = frozenset({
    "WS_REQUEST_BLOCKED", "WS_CONCUR_SESSION_DISALLWD", "SSS_REQUEST_LIMIT_EXCEEDED",
    "ExceededConcurrentRequestLimitFault", "HTTP_429",
})
# HTTP statuses retried whatever the body says (a SOAP fault inside a 500 is classified by its code instead).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class NetSuiteError(Exception):
    """A NetSuite call failed for good (bad credentials, schema, permission, or retries exhausted)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class TransientFault(NetSuiteError):
    """A fault the same request may cure later; retry_after is the server's Retry-After in seconds, if any."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


@dataclass
class RetryPolicy:
    """Backoff parameters; sleep and the jitter source are injectable (seed) so tests need no wall-clock waits.

    Delay before retry n is `rand() * min(max_delay_s, base_delay_s * 2**(n-1))` ("full jitter", so concurrent
    workers hit by the same fault spread out), or the server's Retry-After when it asks for longer, capped at
    retry_after_max_s. Gives up after max_attempts attempts or when the total sleep would exceed budget_s.
    """

    max_attempts: int = 8
    base_delay_s: float = 0.2
    max_delay_s: float = 10.0
    budget_s: float = 120.0
    retry_after_max_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.rand is None:
            rng: Any = random.Random(self.seed) if self.seed is not None else random.SystemRandom()
            self.rand = rng.random

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> RetryPolicy:
        """The policy a NetSuiteConfig asks for (max_attempts, backoff base/max, Retry-After cap)."""
        kwargs: dict[str, Any] = {
            "max_attempts": config.max_attempts, "base_delay_s": config.backoff_base_s,
            "max_delay_s": config.backoff_max_s, "retry_after_max_s": config.retry_after_max_s,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before retry number `attempt` (1-based): full jitter, or the bounded Retry-After if longer."""
        assert self.rand is not None
        wait = self.rand() * min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        if retry_after is not None and retry_after > 0:
            wait = max(wait, min(retry_after, self.retry_after_max_s))
        return wait

    def call(self, fn: Callable[[], T], on_retry: Callable[[], None] | None = None) -> T:
        """Run fn, retrying TransientFault until attempts or the sleep budget run out (then NetSuiteError)."""
        slept = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except TransientFault as exc:
                wait = self.delay(attempt, exc.retry_after)
                if attempt >= self.max_attempts or slept + wait > self.budget_s:
                    raise NetSuiteError(exc.code, f"gave up after {attempt} attempts: {exc}") from exc
                if on_retry:
                    on_retry()
                slept += wait
                self.sleep(wait)
