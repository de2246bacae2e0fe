"""Exponential backoff with full jitter on NetSuite concurrency faults, within a bounded budget."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

CONCURRENCY_CODES = frozenset({
    "WS_REQUEST_BLOCKED", "WS_CONCUR_SESSION_DISALLWD", "SSS_REQUEST_LIMIT_EXCEEDED",
    "ExceededConcurrentRequestLimitFault", "HTTP_429",
})


class NetSuiteError(Exception):
    """A NetSuite call failed for good (bad credentials, schema, permission, or retries exhausted)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class TransientFault(NetSuiteError):
    """A concurrency or rate-limit fault: the same request may succeed later."""


@dataclass
class RetryPolicy:
    """Backoff parameters; sleep and rand are injectable so tests need no wall-clock waits."""

    max_attempts: int = 8
    base_delay_s: float = 0.2
    max_delay_s: float = 10.0
    budget_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = field(default_factory=lambda: random.SystemRandom().random)

    def delay(self, attempt: int) -> float:
        """Full-jitter delay before retry number `attempt` (1-based)."""
        return self.rand() * min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))

    def call(self, fn: Callable[[], T], on_retry: Callable[[], None] | None = None) -> T:
        """Run fn, retrying TransientFault until attempts or the sleep budget run out."""
        slept = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except TransientFault as exc:
                wait = self.delay(attempt)
                if attempt >= self.max_attempts or slept + wait > self.budget_s:
                    raise NetSuiteError(exc.code, f"gave up after {attempt} attempts: {exc}") from exc
                if on_retry:
                    on_retry()
                slept += wait
                self.sleep(wait)
