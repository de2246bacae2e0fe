"""Several processes posting the same window at once on PostgreSQL produce exactly one set of entries."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from tests.ledger.helpers import SEED_CLOSE, SEED_DIGEST, SEED_WINDOW, raw
from vgos import ledger

WORKERS = 4
PRINCIPALS = 150


def _decisions() -> list[dict]:
    return [
        {
            "principal_id": f"P-{i:05d}",
            "payout_minor": 100 + i,
            "decision": "ALLOW",
            "reason_code": None,
            "output_digest": SEED_DIGEST,
        }
        for i in range(PRINCIPALS)
    ]


def _worker(url: str, barrier, queue) -> None:  # noqa: ANN001
    """One process, its own engine and connections: wait for the others, then post the whole window."""
    from vgos import ledger as lg

    barrier.wait(timeout=60)
    res = lg.post_authorization(SEED_WINDOW, SEED_DIGEST, "USD", _decisions(), effective_at=SEED_CLOSE, url=url)
    queue.put((len(res.posted), len(res.existing), res.head_seq))


@pytest.mark.slow  # several processes or a PostgreSQL Dagster instance: CI runs it (make test stays < 3 min)
def test_concurrent_posting_yields_one_set_of_entries(postgres_url: str) -> None:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(postgres_url, barrier, queue)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(posted for posted, _, _ in results) == PRINCIPALS
    assert all(posted + existing == PRINCIPALS for posted, existing, _ in results)
    assert {seq for _, _, seq in results} == {PRINCIPALS}
    assert raw(postgres_url, "SELECT COUNT(*), COUNT(DISTINCT source_event_id) FROM ledger_entries")[0] == (
        PRINCIPALS,
        PRINCIPALS,
    )
    report = ledger.verify_chain(url=postgres_url)
    assert report["entries"] == PRINCIPALS
    total = sum(d["payout_minor"] for d in _decisions())
    assert ledger.balances(url=postgres_url)[("expense:payouts", "USD")] == total
