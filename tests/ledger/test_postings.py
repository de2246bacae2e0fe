"""Postings: the seed window balances, replays are idempotent, reversals restore balances, bad input is refused."""

from __future__ import annotations

import pytest

from tests.ledger.helpers import SEED_CLOSE, SEED_DIGEST, SEED_WINDOW, raw, seed_decisions
from vgos import ledger
from vgos.errors import InputError


def _count(url: str) -> int:
    return raw(url, "SELECT COUNT(*) FROM ledger_entries")[0][0]


def test_demo_window_postings_balance_and_trial_balance_prints(store_url: str) -> None:
    text = ledger.demo_ledger(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), url=store_url)
    assert "2 entries posted" in text
    rows = {ln.split()[0]: ln.split()[2:] for ln in text.splitlines()[2:]}
    assert rows["expense:payouts"] == ["8.36", "0.00", "8.36"]
    assert rows["liability:payable:CRE-0001"] == ["0.00", "3.80", "-3.80"]
    assert rows["liability:payable:CRE-0003"] == ["0.00", "4.56", "-4.56"]
    assert "liability:payable:CRE-0002" not in rows  # HOLD is not posted
    assert rows["total"] == ["8.36", "8.36", "balanced"]
    check = ledger.check_window(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), url=store_url)
    assert check["passed"] and check["authorized_minor"] == check["expected_authorized_minor"] == 836
    assert ledger.verify_chain(url=store_url)["entries"] == 2


def test_reposting_the_same_decisions_is_idempotent(sqlite_url: str) -> None:
    first = ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE)
    again = ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE)
    assert len(first.posted) == 2 and again.posted == []
    assert sorted(again.existing) == sorted(first.posted)
    assert (again.head_seq, again.head_hash) == (first.head_seq, first.head_hash)
    assert _count(sqlite_url) == 2
    # a later release of the HOLD posts only the newly allowed principal
    released = seed_decisions()
    released[1]["decision"] = "ALLOW"
    third = ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", released, effective_at=SEED_CLOSE)
    assert len(third.posted) == 1 and len(third.existing) == 2
    assert ledger.balances(SEED_WINDOW)[("liability:payable:CRE-0002", "USD")] == -275


def test_full_money_path_clears_payables_and_clearing(sqlite_url: str) -> None:
    ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE)
    items = [{"principal_id": "CRE-0001", "amount_minor": 380}, {"principal_id": "CRE-0003", "amount_minor": 456}]
    ledger.post_batch(
        SEED_WINDOW, SEED_DIGEST, "PB-1", items, provider="acme", currency="USD", effective_at="2025-09-24T08:00:00Z"
    )
    receipts = [{"receipt_id": "R-1", "amount_minor": 380}, {"receipt_id": "R-2", "amount_minor": 456}]
    ledger.post_settlement(
        SEED_WINDOW, SEED_DIGEST, receipts, provider="acme", currency="USD", effective_at="2025-09-25T08:00:00Z"
    )
    ledger.post_fee(SEED_WINDOW, SEED_DIGEST, "USD", 25, "FEE-1", provider="acme", effective_at="2025-09-25T08:00:00Z")
    # replays of every step change nothing
    assert (
        ledger.post_batch(
            SEED_WINDOW,
            SEED_DIGEST,
            "PB-1",
            items,
            provider="acme",
            currency="USD",
            effective_at="2025-09-24T08:00:00Z",
        ).posted
        == []
    )
    assert (
        ledger.post_settlement(
            SEED_WINDOW, SEED_DIGEST, receipts, provider="acme", currency="USD", effective_at="2025-09-25T08:00:00Z"
        ).posted
        == []
    )
    bal = ledger.balances(SEED_WINDOW)
    assert bal[("liability:payable:CRE-0001", "USD")] == 0
    assert bal[("liability:payable:CRE-0003", "USD")] == 0
    assert bal[("asset:clearing:acme", "USD")] == 0
    assert bal[("asset:bank", "USD")] == -(836 + 25)
    assert bal[("expense:payouts", "USD")] == 836 and bal[("expense:fees", "USD")] == 25
    assert sum(bal.values()) == 0
    assert ledger.verify_chain()["entries"] == 2 + 1 + 2 + 1


