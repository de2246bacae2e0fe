"""The accrual journal is posted to NetSuite as journalEntry records: SOAP and REST, digest in the memo,
idempotent, edited in an open period, reversed and re-posted when the period closed; the sandbox refuses
what NetSuite refuses (XSD, imbalance, line cap)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import requests
from lxml import etree

from connectors.netsuite.journal import (
    RestJournals,
    SoapJournals,
    accrual_specs,
    entry_external_id,
    journals_for,
    net_lines,
    post_journal,
    sync_journal,
    verify_journal,
    window_journal,
)
from connectors.netsuite.model import WriteResult
from connectors.netsuite.pipeline import DEMO_VENDOR_MAP, sync_and_verify
from connectors.netsuite.rest_client import make_client
from connectors.netsuite.sandbox.records import MAX_JOURNAL_LINES
from connectors.netsuite.soap_client import SOAP_ENV
from gl_mappings import DEMO_FILE, build_journal, load_gl_mapping
from tests.netsuite.conftest import ALLOCATIONS, DIGEST, NO_SLEEP, config_for, decisions, window
from tests.netsuite.test_cli_window import authorized_window  # noqa: F401 - fixture
from vgos.errors import InputError
from vgos_app.cli import main
from vgos_app.demo import SEED_WINDOW

RESEALED = "e" * 64
POSTING_DAY = "2025-10-06"
EXPENSE = {"6100", "6110", "6120"}


def resealed_window() -> dict:
    """The window re-sealed: CRE-0003 earns more, the digest changes, the gate decisions follow it."""
    allocs = copy.deepcopy(ALLOCATIONS)
    allocs[2].update(net_minor=515, payout_minor=556)
    return window(output_digest=RESEALED, allocations=allocs, decisions=decisions(RESEALED))


def entries(sb) -> dict[str, etree._Element]:
    return {r.external_id: r for r in sb.store.all("journalEntry")}


def lines_of(rec) -> list[tuple[str, str | None, str | None]]:
    return [(ln.find("{*}account").get("internalId"), ln.findtext("{*}debit"), ln.findtext("{*}credit"))
            for ln in rec.fields["lineList"]]


def client_for(sb, transport: str = "soap"):
    return make_client(config_for(sb, transport=transport), retry=NO_SLEEP)


@pytest.mark.parametrize("transport", ["soap", "rest"])
def test_sync_posts_the_journal_with_the_digest_and_a_second_sync_posts_nothing(sandbox, vgos_home, transport):
    """Old code: the journal was built but never posted."""
    cfg = config_for(sandbox, transport=transport)
    report, drift = sync_and_verify(cfg, window(), retry=NO_SLEEP, posting_day=POSTING_DAY)
    assert report.ok and drift is not None and drift.ok, (report.failed, drift.items if drift else None)
    assert report.journal["created"] == 1 and report.journal["lines"] == 5
    (rec,) = entries(sandbox).values()
    assert rec.external_id == entry_external_id("default", "2025-09-23", "a0", 1)
    assert DIGEST in rec.fields["memo"].text
    assert sorted(lines_of(rec)) == sorted([("6100", "10.10", None), ("6110", "1.00", None),
                                            ("6120", "0.01", None), ("2015", None, "8.36"), ("2016", None, "2.75")])
    assert sandbox.rules.stored_date(rec).isoformat() == "2025-09-23"  # the window's close date
    before = {k: etree.tostring(v) for k, v in rec.fields.items()}
    report, drift = sync_and_verify(cfg, window(), retry=NO_SLEEP, posting_day=POSTING_DAY)
    assert report.journal["unchanged"] == 1 and report.journal["created"] + report.journal["updated"] == 0
    assert len(entries(sandbox)) == 1 and {k: etree.tostring(v) for k, v in rec.fields.items()} == before
    assert drift is not None and drift.ok


def test_soap_and_rest_post_the_same_entry(sandbox):
    journal = window_journal(window())
    post_journal(SoapJournals(client_for(sandbox)), journal, posting_day=POSTING_DAY)
    rest = RestJournals(client_for(sandbox, "rest"))
    again = post_journal(rest, journal, posting_day=POSTING_DAY)
    assert again.unchanged == [entry_external_id("default", "2025-09-23", "a0", 1)] and again.written == 0
    assert len(entries(sandbox)) == 1 and verify_journal(rest, journal) == []


def test_a_reseal_in_an_open_period_edits_the_entry_in_place(sandbox):
    client = client_for(sandbox)
    sync_journal(client, window(), posting_day=POSTING_DAY)
    report, drift = sync_journal(client, resealed_window(), posting_day=POSTING_DAY)
    assert report.updated and not report.reversals and drift == []
    (rec,) = entries(sandbox).values()
    assert RESEALED in rec.fields["memo"].text and ("6100", "11.10", None) in lines_of(rec)


@pytest.mark.parametrize("transport", ["soap", "rest"])
def test_a_reseal_after_the_period_closed_reverses_and_reposts_in_the_open_period(sandbox, transport):
    """Old code: nothing posted; editing the closed period's entry is what NetSuite refuses (TRAN_PRD_CLOSED)."""
    client = client_for(sandbox, transport)
    sync_journal(client, window(), posting_day=POSTING_DAY)
    original = {k: etree.tostring(v) for k, v in entries(sandbox)[entry_external_id(
        "default", "2025-09-23", "a0", 1)].fields.items()}
    sandbox.store.close_period("2025-09")
    report, drift = sync_journal(client, resealed_window(), posting_day=POSTING_DAY)
    assert report.ok and drift == [], (report.failed, drift)
    ids = {tag: entry_external_id("default", "2025-09-23", tag, 1) for tag in ("a0", "r1", "a1")}
    assert report.reversals == [ids["r1"]] and report.created == [ids["a1"]]
    recs = entries(sandbox)
    assert set(recs) == set(ids.values())
    assert {k: etree.tostring(v) for k, v in recs[ids["a0"]].fields.items()} == original  # never edited
    for tag in ("r1", "a1"):
        assert sandbox.rules.stored_date(recs[ids[tag]]).isoformat() == POSTING_DAY
    assert sorted(lines_of(recs[ids["r1"]])) == sorted((a, c, d) for a, d, c in lines_of(recs[ids["a0"]]))
    assert DIGEST in recs[ids["r1"]].fields["memo"].text and RESEALED in recs[ids["a1"]].fields["memo"].text
    # what the books hold for the window is exactly the re-sealed journal
    journal = window_journal(resealed_window())
    remote = journals_for(client).get(list(ids.values()), "USD").values()
    assert net_lines(list(remote)) == net_lines(accrual_specs(journal, 0, journal.tran_date))
    again, _ = sync_journal(client, resealed_window(), posting_day=POSTING_DAY)
    assert again.written == 0 and len(entries(sandbox)) == 3  # idempotent


