"""The setup kit: the SDF project, configurable field ids, the WSDL as configuration, every setting documented."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from connectors.netsuite.config import ALL_FIELD_IDS, FIELD_ENV, FIXTURE_WSDL, NetSuiteConfig
from connectors.netsuite.doctor import FIELD_TYPES
from connectors.netsuite.rest_client import make_client
from connectors.netsuite.stamping import sync_window, verify_window
from tests.conftest import REPO
from tests.netsuite.conftest import CREDS, NO_SLEEP, window
from vgos.errors import InputError

SDF = REPO / "connectors" / "netsuite" / "sdf"
DOCS = (REPO / "docs" / "netsuite.md").read_text()
# SDF field types -> the SOAP CustomizationFieldType doctor reads back
SDF_TYPES = {"TEXT": "_freeFormText", "URL": "_hyperlink", "CHECKBOX": "_checkBox", "CLOBTEXT": "_longText",
             "TEXTAREA": "_textArea"}
VGOS = REPO / ".venv" / "bin" / "vgos"


def test_sdf_project_defines_every_vgos_field_as_doctor_expects_them() -> None:
    """Old code: nothing documented or created the custbody_vgos_* fields."""
    assert (SDF / "manifest.xml").exists() and (SDF / "deploy.xml").exists()
    for key, script_id in ALL_FIELD_IDS.items():
        root = etree.parse(str(SDF / "Objects" / f"{script_id}.xml")).getroot()
        assert root.tag == "transactionbodycustomfield" and root.get("scriptid") == script_id
        assert root.findtext("bodypurchase") == "T" and root.findtext("storevalue") == "T"
        assert SDF_TYPES[root.findtext("fieldtype")] in FIELD_TYPES[key][0]


def test_sdf_role_has_the_permissions_the_integration_uses() -> None:
    root = etree.parse(str(SDF / "Objects" / "customrole_vgos_integration.xml")).getroot()
    perms = {p.findtext("permkey"): p.findtext("permlevel") for p in root.iter("permission")}
    for key in ("ADMI_LOGIN_OAUTH", "ADMI_WEBSERVICES", "ADMI_RESTWEBSERVICES", "TRAN_VENDBILL", "TRAN_VENDCRED",
                "TRAN_JOURNAL", "LIST_VENDOR", "LIST_ACCOUNT", "ADMI_CUSTBODYFIELD"):
        assert key in perms, key
        assert key in DOCS, f"docs/netsuite.md does not list the role permission {key}"


def test_every_setting_is_documented_in_setting_up_an_account() -> None:
    """Old docs had no setup section; the NETSUITE_* settings were listed nowhere."""
    section = DOCS.split("## Setting up an account", 1)[1].split("\n## ", 1)[0]
    source = (REPO / "connectors" / "netsuite" / "config.py").read_text()
    settings = set(re.findall(r"NETSUITE_[A-Z_]+[A-Z]", source)) | set(FIELD_ENV.values())
    settings |= {"VGOS_TRANSCRIPT_BASE_URL", "VGOS_TRANSCRIPT_URL_TTL_S", "VGOS_NETSUITE_VENDOR_MAP"}
    settings -= {"NETSUITE_FIELD_"}
    missing = sorted(s for s in settings if s not in section)
    assert not missing, missing
    for script_id in ALL_FIELD_IDS.values():
        assert script_id in section


def test_field_ids_come_from_the_environment_and_are_validated() -> None:
    env = {"NETSUITE_ACCOUNT": "A", "NETSUITE_CONSUMER_KEY": "k", "NETSUITE_CONSUMER_SECRET": "s",
           "NETSUITE_TOKEN_ID": "t", "NETSUITE_TOKEN_SECRET": "u", "NETSUITE_FIELD_WINDOW_ID": "custbody_acme_win"}
    assert NetSuiteConfig.from_env(env).field_ids["window_id"] == "custbody_acme_win"
    for bad in ("custentity_x", "custbody_Upper", "custbody_" + "x" * 40):
        with pytest.raises(InputError, match="NETSUITE_FIELD_WINDOW_ID"):
            NetSuiteConfig.from_env({**env, "NETSUITE_FIELD_WINDOW_ID": bad})
    with pytest.raises(InputError, match="both name"):
        NetSuiteConfig.from_env({**env, "NETSUITE_FIELD_OUTPUT_DIGEST": "custbody_acme_win"})


@pytest.mark.parametrize("transport", ["soap", "rest"])
def test_configured_field_ids_are_written_and_read_back(sandbox, transport) -> None:
    """Old code: from_env ignored any field id setting, so bills always used custbody_vgos_*."""
    ids = {key: f"custbody_acme_{key}"[:40] for key in ALL_FIELD_IDS}
    cfg = NetSuiteConfig(credentials=CREDS, base_url=sandbox.url, transport=transport, field_ids=ids)
    client = make_client(cfg, retry=NO_SLEEP)
    report = sync_window(client, **window())
    assert report.ok and len(report.created) == 3
    bill = sandbox.store.all("vendorBill")[0]
    held = {cf.get("scriptId") for cf in bill.fields["customFieldList"]}
    assert held == set(ids.values())
    assert verify_window(client, **window()).ok


def _vgos(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NETSUITE_", "VGOS_"))}
    base.update({"VGOS_HOME": str(tmp_path / "home"), "NETSUITE_ACCOUNT": CREDS.account,
                 "NETSUITE_CONSUMER_KEY": "k", "NETSUITE_CONSUMER_SECRET": "s", "NETSUITE_TOKEN_ID": "t",
                 "NETSUITE_TOKEN_SECRET": "u", "NETSUITE_TIMEZONE": "America/New_York", **env})
    return subprocess.run([str(VGOS), *args], env=base, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def test_installed_vgos_a_missing_or_unreadable_wsdl_is_one_line_exit_2(tmp_path) -> None:
    """Old code defaulted to a path outside the package; a missing WSDL was a zeep traceback (exit 3)."""
    err = _one_line(_vgos(["netsuite", "doctor"], tmp_path, NETSUITE_WSDL=str(tmp_path / "nope.wsdl")))
    assert "NETSUITE_WSDL=" in err and "cannot read" in err
    # a real account (no NETSUITE_BASE_URL) must say where its WSDL is
    assert "NETSUITE_WSDL is not set" in _one_line(_vgos(["netsuite", "doctor"], tmp_path))
    # the WSDL is checked before the store is read
    err = _one_line(_vgos(["netsuite", "sync", "2025-09-23", "--vendor-map", "x.yaml"], tmp_path,
                          NETSUITE_WSDL=str(tmp_path)))
    assert "NETSUITE_WSDL=" in err


def test_installed_vgos_a_wsdl_without_its_schemas_is_one_line_exit_2(tmp_path) -> None:
    broken = tmp_path / "netsuite.wsdl"
    broken.write_text(FIXTURE_WSDL.read_text())  # the WSDL alone: its xsd/ folder is not beside it
    err = _one_line(_vgos(["netsuite", "doctor"], tmp_path, NETSUITE_WSDL=str(broken),
                          VGOS_TRANSCRIPT_BASE_URL="https://audit.example.com"))
    assert "cannot load the WSDL or its schemas" in err
    wrong = tmp_path / "other.wsdl"
    wrong.write_text('<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>')
    assert "not a SuiteTalk 2023_2 WSDL" in _one_line(_vgos(["netsuite", "doctor"], tmp_path,
                                                            NETSUITE_WSDL=str(wrong)))
