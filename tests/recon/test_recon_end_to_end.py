"""The operator's path: `vgos batch create` → the bank's files → `vgos recon ingest|run|files|accept-file|cases|case`.

Each test ends with the payout items' states (registry), the ledger postings and the SPV verdicts per batch."""

from __future__ import annotations

from pathlib import Path

from recon.persist import load_batches
from tests.payouts.conftest import WINDOW, batch_id, vgos
from tests.recon.bankfiles import Entry, Tx, statement


def _release(tmp_path: Path) -> dict:
    r = vgos("batch", "create", WINDOW, "--rail", "pain001", "--out", tmp_path / "b.xml")
    assert r.returncode == 0, r.stderr
    bid = batch_id(r.stdout)
    assert vgos("batch", "sent", bid).returncode == 0
    [b] = [x for x in load_batches(WINDOW) if x["provider_batch_id"] == bid]
    return b


def _entry(b: dict, **kw) -> Entry:
    txs = [Tx(i["end_to_end_id"], i["amount_minor"], i["payee_ref"], f"T-{n}") for n, i in enumerate(b["items"])]
    return Entry(sum(t.amount for t in txs), bank_ref="B-1", batch=(b["provider_batch_id"], b["payment_info_id"]),
                 txs=txs, **kw)


def _states() -> dict[str, str]:
    from vgos.payouts import load_items
    from vgos.store.db import get_engine

    with get_engine(None).connect() as conn:
        return {i.principal_id: i.state for i in load_items(conn, "default", WINDOW)}


def _ingest(tmp_path: Path, name: str, data: bytes, fmt: str = "camt053"):
    f = tmp_path / name
    f.write_bytes(data)
    return vgos("recon", "ingest", f, "--format", fmt)


