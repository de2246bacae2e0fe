"""Recon at scale: N receipts against N allocations with recon.match.reconcile, beside a plain DuckDB join.

Usage: .venv/bin/python benchmarks/recon_bench.py [--n 1000000]
Each side runs in its own child process so its peak RSS is its own; the data (same generator, same seed)
has 0.1% altered amounts, 0.1% missing receipts and 0.1% provider-only entries.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIGEST = "0" * 64
SHA = "a" * 64


def _rows(n: int):
    """Deterministic data: allocations (e2e, principal, amount) and receipts (e2e, amount)."""
    allocs = [(f"VG20250923-{i:020d}", f"P{i:09d}", 100 + i % 9973) for i in range(n)]
    receipts = []
    for i, (e2e, _, amt) in enumerate(allocs):
        if i % 1000 == 1:
            continue  # missing
        receipts.append((e2e, amt + 1 if i % 1000 == 2 else amt))
        if i % 1000 == 3:
            receipts.append((f"EXT-{i:020d}", 500))  # provider-only
    return allocs, receipts


def run_recon(n: int, q: mp.Queue) -> None:
    from connectors.psp.receipts import Receipt
    from recon.match import reconcile

    allocs, rows = _rows(n)
    batch = {"provider_batch_id": "VGB-bench", "payment_info_id": "VGP-bench",
             "ctrl_sum_minor": sum(a[2] for a in allocs), "currency": "USD", "execution_date": "2025-09-24",
             "items": [{"end_to_end_id": e, "principal_id": p, "amount_minor": a, "currency": "USD", "payee_ref": None}
                       for e, p, a in allocs]}
    receipts = [Receipt("bank", "camt054", "BOOKING", "TX", None, "VGP-bench", e, None, None, a, "USD", 0, "DBIT",
                        "BOOK", None, "2025-09-24", f"bench.xml:{k}", k, k, SHA) for k, (e, a) in enumerate(rows)]
    del rows
    t0 = time.perf_counter()
    res = reconcile("2025-09-23", DIGEST, None, [batch], receipts)
    dt = time.perf_counter() - t0
    q.put(("reconcile (python)", dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, res.n_matched,
           res.by_type()))


def run_duckdb(n: int, q: mp.Queue) -> None:
    import duckdb
    import pyarrow as pa

    allocs, rows = _rows(n)
    a = pa.table({"e2e": [x[0] for x in allocs], "amount": [x[2] for x in allocs]})
    r = pa.table({"e2e": [x[0] for x in rows], "amount": [x[1] for x in rows]})
    del allocs, rows
    con = duckdb.connect()
    con.register("a", a)
    con.register("r", r)
    t0 = time.perf_counter()
    out = con.execute("""
        select count(*) filter (where a.e2e is not null and r.e2e is not null and a.amount = r.amount) as matched,
               count(*) filter (where a.e2e is not null and r.e2e is not null and a.amount <> r.amount) as amount_mm,
               count(*) filter (where r.e2e is null) as missing,
               count(*) filter (where a.e2e is null) as external
        from a full outer join r on a.e2e = r.e2e""").fetchone()
    dt = time.perf_counter() - t0
    q.put(("duckdb full outer join", dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, out[0],
           {"AMOUNT_MISMATCH": out[1], "MISSING_RECEIPT": out[2], "EXTERNAL_ONLY": out[3]}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    n = ap.parse_args().n
    ctx = mp.get_context("fork")
    print(f"recon benchmark: {n:,} allocations, ~{n:,} receipts (same data both sides)")
    for fn in (run_recon, run_duckdb):
        q = ctx.Queue()
        p = ctx.Process(target=fn, args=(n, q))
        p.start()
        name, secs, rss_kb, matched, kinds = q.get()
        p.join()
        shown = {k: v for k, v in kinds.items() if v}
        print(f"{name:24s} time {secs:8.2f} s   peak RSS {rss_kb / 1024:8.0f} MiB   matched {matched:,}   {shown}")


if __name__ == "__main__":
    main()
