"""`vgos netsuite doctor` against the sandbox: all good is exit 0; each problem is one line with its fix, exit 1."""

from __future__ import annotations

import pytest

from connectors.netsuite.pipeline import DEMO_VENDOR_MAP
from connectors.netsuite.sandbox.setup_records import seed_vgos_setup
from connectors.netsuite.vendor_map import load_vendor_map
from gl_mappings import load_gl_mapping
from gl_mappings.mapping import DEMO_FILE
from tests.netsuite.conftest import CREDS
from vgos_app.cli import main

ARGS = ["netsuite", "doctor", "--vendor-map", str(DEMO_VENDOR_MAP), "--gl-mapping", str(DEMO_FILE)]


@pytest.fixture
def account(sandbox, monkeypatch):
    """The sandbox set up as docs/netsuite.md says (fields, vendors, GL records); NETSUITE_* point at it."""
    for var, value in {"NETSUITE_ACCOUNT": CREDS.account, "NETSUITE_CONSUMER_KEY": CREDS.consumer_key,
                       "NETSUITE_CONSUMER_SECRET": CREDS.consumer_secret, "NETSUITE_TOKEN_ID": CREDS.token_id,
                       "NETSUITE_TOKEN_SECRET": CREDS.token_secret, "NETSUITE_BASE_URL": sandbox.url}.items():
        monkeypatch.setenv(var, value)
    for var in ("NETSUITE_WSDL", "VGOS_TRANSCRIPT_BASE_URL", "VGOS_NETSUITE_VENDOR_MAP"):
        monkeypatch.delenv(var, raising=False)
    return seed_vgos_setup(sandbox.store, "2023_2", vendor_ids=load_vendor_map(DEMO_VENDOR_MAP).values(),
                           gl_mapping=load_gl_mapping(path=DEMO_FILE))


def _run(capsys, *extra: str) -> tuple[int, list[str]]:
    rc = main([*ARGS, *extra])
    return rc, [line.strip() for line in capsys.readouterr().out.splitlines() if "PROBLEM" in line]


def test_all_good_exits_0(account, capsys) -> None:
    rc = main(ARGS)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "netsuite doctor: all good" in out and "PROBLEM" not in out
    assert "ok field custbody_vgos_window_id" in out and "ok login" in out


def test_a_missing_field_prints_the_fix_and_exits_1(account, capsys) -> None:
    """The issue's must-show: nothing checked the fields before (there was no doctor)."""
    account.remove_custom_field("custbody_vgos_output_digest")
    rc, problems = _run(capsys)
    assert rc == 1
    assert len(problems) == 1
    line = problems[0]
    assert line.startswith("PROBLEM field custbody_vgos_output_digest:") and "Fix:" in line
    assert "connectors/netsuite/sdf" in line and "Free-Form Text" in line and "NETSUITE_FIELD_OUTPUT_DIGEST" in line


def test_field_type_store_value_and_applies_to_are_checked(account, capsys) -> None:
    account.custom_field("custbody_vgos_window_id", "_checkBox", internal_id="501")  # replaces the definition
    account.custom_field("custbody_vgos_eligible_to_pay", "_checkBox", store_value=False, internal_id="505")
    account.custom_field("custbody_vgos_transcript_url", "_hyperlink", body_purchase=False, internal_id="503")
    rc, problems = _run(capsys)
    assert rc == 1
    text = "\n".join(problems)
    assert "custbody_vgos_window_id: has type _checkBox" in text
    assert "custbody_vgos_eligible_to_pay: 'Store Value' is unchecked" in text
    assert "custbody_vgos_transcript_url: does not apply to purchase transactions" in text
    assert len(problems) == 3


def test_configured_field_ids_are_the_ones_checked(account, monkeypatch, capsys) -> None:
    account.remove_custom_field("custbody_vgos_window_id")
    account.custom_field("custbody_acme_window", "_freeFormText")
    monkeypatch.setenv("NETSUITE_FIELD_WINDOW_ID", "custbody_acme_window")
    rc, problems = _run(capsys)
    assert (rc, problems) == (0, [])


def test_vendors_accounts_and_segments(account, capsys) -> None:
    gl = load_gl_mapping(path=DEMO_FILE)
    account.vendor("101", subsidiary="1", currency="1", inactive=True)
    account.vendor("102", subsidiary="7", currency="1")
    account.vendor("103", subsidiary="1", currency="2")  # bills in USD (currency 1) are impossible
    account.store.remove("account", gl.clearing.account)
    account.segment("department", gl.clearing.department or "10", inactive=True)
    rc, problems = _run(capsys)
    assert rc == 1
    text = "\n".join(problems)
    assert "vendor 101 (principal CRE-0001): is inactive" in text
    assert "vendor 102 (principal CRE-0002): belongs to subsidiary 7" in text
    assert "vendor 103 (principal CRE-0003): cannot be billed in USD" in text
    assert f"account {gl.clearing.account} (clearing" in text and "does not exist" in text
    assert "department" in text and "is inactive" in text
    assert all("Fix:" in line for line in problems)


def test_bad_credentials_are_a_login_problem(account, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NETSUITE_TOKEN_SECRET", "wrong")
    rc, problems = _run(capsys)
    assert rc == 1
    assert len(problems) == 1 and problems[0].startswith("PROBLEM login: INVALID_LOGIN_CREDENTIALS")


def test_configuration_errors_exit_2(account, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NETSUITE_FIELD_OUTPUT_DIGEST", "Output Digest")
    assert main(ARGS) == 2
    assert "NETSUITE_FIELD_OUTPUT_DIGEST" in capsys.readouterr().err
