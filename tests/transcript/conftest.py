"""Fixtures for transcript tests: the seed fold and a moto server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED_EVENTS = REPO / "vgos" / "samples" / "seed_events.jsonl"
SEED_WINDOW = "2025-09-23"


@pytest.fixture
def seed_result():
    """The seed demo window folded with the default policy."""
    from vgos.fold import fold_files
    from vgos.policy import load_policy

    return fold_files([SEED_EVENTS], SEED_WINDOW, load_policy(None))


@pytest.fixture
def moto_server(monkeypatch):
    """moto (S3, KMS) on 127.0.0.1 with a free port and fake credentials, stopped after the test."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield url
    server.stop()