def test_booked_batch_with_charges_settles_items_and_posts_the_fee(window, tmp_path: Path) -> None:
    from vgos import ledger

    b = _release(tmp_path)
    e = _entry(b, charges=150, charges_included=True)
    e.amount += 150
    assert _ingest(tmp_path, "eod.xml", statement([e], ccy="USD")).returncode == 0
    r = vgos("recon", "run", WINDOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fully reconciled: True" in r.stdout and "fees booked: 1" in r.stdout
    assert set(_states().values()) >= {"SETTLED"} and _states()["CRE-0001"] == "SETTLED"
    bal = ledger.balances(WINDOW)
    assert bal[(ledger.EXPENSE_FEES, "USD")] == 150
    # running again posts nothing twice
    assert vgos("recon", "run", WINDOW).returncode == 0
    assert ledger.balances(WINDOW)[(ledger.EXPENSE_FEES, "USD")] == 150


def test_pending_then_returned_moves_items_only_on_booked_evidence(window, tmp_path: Path) -> None:
    b = _release(tmp_path)
    assert _ingest(tmp_path, "intraday.xml", statement([_entry(b, status="PDNG")], message="camt054",
                                                       stmt_id="INTRA"), fmt="camt054").returncode == 0
    r = vgos("recon", "run", WINDOW)
    assert r.returncode == 1 and "pending 2" in r.stdout and "PENDING" in r.stdout
    assert {_states()[p] for p in ("CRE-0001", "CRE-0003")} == {"SENT"}
    assert _ingest(tmp_path, "eod.xml", statement([_entry(b)])).returncode == 0
    it = b["items"][0]
    back = Entry(it["amount_minor"], direction="CRDT", reversal=True, bank_ref="R-1", date="2025-09-26",
                 subfamily="RRTN", txs=[Tx(it["end_to_end_id"], it["amount_minor"], None, "R-1", return_code="AC04")])
    assert _ingest(tmp_path, "ret.xml", statement([back], stmt_id="RET")).returncode == 0
    r = vgos("recon", "run", WINDOW)
    assert r.returncode == 1 and "RETURNED" in r.stdout
    states = _states()
    assert states[it["principal_id"]] == "RETURNED"
    assert states[b["items"][1]["principal_id"]] == "SETTLED"
    # the books: the returned payout is owed again (payable credited back), the settled one left the bank
    from vgos import ledger

    bal = ledger.balances(WINDOW)
    assert bal[(ledger.payable(it["principal_id"]), "USD")] == -it["amount_minor"]
    assert bal[(ledger.payable(b["items"][1]["principal_id"]), "USD")] == 0
    assert bal[(ledger.BANK, "USD")] == -b["items"][1]["amount_minor"]


def test_flagged_statement_is_accepted_by_a_person_and_cases_are_worked(window, tmp_path: Path) -> None:
    b = _release(tmp_path)
    bad = statement([_entry(b)], totals={"n": 4})
    r = _ingest(tmp_path, "bad.xml", bad)
    assert r.returncode == 0 and "FLAGGED" in r.stdout and "accept-file" in r.stdout
    r = vgos("recon", "run", WINDOW)
    assert r.returncode == 1 and "UNCONFIRMED_STATEMENT" in r.stdout
    assert {_states()[p] for p in ("CRE-0001", "CRE-0003")} == {"SENT"}
    files = vgos("recon", "files", "--status", "FLAGGED")
    assert "bad.xml" in files.stdout
    sha = files.stdout.split()[1]
    refused = vgos("recon", "accept-file", sha, "--reason", "  ")
    assert refused.returncode == 2 and "--reason" in refused.stderr
    assert vgos("recon", "accept-file", sha, "--reason", "bank confirmed the totals by phone").returncode == 0
    r = vgos("recon", "run", WINDOW)
    assert r.returncode == 0 and "fully reconciled: True" in r.stdout
    assert {_states()[p] for p in ("CRE-0001", "CRE-0003")} == {"SETTLED"}
    cases = vgos("recon", "cases", WINDOW)
    assert "UNCONFIRMED_STATEMENT" in cases.stdout and "OPEN" in cases.stdout
    case_id = cases.stdout.split()[0].lstrip("#")
    assert vgos("recon", "case", WINDOW, case_id, "--status", "RESOLVED").returncode == 2  # a note is required
    ok = vgos("recon", "case", WINDOW, case_id, "--status", "RESOLVED", "--owner", "ap-team", "--note", "accepted")
    assert ok.returncode == 0 and "RESOLVED" in ok.stdout and "ap-team" in ok.stdout


def test_a_quarantined_file_can_be_ingested_again_once_it_reads(window, tmp_path: Path) -> None:
    b = _release(tmp_path)
    data = statement([_entry(b)])
    wrong = _ingest(tmp_path, "eod.xml", data, fmt="camt054")  # the operator named the wrong format
    assert wrong.returncode == 2 and "FORMAT_MISMATCH" in wrong.stderr
    again = _ingest(tmp_path, "eod.xml", data, fmt="camt053")
    assert again.returncode == 0 and "PROCESSED" in again.stdout
    assert vgos("recon", "run", WINDOW).returncode == 0
    assert "PROCESSED" in vgos("recon", "files").stdout


def test_operator_mistakes_are_one_line_and_exit_2(window, tmp_path: Path) -> None:
    for args, words in ((("recon", "accept-file", "%%%%%%%%", "--reason", "x"), "8 hex digits"),
                        (("recon", "accept-file", "deadbeef", "--reason", "x"), "no report file"),
                        (("recon", "case", WINDOW, "12345", "--status", "RESOLVED", "--note", "n"), "no case"),
                        (("recon", "run", WINDOW, "--tolerance-minor", "-1"), "--tolerance-minor")):
        r = vgos(*args)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1


def test_an_ach_return_without_our_reference_prefix_is_found_in_the_store(window, tmp_path: Path) -> None:
    """A NACHA return names the payout only by its 15-character ACH id: recon still selects and applies it."""
    from connectors.psp.ids import ach_individual_id
    from tests.recon.bankfiles import nacha_returns

    b = _release(tmp_path)
    assert _ingest(tmp_path, "eod.xml", statement([_entry(b)])).returncode == 0
    it = b["items"][1]
    ret = nacha_returns([(ach_individual_id(it["end_to_end_id"]), it["amount_minor"], "091000019/123456789",
                          "R02")])
    assert _ingest(tmp_path, "ret.ach", ret, fmt="nacha").returncode == 0
    r = vgos("recon", "run", WINDOW)
    assert r.returncode == 1 and "R02" in r.stdout
    assert _states()[it["principal_id"]] == "RETURNED" and _states()[b["items"][0]["principal_id"]] == "SETTLED"
