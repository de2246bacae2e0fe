"""`vgos netsuite sync/verify D` as an operator runs them: the window comes from the store, bills from the sandbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from connectors.netsuite.pipeline import DEMO_VENDOR_MAP
from gl_mappings import DEMO_FILE
from recon.service import create_window_batch
from tests.netsuite.conftest import CREDS
from vgos.fold import fold_files
from vgos.policy import load_policy
from vgos_app.cli import main
from vgos_app.cli_acceptance import demo_acceptance
from vgos_app.demo import SEED_WINDOW, seed_events_path


@pytest.fixture
def authorized_window(vgos_home: Path, tmp_path: Path, sandbox, monkeypatch: pytest.MonkeyPatch):
    """The seed window sealed, authorized (ALLOW/HOLD/ALLOW) and batched; NETSUITE_* point at the sandbox."""
    result = fold_files([seed_events_path()], SEED_WINDOW, load_policy())
    demo_acceptance(SEED_WINDOW, result, as_of=dt.datetime.now(dt.UTC).replace(microsecond=0))
    batch = create_window_batch(SEED_WINDOW, "pain001", tmp_path / "b.xml").batch
    for var, value in {"NETSUITE_ACCOUNT": CREDS.account, "NETSUITE_CONSUMER_KEY": CREDS.consumer_key,
                       "NETSUITE_CONSUMER_SECRET": CREDS.consumer_secret, "NETSUITE_TOKEN_ID": CREDS.token_id,
                       "NETSUITE_TOKEN_SECRET": CREDS.token_secret, "NETSUITE_BASE_URL": sandbox.url,
                       "VGOS_GL_MAPPING": str(DEMO_FILE)}.items():  # the tenant's GL mapping, stated
        monkeypatch.setenv(var, value)
    return result, batch


def test_sync_then_verify_from_the_store(authorized_window, sandbox, capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    result, batch = authorized_window
    args = [SEED_WINDOW, "--vendor-map", str(DEMO_VENDOR_MAP)]
    assert main(["netsuite", "sync", *args]) == 0
    out = capsys.readouterr().out
    assert "created=3" in out
    # the time zone bill dates were sent in, and the accrual journal posted beside the bills
    assert f"bill date {SEED_WINDOW}, time zone America/Los_Angeles (NETSUITE_TIMEZONE not set" in out
    assert "journal: parts=1 lines=" in out and " created=1 " in out.split("journal:")[1].splitlines()[0]
    bills = [r for r in sandbox.store.all() if r.record_type.lower() == "vendorbill"]
    assert len(bills) == 3
    text = "".join(etree.tostring(v).decode() for b in bills for v in b.fields.values())
    assert result.output_digest in text and batch.provider_batch_id in text
    from vgos.audit import query

    # the audit note counts the bills that differ after the read-back (0), not a flag that reads "drift: true"
    assert query(SEED_WINDOW, action="netsuite.sync")[-1]["diff_summary"]["drift"] == 0
    assert main(["netsuite", "verify", *args]) == 0
    monkeypatch.setenv("NETSUITE_TIMEZONE", "America/Los_Angeles")
    assert main(["netsuite", "sync", *args]) == 0
    out = capsys.readouterr().out
    assert "unchanged=3" in out and "time zone America/Los_Angeles (NETSUITE_TIMEZONE)" in out
    assert "journal: parts=1" in out and "unchanged=1" in out.split("journal:")[1]
    assert main(["netsuite", "sync", *args, "--dry-run"]) == 0
    assert "journal: not posted (dry run)" in capsys.readouterr().out


def test_sync_without_vendor_map_is_refused(authorized_window, capsys: pytest.CaptureFixture) -> None:
    assert main(["netsuite", "sync", SEED_WINDOW]) == 2
    assert "vendors are never guessed" in capsys.readouterr().err
