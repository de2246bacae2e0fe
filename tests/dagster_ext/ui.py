"""Start dagster-webserver or `dagster dev` on a free loopback port for a test, and talk GraphQL to it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.conftest import REPO

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 300  # generous: two cores shared with other test runs


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(vgos_home: Path, dagster_home: Path) -> dict[str, str]:
    """The environment of a fresh checkout user: only these homes, no VGOS_/NETSUITE_/AWS_ settings inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VGOS_", "NETSUITE_", "AWS_", "DAGSTER_"))}
    env.update(VGOS_HOME=str(vgos_home), DAGSTER_HOME=str(dagster_home), DAGSTER_DISABLE_TELEMETRY="1")
    return env


def project_instance(dagster_home: Path) -> None:
    """The project's dagster.yaml (SQLite, QueuedRunCoordinator) in a fresh DAGSTER_HOME, as `make ui` uses it."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text((REPO / "dagster_home" / "dagster.yaml").read_text())


@contextlib.contextmanager
def serve(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Run `command` (given `-h 127.0.0.1 -p PORT` here) in its own process group; yield the base URL once the code
    location answers GraphQL; stop the group afterwards (only the processes this test started)."""
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*command, "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _location_loaded(base):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{command[0]} did not serve the code location:\n"
                                         + log_path.read_text()[-4000:])
                time.sleep(1)
            yield base
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends `dagster dev`
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):  # its code server and daemon may outlive it
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def _location_loaded(base: str) -> bool:
    try:
        body = requests.post(f"{base}/graphql", json={"query": LOCATIONS}, timeout=10).json()
    except (requests.RequestException, ValueError):
        return False
    entries = ((body.get("data") or {}).get("workspaceOrError") or {}).get("locationEntries") or []
    return any((e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation" for e in entries)


def gql(base: str, query: str, variables: dict | None = None) -> dict:
    """POST a GraphQL query; its data, or an AssertionError with the errors."""
    body = requests.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=120).json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def location_name(base: str) -> str:
    """The code location's name as the webserver knows it (the module of workspace.yaml)."""
    [entry] = gql(base, LOCATIONS)["workspaceOrError"]["locationEntries"]
    return entry["name"]
