"""GL mappings: validation with file:line errors, tenant overrides, balanced journals, CSV and JournalEntry."""

from __future__ import annotations

import csv
import io
import shutil

import pytest

from connectors.netsuite.config import Credentials, NetSuiteConfig
from connectors.netsuite.retry import RetryPolicy
from connectors.netsuite.sandbox import SandboxConfig, start_sandbox
from connectors.netsuite.soap_client import SuiteTalkClient, journal_entry_record
from gl_mappings import build_journal, check_balanced, journal_csv_bytes, load_gl_mapping, write_journal_csv
from gl_mappings.mapping import GL_DIR
from vgos.errors import InputError, VerificationError

ALLOCS = [
    {"principal_id": "CRE-0001", "net_minor": 345, "bonus_floor_minor": 34, "carry_minor": 1, "payout_minor": 380},
    {"principal_id": "CRE-0002", "net_minor": 250, "bonus_floor_minor": 25, "carry_minor": 0, "payout_minor": 275},
    {"principal_id": "CRE-0003", "net_minor": 415, "bonus_floor_minor": 41, "carry_minor": 0, "payout_minor": 456},
    {"principal_id": "CRE-0004", "net_minor": -20, "bonus_floor_minor": 0, "carry_minor": 0, "payout_minor": -20},
]


def _journal(allocs=ALLOCS, mapping=None):
    return build_journal(tenant_id="default", window_id="2025-09-23", currency="USD", output_digest="d" * 64,
                         allocations=allocs, gl_mapping=mapping or load_gl_mapping(), tran_date="2025-09-23")


def test_journal_balances_in_minor_units():
    j = _journal()
    check_balanced(j)
    assert j.total_debit_minor == j.total_credit_minor == 1111 + 20
    payables = [ln for ln in j.lines if ln.component == "payables"]
    assert sum(ln.credit_minor - ln.debit_minor for ln in payables) == 1111 - 20


def test_inconsistent_allocation_fails_the_balance_check():
    broken = [dict(ALLOCS[0], payout_minor=381)]
    with pytest.raises(VerificationError) as err:
        check_balanced(_journal(broken))
    assert err.value.reason == "JOURNAL_UNBALANCED"


def test_csv_export_exact_and_atomic(tmp_path):
    rows = list(csv.DictReader(io.StringIO(journal_csv_bytes(_journal()).decode())))
    assert rows[3]["credit"] == "3.80" and rows[3]["account"] == "2010"
    out = write_journal_csv(_journal(), tmp_path / "j.csv")
    assert out.read_bytes() == journal_csv_bytes(_journal())


def _tree(tmp_path, override: str):
    shutil.copy(GL_DIR / "default.yaml", tmp_path / "default.yaml")
    (tmp_path / "acme.yaml").write_text(override)
    return tmp_path


def test_tenant_override_is_merged(tmp_path):
    root = _tree(tmp_path, "components:\n  bonus:\n    account: '7777'\n")
    m = load_gl_mapping("acme", root=root)
    assert m.components["bonus"].account == "7777" and m.components["net"].account == "6100"
    assert load_gl_mapping("other", root=root).components["bonus"].account == "6110"


def test_unknown_component_is_a_clear_error(tmp_path):
    root = _tree(tmp_path, "subsidiary: '2'\ncomponents:\n  tips:\n    account: '6200'\n")
    with pytest.raises(InputError) as err:
        load_gl_mapping("acme", root=root)
    assert f"{root / 'acme.yaml'}:3: field components.tips: unknown allocation component" in str(err.value)


def test_missing_account_is_a_clear_error(tmp_path):
    root = _tree(tmp_path, "components:\n  carry:\n    account: ''\n")
    with pytest.raises(InputError) as err:
        load_gl_mapping("acme", root=root)
    assert f"{root / 'acme.yaml'}:3: field components.carry.account: missing GL account" in str(err.value)


def test_journal_entry_upserted_into_the_sandbox():
    creds = Credentials("TSTDRV9", "ck", "cs", "tk", "ts")
    sb = start_sandbox(SandboxConfig(creds))
    try:
        client = SuiteTalkClient(NetSuiteConfig(credentials=creds, base_url=sb.url),
                                 retry=RetryPolicy(sleep=lambda s: None))
        j = _journal(ALLOCS[:3])
        result = client.upsert_record(journal_entry_record(client, j), j.external_id)
        assert result.ok
        rec = sb.store.get("journalEntry", external_id=j.external_id)
        lines = list(rec.fields["lineList"].iterfind("{*}line"))
        assert len(lines) == len(j.lines)
        assert [ln.findtext("{*}credit") for ln in lines if ln.findtext("{*}credit")] == ["3.80", "2.75", "4.56"]
    finally:
        sb.stop()
