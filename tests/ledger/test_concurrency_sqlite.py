"""Threads posting the same window at once on the embedded SQLite store: BEGIN IMMEDIATE serialises them."""

from __future__ import annotations

import threading

from tests.ledger.helpers import SEED_CLOSE, SEED_DIGEST, SEED_WINDOW, raw
from vgos import ledger


def test_concurrent_threads_post_one_set_of_entries(sqlite_url: str) -> None:
    decisions = [
        {"principal_id": f"P-{i:04d}", "payout_minor": 10 + i, "decision": "ALLOW", "output_digest": SEED_DIGEST}
        for i in range(60)
    ]
    barrier, results, errors = threading.Barrier(3), [], []

    def post() -> None:
        try:
            barrier.wait(timeout=30)
            res = ledger.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", decisions, effective_at=SEED_CLOSE)
            results.append((len(res.posted), res.head_seq))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(p for p, _ in results) == [0, 0, 60] and {s for _, s in results} == {60}
    assert raw(sqlite_url, "SELECT COUNT(*) FROM ledger_entries")[0][0] == 60
    assert ledger.verify_chain()["entries"] == 60
