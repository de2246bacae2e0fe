"""Provider-report drop zone scanning: restart-safe cursor and content-based run keys, local and S3 (moto)."""

from __future__ import annotations

import os
import socket

import boto3
import pytest

from recon.drops import scan_report_drops
from recon.service import ingest_report_drops
from tests.conftest import FIXTURES
from vgos.storage import open_store

CAMT = (FIXTURES / "iso20022" / "genkgo-camt__camt054.v8.xml").read_bytes()
STL = (FIXTURES / "psp" / "smashpig__PayPal__stl.csv").read_bytes()


def _exercise(root: str, db_url: str) -> None:
    store = open_store(root)
    store.put("reports/a.xml", CAMT)
    first = scan_report_drops(root, None)
    assert [(d.key, d.format) for d in first.drops] == [("reports/a.xml", "camt054")]
    # restart: a new process with the stored cursor sees nothing new
    assert scan_report_drops(root, first.cursor).drops == []
    store.put("reports/paypal-stl/b.csv", STL)
    store.put("reports/copy-of-a.xml", CAMT)
    second = scan_report_drops(root, first.cursor)
    assert sorted(d.key for d in second.drops) == ["reports/copy-of-a.xml", "reports/paypal-stl/b.csv"]
    by_key = {d.key: d for d in first.drops + second.drops}
    assert by_key["reports/copy-of-a.xml"].run_key == by_key["reports/a.xml"].run_key  # content-based
    assert by_key["reports/paypal-stl/b.csv"].format == "paypal-stl"
    assert scan_report_drops(root, second.cursor).drops == []
    outcomes = ingest_report_drops(root, [d.key for d in first.drops + second.drops], db_url=db_url)
    assert sorted(o.status for o in outcomes) == ["ALREADY_SEEN", "PROCESSED", "PROCESSED"]


def test_local_folder_sensor(tmp_path, vgos_home):
    _exercise(str(tmp_path / "drop"), f"sqlite:///{vgos_home / 'r.db'}")


@pytest.fixture
def moto_s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="drops")
    yield endpoint
    server.stop()


def test_s3_sensor_on_moto_server(moto_s3, vgos_home):
    assert os.environ["AWS_ENDPOINT_URL"] == moto_s3
    _exercise("s3://drops/zone", f"sqlite:///{vgos_home / 'r.db'}")