def test_reversal_restores_balances_and_keeps_both_entries(store_url: str) -> None:
    res = ledger.post_authorization(
        SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE, url=store_url
    )
    before = ledger.balances(url=store_url)
    original = next(e for e in res.posted if ledger.get_entry(e, url=store_url)["source_event_id"].endswith("CRE-0001"))
    rev = ledger.reverse(original, "gate decision withdrawn", effective_at="2025-09-24T10:00:00Z", url=store_url)
    after = ledger.balances(url=store_url)
    assert after[("liability:payable:CRE-0001", "USD")] == 0
    assert after[("expense:payouts", "USD")] == before[("expense:payouts", "USD")] - 380
    assert after[("liability:payable:CRE-0003", "USD")] == before[("liability:payable:CRE-0003", "USD")]
    kept, mirror = ledger.get_entry(original, url=store_url), ledger.get_entry(rev, url=store_url)
    assert kept["entry_type"] == "TRANSFER" and mirror["entry_type"] == "REVERSAL"
    assert mirror["reverses"] == original and mirror["memo"] == "gate decision withdrawn"
    assert _count(store_url) == 3
    # reversing twice is idempotent; reversing a reversal is refused
    assert ledger.reverse(original, "again", effective_at="2025-09-24T10:00:00Z", url=store_url) == rev
    with pytest.raises(InputError, match="itself a reversal"):
        ledger.reverse(rev, "undo", effective_at="2025-09-24T11:00:00Z", url=store_url)
    assert ledger.verify_chain(url=store_url)["entries"] == 3


def test_unbalanced_entry_is_refused_before_insert(sqlite_url: str) -> None:
    draft = ledger.Draft(
        window_id=SEED_WINDOW,
        output_digest=SEED_DIGEST,
        entry_type="ADJUSTMENT",
        effective_at=SEED_CLOSE,
        source="manual",
        source_event_id="adj-1",
        lines=(ledger.dr("expense:payouts", "USD", 100), ledger.cr("asset:bank", "USD", 99)),
    )
    with pytest.raises(ledger.UnbalancedEntry, match="USD debits 100 != credits 99"):
        ledger.append([draft], action="test", resource="window/2025-09-23")
    cross = ledger.Draft(
        window_id=SEED_WINDOW,
        output_digest=SEED_DIGEST,
        entry_type="ADJUSTMENT",
        effective_at=SEED_CLOSE,
        source="manual",
        source_event_id="adj-2",
        lines=(ledger.dr("expense:payouts", "USD", 100), ledger.cr("asset:bank", "EUR", 100)),
    )
    with pytest.raises(ledger.UnbalancedEntry, match="EUR debits 0 != credits 100"):
        ledger.append([cross], action="test", resource="window/2025-09-23")
    assert _count(sqlite_url) == 0


def test_multi_currency_batch_balances_per_currency(sqlite_url: str) -> None:
    items = [{"principal_id": "A", "amount_minor": 500, "currency": "EUR"}, {"principal_id": "B", "amount_minor": 700}]
    ledger.post_batch(SEED_WINDOW, SEED_DIGEST, "PB-9", items, provider="acme", currency="USD", effective_at=SEED_CLOSE)
    bal = ledger.balances()
    assert bal[("asset:clearing:acme", "EUR")] == -500 and bal[("asset:clearing:acme", "USD")] == -700


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"output_digest": "f" * 64}, "bound to f"),
        ({"payout_minor": 3.8}, "payout_minor: expected integer minor units"),
        ({"payout_minor": -5}, "negative payout"),
        ({"decision": "MAYBE"}, "expected ALLOW or HOLD"),
        ({"principal_id": ""}, "principal_id"),
    ],
)
def test_bad_decisions_are_refused_and_nothing_is_written(sqlite_url: str, change: dict, message: str) -> None:
    decisions = seed_decisions()
    decisions[2].update(change)
    with pytest.raises(InputError, match=message) as info:
        ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", decisions, effective_at=SEED_CLOSE)
    assert "decisions[2]" in str(info.value)
    assert _count(sqlite_url) == 0


def test_effective_at_must_be_explicit_and_zoned(sqlite_url: str) -> None:
    with pytest.raises(InputError, match="effective_at"):
        ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at="2025-09-23T21:00:00")
    res = ledger.post_authorization(
        SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at="2025-09-23T23:00:00+02:00"
    )
    assert ledger.get_entry(res.posted[0])["effective_at"] == "2025-09-23T21:00:00Z"


def test_same_source_event_under_another_window_is_the_same_posting(sqlite_url: str) -> None:
    items = [{"principal_id": "CRE-0001", "amount_minor": 380}]
    first = ledger.post_batch(
        SEED_WINDOW, SEED_DIGEST, "PB-7", items, provider="acme", currency="USD", effective_at=SEED_CLOSE
    )
    again = ledger.post_batch(
        "2025-09-24", SEED_DIGEST, "PB-7", items, provider="acme", currency="USD", effective_at=SEED_CLOSE
    )
    assert again.posted == [] and again.existing == first.posted
    assert _count(sqlite_url) == 1
