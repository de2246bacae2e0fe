"""The accrual journal: aggregated lines, balanced parts under NetSuite's line cap, clearing and held accounts,
the same payees as the bills, and expense counted once when posted beside the bills."""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest

from connectors.netsuite.journal import covered_allocations, window_journal
from connectors.netsuite.stamping import build_bill_specs
from gl_mappings import (
    DEMO_FILE,
    MAX_LINES_PER_ENTRY,
    build_journal,
    check_balanced,
    journal_csv_bytes,
    load_gl_mapping,
    write_journal_csv,
)
from vgos.errors import VerificationError

MAPPING = load_gl_mapping(path=DEMO_FILE)
EXPENSE = {"6100", "6110", "6120"}
CLEARING, HELD = "2015", "2016"
DIGEST = "d" * 64


def payees(n: int, *, hold_every: int = 3) -> tuple[list[dict], list[dict], dict[str, str]]:
    """n payees with integer components, every `hold_every`-th held by the gate, all mapped to vendors."""
    allocs, decisions, vendors = [], [], {}
    for i in range(n):
        pid = f"P{i:05d}"
        net, bonus, carry = 100 + i % 997, (100 + i % 997) // 10, i % 2
        allocs.append({"principal_id": pid, "net_minor": net, "bonus_floor_minor": bonus, "carry_minor": carry,
                       "payout_minor": net + bonus + carry})
        decisions.append({"principal_id": pid, "decision": "HOLD" if i % hold_every == 0 else "ALLOW",
                          "output_digest": DIGEST})
        vendors[pid] = str(30_000 + i)
    return allocs, decisions, vendors


def window(allocs, decisions, vendors, **over) -> dict:
    base = dict(tenant_id="acme", window_id="2025-09-23", currency="USD", output_digest=DIGEST,
                transcript_url="https://audit.example/t", provider_batch_id=None, allocations=allocs,
                decisions=decisions, vendor_map=vendors, gl_mapping=MAPPING, tran_date="2025-09-23")
    base.update(over)
    return base


def test_two_thousand_payees_post_a_handful_of_aggregated_balanced_lines():
    """Old code: one line per payee and component (6,000 lines, over NetSuite's 1,000 per entry)."""
    allocs, decisions, vendors = payees(2000)
    journal = window_journal(window(allocs, decisions, vendors))
    assert len(journal.parts) == 1 and len(journal.lines) <= 5 < MAX_LINES_PER_ENTRY
    check_balanced(journal)
    held = {d["principal_id"] for d in decisions if d["decision"] == "HOLD"}
    by_role = {ln.role: ln for ln in journal.lines}
    assert by_role["expense:net"].debit_minor == sum(a["net_minor"] for a in allocs)
    assert by_role["expense:bonus"].debit_minor == sum(a["bonus_floor_minor"] for a in allocs)
    assert by_role["clearing"].account == CLEARING and by_role["held"].account == HELD
    assert by_role["held"].credit_minor == sum(a["payout_minor"] for a in allocs if a["principal_id"] in held)
    assert by_role["clearing"].credit_minor == sum(a["payout_minor"] for a in allocs
                                                   if a["principal_id"] not in held)
    assert by_role["held"].payees == len(held) and by_role["clearing"].payees == 2000 - len(held)


def test_a_journal_over_the_line_cap_splits_into_parts_that_each_balance():
    """Old code: no cap at all; each part must balance alone because NetSuite posts each entry alone."""
    mapping = load_gl_mapping(path=DEMO_FILE)
    allocs, _, _ = payees(60)
    # 4 lines per part at most: an eligible payee with three components already needs 4 (3 expense + clearing)
    journal = build_journal(tenant_id="acme", window_id="2025-09-23", currency="USD", output_digest=DIGEST,
                            allocations=allocs, gl_mapping=mapping, tran_date="2025-09-23",
                            held={a["principal_id"] for a in allocs[::2]}, max_lines=4)
    assert len(journal.parts) > 1
    assert all(len(p.lines) <= 4 and p.balanced for p in journal.parts)
    assert sorted(journal.principals) == sorted(a["principal_id"] for a in allocs)  # every payee, once
    assert Counter(journal.principals).most_common(1)[0][1] == 1
    assert journal.total_debit_minor == sum(a["payout_minor"] for a in allocs)


