"""The window chain with the drop zone and the artifacts on S3 (moto server on loopback)."""

from __future__ import annotations

import boto3
import pytest
from dagster import DagsterInstance

from tests.dagster.conftest import WINDOW, materializations, meta
from vgos.replay import verify_transcript
from vgos.storage import open_store
from vgos_app.demo import seed_events_path
from vgos_assets.definitions import defs


@pytest.mark.slow  # a real webserver / S3 chain: CI runs it; `make test` stays in budget
def test_chain_on_s3(vgos_home, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    for bucket in ("vgos-drop", "vgos-artifacts"):
        s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("VGOS_DROP_ZONE", "s3://vgos-drop/zone")
    monkeypatch.setenv("VGOS_ARTIFACTS", "s3://vgos-artifacts/prod")
    s3.put_object(Bucket="vgos-drop", Key=f"zone/events/{WINDOW}/seed.jsonl", Body=seed_events_path().read_bytes())
    with DagsterInstance.ephemeral() as inst:
        res = defs.resolve_job_def("settlement_window").execute_in_process(partition_key=WINDOW, instance=inst)
    assert res.success
    tr = materializations(res, "transcript")[0]
    url = meta(tr, "transcript_url")
    assert url.startswith(f"s3://vgos-artifacts/prod/transcripts/default/{WINDOW}/")
    assert verify_transcript(url).ok
    keys = open_store("s3://vgos-artifacts/prod").list()
    assert f"dagster/allocations/{WINDOW}/seal.json" in keys
    assert any(k.startswith("raw/") and k.endswith("/seed.jsonl") for k in keys)
    norm = materializations(res, "normalized_log")[0]
    assert meta(norm, "rejects_by_reason") == {"AFTER_CUTOFF": 1, "DUPLICATE_EVENT": 1}
