"""A sandbox per test on 127.0.0.1 (free port), plus the seed demo window as plain data."""

from __future__ import annotations

import pytest

from connectors.netsuite.config import Credentials, NetSuiteConfig
from connectors.netsuite.retry import RetryPolicy
from connectors.netsuite.sandbox import SandboxConfig, start_sandbox
from gl_mappings import DEMO_FILE, load_gl_mapping

CREDS = Credentials("TSTDRV9", "consumer-key", "consumer-secret", "token-id", "token-secret")
DIGEST = "90833464347fd19e2779e0929d7e57b81d4e951f1d96e84eab947d8c4bf97a73"
ALLOCATIONS = [
    {"principal_id": "CRE-0001", "events": 1, "net_minor": 345, "bonus_floor_minor": 34,
     "remainder_micro": 500000, "carry_minor": 1, "payout_minor": 380},
    {"principal_id": "CRE-0002", "events": 1, "net_minor": 250, "bonus_floor_minor": 25,
     "remainder_micro": 0, "carry_minor": 0, "payout_minor": 275},
    {"principal_id": "CRE-0003", "events": 1, "net_minor": 415, "bonus_floor_minor": 41,
     "remainder_micro": 500000, "carry_minor": 0, "payout_minor": 456},
]
VENDORS = {"CRE-0001": "101", "CRE-0002": "102", "CRE-0003": "103"}


def decisions(digest: str = DIGEST, hold: tuple[str, ...] = ("CRE-0002",)) -> list[dict]:
    return [{"principal_id": a["principal_id"], "payout_minor": a["payout_minor"],
             "decision": "HOLD" if a["principal_id"] in hold else "ALLOW",
             "reason_code": "CT_HOLD" if a["principal_id"] in hold else None, "output_digest": digest}
            for a in ALLOCATIONS]


def window(**over) -> dict:
    base = dict(tenant_id="default", window_id="2025-09-23", currency="USD", output_digest=DIGEST,
                transcript_url="file:///vgos/transcripts/2025-09-23", provider_batch_id=None,
                allocations=ALLOCATIONS, decisions=decisions(), vendor_map=VENDORS,
                gl_mapping=load_gl_mapping(path=DEMO_FILE), tran_date="2025-09-23")
    base.update(over)
    return base


NO_SLEEP = RetryPolicy(sleep=lambda s: None, base_delay_s=0.001)


@pytest.fixture
def sandbox_factory():
    started = []

    def make(**kw):
        sb = start_sandbox(SandboxConfig(CREDS, **kw))
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(sandbox_factory):
    return sandbox_factory()


def config_for(sb, **over) -> NetSuiteConfig:
    return NetSuiteConfig(credentials=CREDS, base_url=sb.url, **over)
