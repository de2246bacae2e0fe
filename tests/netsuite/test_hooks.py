"""Demo hook and CLI registration."""

from __future__ import annotations

import argparse

import pytest

from connectors.netsuite.config import NetSuiteConfig
from connectors.netsuite.pipeline import demo_sync, netsuite_bills_metadata
from tests.netsuite.conftest import ALLOCATIONS, CREDS, DIGEST, decisions
from vgos_app.cli_netsuite import register


def test_demo_sync_into_the_sandbox(sandbox, monkeypatch):
    for var, value in (("NETSUITE_ACCOUNT", CREDS.account), ("NETSUITE_CONSUMER_KEY", CREDS.consumer_key),
                       ("NETSUITE_CONSUMER_SECRET", CREDS.consumer_secret), ("NETSUITE_TOKEN_ID", CREDS.token_id),
                       ("NETSUITE_TOKEN_SECRET", CREDS.token_secret)):
        monkeypatch.setenv(var, value)
    report, drift = demo_sync(sandbox.url, tenant_id="default", window_id="2025-09-23", currency="USD",
                              output_digest=DIGEST, transcript_url="file:///t", allocations=ALLOCATIONS,
                              decisions=decisions())
    assert len(report.created) == 3 and drift is not None and drift.ok
    assert netsuite_bills_metadata(report, drift)["created"] == 3


def test_missing_credentials_is_a_configuration_error(monkeypatch):
    from vgos.errors import InputError

    monkeypatch.delenv("NETSUITE_TOKEN_SECRET", raising=False)
    with pytest.raises(InputError, match="NETSUITE_TOKEN_SECRET"):
        NetSuiteConfig.from_env({"NETSUITE_ACCOUNT": "A"})


def test_cli_registers_sync_and_verify():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["netsuite", "sync", "2025-09-23", "--dry-run", "--vendor-map", "v.yaml"])
    assert args.dry_run and args.window_id == "2025-09-23" and callable(args.func)
    assert parser.parse_args(["netsuite", "verify", "2025-09-23"]).func.__name__ == "_verify"


def test_service_address_per_account():
    cfg = NetSuiteConfig(credentials=CREDS.__class__("1234567_SB1", "a", "b", "c", "d"))
    assert cfg.soap_url == "https://1234567-sb1.suitetalk.api.netsuite.com/services/NetSuitePort_2023_2"