def test_a_crash_between_reversal_and_reposting_is_finished_by_the_next_run(sandbox):
    client = client_for(sandbox)
    sync_journal(client, window(), posting_day=POSTING_DAY)
    sandbox.store.close_period("2025-09")

    class DiesAfterReversal(SoapJournals):
        def put(self, specs):
            if any("-a1-" in s.external_id for s in specs):
                return [WriteResult(s.external_id, False, None, "CONNECTION_DROPPED", "killed") for s in specs]
            return super().put(specs)

    journal = window_journal(resealed_window())
    crashed = post_journal(DiesAfterReversal(client), journal, posting_day=POSTING_DAY)
    assert not crashed.ok and crashed.reversals and len(entries(sandbox)) == 2
    finished = post_journal(SoapJournals(client), journal, posting_day=POSTING_DAY)
    assert finished.ok and finished.created == [entry_external_id("default", "2025-09-23", "a1", 1)]
    assert not finished.reversals and len(entries(sandbox)) == 3
    assert verify_journal(SoapJournals(client), journal) == []


def test_a_first_post_after_the_period_closed_lands_in_the_open_period(sandbox):
    sandbox.store.close_period("2025-09")
    report, drift = sync_journal(client_for(sandbox), window(), posting_day=POSTING_DAY)
    assert report.ok and drift == [] and report.created
    (rec,) = entries(sandbox).values()
    assert sandbox.rules.stored_date(rec).isoformat() == POSTING_DAY


def test_a_journal_over_the_line_cap_posts_as_several_balanced_entries(sandbox):
    allocs = [{"principal_id": f"P{i:03d}", "net_minor": 100 + i, "bonus_floor_minor": 10, "carry_minor": 1,
               "payout_minor": 111 + i} for i in range(12)]
    journal = build_journal(tenant_id="acme", window_id="2025-09-23", currency="USD", output_digest=DIGEST,
                            allocations=allocs, gl_mapping=load_gl_mapping(path=DEMO_FILE), tran_date="2025-09-23",
                            held={a["principal_id"] for a in allocs[::2]}, max_lines=4)
    transport = SoapJournals(client_for(sandbox))
    report = post_journal(transport, journal, posting_day=POSTING_DAY)
    assert report.ok and len(report.created) == len(journal.parts) > 1
    assert len(entries(sandbox)) == len(journal.parts)  # the sandbox accepted each: each balances
    assert post_journal(transport, journal, posting_day=POSTING_DAY).written == 0
    assert verify_journal(transport, journal) == []


