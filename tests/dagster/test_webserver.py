"""dagster-webserver serves the workspace on loopback: the asset graph and the demo partition via GraphQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from dagster import DagsterInstance

from tests.conftest import REPO
from tests.dagster.conftest import WINDOW
from vgos_assets.definitions import defs

GRAPH = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"
MATS = """{ assetOrError(assetKey: {path: ["transcript"]}) { ... on Asset {
  assetMaterializations(partitions: ["WINDOW"]) { partition runId
    metadataEntries { label ... on TextMetadataEntry { text } } } } } }""".replace("WINDOW", WINDOW)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webserver(seeded_home: Path, tmp_path: Path):
    """Materialize the demo partition into DAGSTER_HOME, then serve that instance's workspace."""
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    (dagster_home / "dagster.yaml").write_text((REPO / "dagster_home" / "dagster.yaml").read_text())
    with DagsterInstance.get() as inst:
        res = defs.resolve_job_def("settlement_window").execute_in_process(partition_key=WINDOW, instance=inst)
        assert res.success
    port = _free_port()
    log = open(tmp_path / "webserver.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", str(REPO / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{base}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("dagster-webserver did not start:\n" + (tmp_path / "webserver.log").read_text()[-3000:])
            time.sleep(1)
        yield base, res.run_id
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _gql(base: str, query: str) -> dict:
    for _ in range(60):  # the code server may still be loading the location
        body = requests.post(f"{base}/graphql", json={"query": query}, timeout=30).json()
        if "errors" not in body and body["data"] and (body["data"].get("assetNodes") or
                                                      body["data"].get("assetOrError")):
            return body["data"]
        time.sleep(2)
    raise AssertionError(f"GraphQL kept failing: {body}")


@pytest.mark.slow  # a real webserver / S3 chain: CI runs it; `make test` stays in budget
def test_graphql_shows_lineage_and_demo_partition(webserver) -> None:
    base, run_id = webserver
    nodes = {tuple(n["assetKey"]["path"]): {tuple(d["path"]) for d in n["dependencyKeys"]}
             for n in _gql(base, GRAPH)["assetNodes"]}
    assert nodes[("normalized_log",)] == {("raw_events",)}
    assert nodes[("allocations",)] == {("normalized_log",)}
    assert nodes[("transcript",)] == {("normalized_log",), ("allocations",)}
    mats = _gql(base, MATS)["assetOrError"]["assetMaterializations"]
    assert [(m["partition"], m["runId"]) for m in mats] == [(WINDOW, run_id)]
    entries = {e["label"]: e.get("text") for e in mats[0]["metadataEntries"]}
    assert len(entries["output_digest"]) == 64