def test_journal_covers_exactly_the_payees_the_bills_cover():
    """Old code: the journal took every allocation, including payees the bills skip (no vendor, negative)."""
    allocs, decisions, vendors = payees(6)
    allocs.append({"principal_id": "NOVENDOR", "net_minor": 500, "bonus_floor_minor": 0, "carry_minor": 0,
                   "payout_minor": 500})
    allocs.append({"principal_id": "NEG", "net_minor": -20, "bonus_floor_minor": 0, "carry_minor": 0,
                   "payout_minor": -20})
    vendors["NEG"] = "39999"
    w = window(allocs, decisions, vendors)
    specs = build_bill_specs(**w)
    journal = window_journal(w)
    assert set(journal.principals) == {s.principal_id for s in specs}
    assert "NOVENDOR" not in journal.principals
    covered, held = covered_allocations(w)
    assert {a["principal_id"] for a in covered} == set(journal.principals)
    assert held == {s.principal_id for s in specs if not s.eligible_to_pay}


def test_bills_and_journal_together_count_expense_once_and_clear_to_zero():
    """Old code: bills debited the expense accounts and the journal debited them again (expense doubled)."""
    allocs, decisions, vendors = payees(30)
    allocs.append({"principal_id": "NEG", "net_minor": -25, "bonus_floor_minor": 0, "carry_minor": -1,
                   "payout_minor": -26})  # owes: a vendor credit where the bills issue one
    vendors["NEG"] = "39999"
    w = window(allocs, decisions, vendors)
    gl: Counter[str] = Counter()
    for spec in build_bill_specs(**w):  # a bill: DR its line accounts, CR accounts payable (a credit reverses)
        sign = -1 if getattr(spec, "record_type", "vendorBill") == "vendorCredit" else 1
        for line in spec.lines:
            gl[line.account] += sign * line.amount_minor
        gl["AP"] -= sign * spec.total_minor
    for line in window_journal(w).lines:
        gl[line.account] += line.debit_minor - line.credit_minor
    covered = [a for a in allocs if a["principal_id"] in {s.principal_id for s in build_bill_specs(**w)}]
    assert sum(gl[a] for a in EXPENSE) == sum(a["payout_minor"] for a in covered)  # once, not twice
    assert gl[CLEARING] == 0 and gl[HELD] == 0  # both liabilities clear once the bills are in
    assert gl["AP"] == -sum(a["payout_minor"] for a in covered)


def test_bills_of_held_payees_are_coded_to_the_held_account():
    allocs, decisions, vendors = payees(4)
    specs = {s.principal_id: s for s in build_bill_specs(**window(allocs, decisions, vendors))}
    assert {ln.account for ln in specs["P00000"].lines} == {HELD}  # held by the gate
    assert {ln.account for ln in specs["P00001"].lines} == {CLEARING}
    assert [ln.memo for ln in specs["P00001"].lines][0] == "Payee earnings (net)"


def test_inconsistent_allocation_fails_the_balance_check():
    broken = [{"principal_id": "X", "net_minor": 345, "bonus_floor_minor": 34, "carry_minor": 1,
               "payout_minor": 381}]
    journal = build_journal(tenant_id="acme", window_id="2025-09-23", currency="USD", output_digest=DIGEST,
                            allocations=broken, gl_mapping=MAPPING, tran_date="2025-09-23")
    with pytest.raises(VerificationError) as err:
        check_balanced(journal)
    assert err.value.reason == "JOURNAL_UNBALANCED"


def test_csv_export_exact_and_atomic(tmp_path):
    allocs, decisions, vendors = payees(3)
    journal = window_journal(window(allocs, decisions, vendors))
    rows = list(csv.DictReader(io.StringIO(journal_csv_bytes(journal).decode())))
    held = next(r for r in rows if r["role"] == "held")
    assert held["account"] == HELD and held["credit"] == "1.10" and held["payees"] == "1"
    assert sum(int(r["debit_minor"]) for r in rows) == sum(int(r["credit_minor"]) for r in rows)
    out = write_journal_csv(journal, tmp_path / "j.csv")
    assert out.read_bytes() == journal_csv_bytes(journal)
