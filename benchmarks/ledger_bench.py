"""Ledger postings per second for one window of N principals, on SQLite and PostgreSQL (not part of the tests).

Usage: .venv/bin/python benchmarks/ledger_bench.py [--n 200000] [--engines sqlite,postgres] [--pg-url URL]

Each run posts the authorization of N ALLOW decisions (one entry and two lines per principal, one transaction,
one head signature), replays it (idempotent no-op), verifies the whole chain and prints the figures. SQLite runs in
a temporary VGOS_HOME; PostgreSQL runs in its own schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIGEST = "90833464347fd19e2779e0929d7e57b81d4e951f1d96e84eab947d8c4bf97a73"
PG_ADMIN = os.environ.get("VGOS_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def decisions(n: int) -> list[dict]:
    """N ALLOW decisions with distinct principals and amounts."""
    return [
        {
            "principal_id": f"P-{i:07d}",
            "payout_minor": 100 + i % 10_000,
            "decision": "ALLOW",
            "reason_code": None,
            "output_digest": DIGEST,
        }
        for i in range(n)
    ]


def run(engine_name: str, url: str, n: int) -> None:
    """Post, replay and verify one window; print rates."""
    from vgos import ledger
    from vgos.store.db import get_engine

    get_engine(url)  # migrate outside the timing
    decs = decisions(n)
    t0 = time.perf_counter()
    res = ledger.post_authorization(
        "2025-09-23",
        DIGEST,
        "USD",
        decs,
        effective_at="2025-09-23T21:00:00Z",
        url=url,
        recorded_at="2025-09-23T22:00:00Z",
    )
    t1 = time.perf_counter()
    again = ledger.post_authorization(
        "2025-09-23",
        DIGEST,
        "USD",
        decs,
        effective_at="2025-09-23T21:00:00Z",
        url=url,
        recorded_at="2025-09-23T22:00:00Z",
    )
    t2 = time.perf_counter()
    report = ledger.verify_chain(url=url)
    t3 = time.perf_counter()
    check = ledger.check_window("2025-09-23", DIGEST, "USD", decs, url=url)
    t4 = time.perf_counter()
    assert len(res.posted) == n and not again.posted and report["entries"] == n and check["passed"]
    post_s, replay_s, verify_s, check_s = t1 - t0, t2 - t1, t3 - t2, t4 - t3
    print(
        f"{engine_name:<9} N={n:>7}  post {post_s:7.2f}s = {n / post_s:9.0f} postings/s "
        f"({2 * n / post_s:9.0f} lines/s)  replay {replay_s:6.2f}s  verify {verify_s:6.2f}s "
        f"= {n / verify_s:9.0f} entries/s  balance check {check_s:5.2f}s"
    )
    get_engine(url).dispose()


def main() -> int:
    """Parse arguments and run the selected engines."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000, help="principals in the window (default 200000)")
    ap.add_argument("--engines", default="sqlite,postgres")
    ap.add_argument("--pg-url", default=PG_ADMIN)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="vgos-ledger-bench-")
    os.environ["VGOS_HOME"] = home
    os.environ.pop("VGOS_DATABASE_URL", None)
    os.environ.pop("VGOS_KMS_KEY_ID", None)
    os.environ.pop("VGOS_SIGNING_KEY", None)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "sqlite" in engines:
        run("sqlite", f"sqlite:///{Path(home) / 'bench.db'}", args.n)
    if "postgres" in engines:
        import sqlalchemy as sa

        schema = "bench_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(args.pg_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            run("postgres", f"{args.pg_url}?options=-csearch_path%3D{schema}", args.n)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