def test_two_thousand_payees_post_one_small_entry(sandbox):
    """Old code: 6,000 lines, which NetSuite (and now the sandbox) refuses in one entry."""
    allocs, decs, vendors = [], [], {}
    for i in range(2000):
        pid = f"P{i:05d}"
        allocs.append({"principal_id": pid, "net_minor": 100 + i, "bonus_floor_minor": 10, "carry_minor": 0,
                       "payout_minor": 110 + i})
        decs.append({"principal_id": pid, "decision": "ALLOW" if i % 5 else "HOLD", "output_digest": DIGEST})
        vendors[pid] = str(40_000 + i)
    report, drift = sync_journal(client_for(sandbox), window(allocations=allocs, decisions=decs,
                                                             vendor_map=vendors), posting_day=POSTING_DAY)
    assert report.ok and drift == [] and report.parts == 1 and report.lines == 4
    (rec,) = entries(sandbox).values()
    assert len(rec.fields["lineList"]) == 4


def test_tenants_post_separate_entries(sandbox):
    client = client_for(sandbox)
    sync_journal(client, window(tenant_id="a"), posting_day=POSTING_DAY)
    report, _ = sync_journal(client, window(tenant_id="b"), posting_day=POSTING_DAY)
    assert report.created and len(entries(sandbox)) == 2


# -- the sandbox refuses what NetSuite refuses ----------------------------------------------------------------
def _spec(lines):
    journal = window_journal(window())
    return accrual_specs(journal, 0, "2025-09-23")[0].__class__(
        external_id="vgos-je-test", tran_date="2025-09-23", memo="t", currency="USD", currency_id="1",
        subsidiary="1", lines=tuple(lines))


@pytest.mark.parametrize("transport", ["soap", "rest"])
def test_sandbox_refuses_an_unbalanced_or_malformed_entry(sandbox, transport):
    journals = journals_for(client_for(sandbox, transport))
    (r,) = journals.put([_spec([("6100", 100, 0, None, None), ("2015", 0, 99, None, None)])])
    assert not r.ok and r.code == "JE_AMOUNTS_MUST_BALANCE"
    (r,) = journals.put([_spec([("6100", 100, 100, None, None), ("2015", 0, 0, None, None)])])
    assert not r.ok and r.code == "JE_LINE_MISSING_REQD_DATA"
    many = [("6100", 1, 0, None, None)] * MAX_JOURNAL_LINES + [("2015", 0, MAX_JOURNAL_LINES, None, None)]
    (r,) = journals.put([_spec(many)])
    assert not r.ok and r.code == "EXCEEDED_MAX_TRANS_LINES"
    assert entries(sandbox) == {}


def test_sandbox_validates_journal_entries_against_the_xsd(sandbox):
    client = client_for(sandbox)
    journals = SoapJournals(client)
    env = etree.fromstring(client.envelope("upsert", record=journals.record(_spec(
        [("6100", 100, 0, None, None), ("2015", 0, 100, None, None)]))))
    memo = next(env.iter("{*}memo"))
    memo.addnext(etree.Element(etree.QName(memo).namespace and f"{{{etree.QName(memo).namespace}}}notAField"))
    resp = requests.post(client.config.soap_url, data=etree.tostring(env), timeout=10,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "upsert"})
    fault = etree.fromstring(resp.content).find(f"{{{SOAP_ENV}}}Body")[0]
    assert "schema validation failed" in fault.findtext("faultstring") and entries(sandbox) == {}


# -- configuration --------------------------------------------------------------------------------------------
def test_cli_sync_without_a_gl_mapping_is_one_line_exit_2(authorized_window, monkeypatch, capsys):  # noqa: F811
    """Old code: the sync ran on default.yaml's ids (exit 0) for a tenant that never configured any."""
    monkeypatch.delenv("VGOS_GL_MAPPING")
    assert main(["netsuite", "sync", SEED_WINDOW, "--vendor-map", str(DEMO_VENDOR_MAP)]) == 2
    err = capsys.readouterr().err
    assert "no GL mapping for tenant 'default'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_demo_ships_its_own_explicit_mapping():
    assert Path(DEMO_FILE).name == "demo.yaml" and load_gl_mapping(path=DEMO_FILE).clearing.account == "2015"


def test_a_reversal_without_the_accounts_time_zone_is_a_configuration_error(sandbox):
    transport = SoapJournals(client_for(sandbox))
    post_journal(transport, window_journal(window()), posting_day=None)  # the close date's period is open
    sandbox.store.close_period("2025-09")
    with pytest.raises(InputError, match="NETSUITE_TIMEZONE"):
        post_journal(transport, window_journal(resealed_window()), posting_day=None)
    assert len(entries(sandbox)) == 1
