"""Audit log: appended by postings and by other commands, queryable by window and actor, printed by `vgos audit`."""

from __future__ import annotations

import pytest

from tests.ledger.helpers import SEED_CLOSE, SEED_DIGEST, SEED_WINDOW, run_cli, seed_decisions
from vgos import audit, ledger
from vgos.errors import InputError


def test_records_are_queryable_by_window_and_actor(sqlite_url: str) -> None:
    audit.record(
        "alice",
        "user",
        "proof.submit",
        "window/2025-09-23/proof/ack-1",
        "corr-1",
        "2025-09-23T20:00:00+02:00",
        {"proof": "ack-1", "status": "accepted"},
    )
    audit.record(
        "scheduler",
        "service",
        "recon.run",
        "provider/acme",
        "corr-2",
        "2025-09-24T06:00:00Z",
        {"matched": 2},
        window_id="2025-09-23",
    )
    audit.record("alice", "user", "netsuite.sync", "window/2025-09-24", "corr-3", "2025-09-24T22:00:00Z", {"bills": 3})
    ledger.post_authorization(
        SEED_WINDOW,
        SEED_DIGEST,
        "USD",
        seed_decisions(),
        effective_at=SEED_CLOSE,
        actor_id="bob",
        actor_type="user",
        recorded_at="2025-09-23T22:00:00Z",
    )
    w23 = audit.query("2025-09-23")
    assert [r["action"] for r in w23] == ["proof.submit", "recon.run", "ledger.post_authorization"]
    assert w23[0]["at"] == "2025-09-23T18:00:00Z" and w23[0]["diff_summary"] == {"proof": "ack-1", "status": "accepted"}
    posting = w23[2]
    assert posting["actor_id"] == "bob" and posting["correlation_id"] == SEED_DIGEST
    assert posting["diff_summary"]["entries_posted"] == 2
    assert [r["resource"] for r in audit.query(actor_id="alice")] == [
        "window/2025-09-23/proof/ack-1",
        "window/2025-09-24",
    ]
    assert [r["action"] for r in audit.query("2025-09-24", "alice")] == ["netsuite.sync"]


def test_replayed_posting_does_not_add_an_audit_record(sqlite_url: str) -> None:
    for _ in range(2):
        ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE)
    assert len(audit.query(SEED_WINDOW, action="ledger.post_authorization")) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"at": "2025-09-23T20:00:00"}, "naive|offset"), ({"actor_id": ""}, "actor_id"), ({"at": "yesterday"}, "at")],
)
def test_bad_audit_input_is_refused(sqlite_url: str, kwargs: dict, message: str) -> None:
    args = {
        "actor_id": "a",
        "actor_type": "user",
        "action": "x",
        "resource": "r",
        "correlation_id": None,
        "at": "2025-09-23T20:00:00Z",
        "diff_summary": {},
    } | kwargs
    with pytest.raises(InputError, match=message):
        audit.record(**args)
    assert audit.query(actor_id="a") == []


def test_cli_audit_and_balance(sqlite_url: str) -> None:
    ledger.demo_ledger(SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), recorded_at="2025-09-23T22:00:00Z")
    code, out, _ = run_cli(["audit", SEED_WINDOW])
    assert code == 0 and "user:demo  ledger.post_authorization  window/2025-09-23" in out
    assert run_cli(["audit", "2031-01-01"])[1].strip() == "no audit records"
    assert run_cli(["audit"])[0] == 2
    code, out, _ = run_cli(["ledger", "balance", SEED_WINDOW])
    assert code == 0 and "liability:payable:CRE-0003" in out and "balanced" in out
    assert "no postings" in run_cli(["ledger", "balance", "2031-01-01"])[1]
