"""`vgos netsuite sync|verify --json` against the local SuiteTalk sandbox: one document, the same counts as the text,
exit codes unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from tests.cli.conftest import WINDOW, run
from tests.netsuite.conftest import CREDS, sandbox, sandbox_factory  # noqa: F401  (fixtures)


@pytest.fixture
def authorized(vgos_home: Path, tmp_path: Path, sandbox, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    from gl_mappings import DEMO_FILE
    from recon.service import create_window_batch
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.cli_acceptance import demo_acceptance
    from vgos_app.demo import seed_events_path

    result = fold_files([seed_events_path()], WINDOW, load_policy())
    demo_acceptance(WINDOW, result, as_of=dt.datetime.now(dt.UTC).replace(microsecond=0))
    create_window_batch(WINDOW, "pain001", tmp_path / "b.xml")
    for var, value in {"NETSUITE_ACCOUNT": CREDS.account, "NETSUITE_CONSUMER_KEY": CREDS.consumer_key,
                       "NETSUITE_CONSUMER_SECRET": CREDS.consumer_secret, "NETSUITE_TOKEN_ID": CREDS.token_id,
                       "NETSUITE_TOKEN_SECRET": CREDS.token_secret, "NETSUITE_BASE_URL": sandbox.url,
                       "VGOS_GL_MAPPING": str(DEMO_FILE)}.items():
        monkeypatch.setenv(var, value)
    return result


def test_sync_and_verify_json(authorized) -> None:
    from connectors.netsuite.pipeline import DEMO_VENDOR_MAP

    args = [WINDOW, "--vendor-map", DEMO_VENDOR_MAP]
    r = run("netsuite", "sync", *args, "--json")
    assert r.returncode == 0, r.stderr
    doc = orjson.loads(r.stdout)
    assert doc["ok"] is True and doc["counts"]["created"] == 3 and doc["read_back"]["checked"] == 3
    assert doc["read_back"]["items"] == [] and doc["journal"]
    text = run("netsuite", "verify", *args)
    js = run("netsuite", "verify", *args, "--json")
    assert text.returncode == js.returncode == 0
    drift = orjson.loads(js.stdout)
    assert drift["ok"] is True and f"checked={drift['checked']} drift={len(drift['items'])}" in text.stdout


def test_doctor_json_has_the_problems_and_the_same_exit_code(authorized) -> None:
    text, js = run("netsuite", "doctor"), run("netsuite", "doctor", "--json")
    doc = orjson.loads(js.stdout)
    assert js.returncode == text.returncode == (0 if doc["ok"] else 1)
    assert text.stdout.count("PROBLEM ") == len(doc["problems"])
    for p in doc["problems"]:
        assert f"PROBLEM {p['subject']}: {p['issue']}. Fix: {p['fix']}" in text.stdout
