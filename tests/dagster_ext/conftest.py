"""Fixtures for the disbursement graph: seeded window with signed ACK/CT proofs, a NetSuite sandbox, helpers."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from connectors.netsuite.config import Credentials
from connectors.netsuite.pipeline import DEMO_VENDOR_MAP
from connectors.netsuite.sandbox import SandboxConfig, start_sandbox
from gl_mappings import DEMO_FILE
from vgos_app.demo import seed_events_path

WINDOW = "2025-09-23"
AS_OF = "2025-09-24T09:00:00Z"
CREDS = Credentials("TSTDRV9", "consumer-key", "consumer-secret", "token-id", "token-secret")


def as_of_config(*assets: str) -> dict:
    """Run config giving each asset the fixed evaluation time."""
    return {"ops": {a: {"config": {"as_of": AS_OF}} for a in assets}}


def drop_proofs(home: Path, window_id: str = WINDOW, issued: dt.datetime | None = None) -> str:
    """Fold the seed window, sign an ACK and the seed CT table for its digest into <drop>/proofs/.

    Issued a minute ago at the real clock: money is released only on evidence fresh at the time it moves."""
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.cli_acceptance import demo_proofs

    digest = fold_files([seed_events_path()], window_id, load_policy()).output_digest
    issued = issued or dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=60)
    proofs = demo_proofs(window_id, "default", digest, issued=issued)
    folder = home / "drop" / "proofs"
    folder.mkdir(parents=True)
    for n, p in enumerate(proofs):
        (folder / f"{n:02d}-{p['kind']}.json").write_bytes(orjson.dumps(p))
    return digest


@pytest.fixture
def window_home(vgos_home: Path) -> Path:
    """VGOS_HOME with the seed events of the demo window and its ACK/CT proofs in the drop zone."""
    folder = vgos_home / "drop" / "events" / WINDOW
    folder.mkdir(parents=True)
    shutil.copy(seed_events_path(), folder / "seed_events.jsonl")
    drop_proofs(vgos_home)
    return vgos_home


@pytest.fixture
def netsuite_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A SuiteTalk sandbox on loopback, with NETSUITE_* and the demo vendor map in the environment."""
    sb = start_sandbox(SandboxConfig(CREDS))
    env = {"NETSUITE_ACCOUNT": CREDS.account, "NETSUITE_CONSUMER_KEY": CREDS.consumer_key,
           "NETSUITE_CONSUMER_SECRET": CREDS.consumer_secret, "NETSUITE_TOKEN_ID": CREDS.token_id,
           "NETSUITE_TOKEN_SECRET": CREDS.token_secret, "NETSUITE_BASE_URL": sb.url,
           "VGOS_NETSUITE_VENDOR_MAP": str(DEMO_VENDOR_MAP), "VGOS_GL_MAPPING": str(DEMO_FILE)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("NETSUITE_TRANSPORT", "NETSUITE_VERSION", "NETSUITE_WSDL"):
        monkeypatch.delenv(k, raising=False)
    try:
        yield sb.url
    finally:
        sb.stop()


def materialization(result, asset: str):
    """The single materialization of an asset in an execution result."""
    found = [e.event_specific_data.materialization for e in result.all_events
             if e.event_type_value == "ASSET_MATERIALIZATION"
             and e.event_specific_data.materialization.asset_key.to_user_string() == asset]
    assert len(found) == 1, (asset, len(found))
    return found[0]


def meta(mat, key: str):
    """A metadata value of a materialization."""
    return mat.metadata[key].value


def checks(result) -> dict[str, bool]:
    """Asset check name → passed, for one execution result."""
    return {e.event_specific_data.check_name: e.event_specific_data.passed for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def check_figures(result) -> dict[str, dict]:
    """Asset check name → its metadata values, for one execution result."""
    return {e.event_specific_data.check_name: {k: v.value for k, v in e.event_specific_data.metadata.items()}
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
