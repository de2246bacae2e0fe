"""Every tenant states its own GL mapping: default.yaml hands out no internal ids, a missing mapping is one line."""

from __future__ import annotations

import shutil

import pytest
import yaml

from gl_mappings import DEMO_FILE, load_gl_mapping
from gl_mappings.mapping import GL_DIR, _id_paths
from vgos.errors import InputError

TENANT = """subsidiary: "3"
components:
  net: {account: "7100", department: "20"}
  bonus: {account: "7110"}
  carry: {account: "7120"}
clearing: {account: "2215"}
held: {account: "2216"}
currencies: {USD: "1"}
"""


@pytest.fixture(autouse=True)
def _no_env_mapping(monkeypatch):
    monkeypatch.delenv("VGOS_GL_MAPPING", raising=False)


def _root(tmp_path, tenant_text: str | None = None, name: str = "acme"):
    shutil.copy(GL_DIR / "default.yaml", tmp_path / "default.yaml")
    if tenant_text is not None:
        (tmp_path / "tenants").mkdir(exist_ok=True)
        (tmp_path / "tenants" / f"{name}.yaml").write_text(tenant_text)
    return tmp_path


def test_shipped_defaults_state_no_internal_ids():
    """Old code: default.yaml carried accounts 6100/6110/6120/2010, department 10, class 1, subsidiary 1."""
    assert _id_paths(yaml.safe_load((GL_DIR / "default.yaml").read_text()), []) == []


def test_a_tenant_without_a_mapping_gets_one_configuration_line_not_someone_elses_ids():
    """Old code: load_gl_mapping('acme') silently returned the default ids."""
    for tenant in ("acme", "default", None):
        with pytest.raises(InputError) as err:
            load_gl_mapping(tenant)
        message = str(err.value)
        assert "no GL mapping for tenant" in message and "\n" not in message
        assert "--gl-mapping" in message and "VGOS_GL_MAPPING" in message


def test_a_tenant_file_gives_the_ids_and_defaults_give_only_labels(tmp_path):
    root = _root(tmp_path, TENANT)
    m = load_gl_mapping("acme", root=root)
    assert (m.subsidiary, m.components["net"].account, m.components["net"].department) == ("3", "7100", "20")
    assert m.components["bonus"].department is None and m.components["bonus"].class_ is None  # nothing inherited
    assert (m.clearing.account, m.held.account) == ("2215", "2216")
    assert m.components["net"].memo == "Payee earnings (net)"  # the shared label
    with pytest.raises(InputError, match="tenant 'other'"):
        load_gl_mapping("other", root=root)


def test_ids_put_into_the_shared_defaults_are_refused_with_file_and_line(tmp_path):
    root = _root(tmp_path, TENANT)
    (root / "default.yaml").write_text((root / "default.yaml").read_text() + "subsidiary: '1'\n")
    with pytest.raises(InputError) as err:
        load_gl_mapping("acme", root=root)
    assert f"{root / 'default.yaml'}:" in str(err.value) and "field subsidiary" in str(err.value)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace('clearing: {account: "2215"}\n', ""), "field clearing: missing"),
    (lambda t: t.replace('held: {account: "2216"}', 'held: {account: "2215"}'), "must differ from clearing"),
    (lambda t: t.replace('held: {account: "2216"}', 'held: {account: "7100"}'), "also an expense account"),
    (lambda t: t.replace('subsidiary: "3"\n', ""), "field subsidiary: missing"),
    (lambda t: t.replace('currencies: {USD: "1"}\n', ""), "field currencies: missing"),
    (lambda t: t + 'payables: {account: "2010"}\n', "replaced by 'clearing'"),
    (lambda t: t.replace("carry: {account: \"7120\"}", "tips: {account: \"7120\"}"), "components.tips"),
])
def test_an_incomplete_tenant_mapping_is_a_clear_error(tmp_path, edit, expected):
    root = _root(tmp_path, edit(TENANT))
    with pytest.raises(InputError) as err:
        load_gl_mapping("acme", root=root)
    assert expected in str(err.value) and str(root) in str(err.value)


def test_explicit_path_and_environment_name_the_file(tmp_path, monkeypatch):
    own = tmp_path / "mine.yaml"
    own.write_text(TENANT)
    assert load_gl_mapping("acme", own).subsidiary == "3"
    monkeypatch.setenv("VGOS_GL_MAPPING", str(DEMO_FILE))
    assert load_gl_mapping("acme").clearing.account == "2015"
    assert load_gl_mapping("acme", own).clearing.account == "2215"  # an explicit path wins


def test_a_subsidiary_can_be_stated_as_none(tmp_path):
    root = _root(tmp_path, TENANT.replace('subsidiary: "3"', "subsidiary: null"))
    assert load_gl_mapping("acme", root=root).subsidiary is None
