"""Benchmark: N vendor bills into the sandbox with injected latency; records/s beside the ideal.

    .venv/bin/python benchmarks/netsuite_bench.py [--bills 10000] [--latency-ms 50] [--concurrency 5]
                                                  [--batch-size 100] [--transport soap]

ideal = concurrency x batch size / latency (the upper bound set by round trips alone).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.netsuite.config import Credentials, NetSuiteConfig  # noqa: E402
from connectors.netsuite.rest_client import make_client  # noqa: E402
from connectors.netsuite.retry import RetryPolicy  # noqa: E402
from connectors.netsuite.sandbox import SandboxConfig, start_sandbox  # noqa: E402
from connectors.netsuite.stamping import sync_window  # noqa: E402
from gl_mappings import load_gl_mapping  # noqa: E402

CREDS = Credentials("BENCH1", "bench-ck", "bench-cs", "bench-tk", "bench-ts")


def synthetic_window(n: int, digest: str = "b" * 64) -> dict:
    """n principals with integer allocations and alternating ALLOW/HOLD decisions."""
    allocs, decisions, vendors = [], [], {}
    for i in range(n):
        pid = f"P{i:06d}"
        net, bonus = 100 + i % 997, (100 + i % 997) // 10
        allocs.append({"principal_id": pid, "net_minor": net, "bonus_floor_minor": bonus, "carry_minor": 0,
                       "payout_minor": net + bonus})
        decisions.append({"principal_id": pid, "payout_minor": net + bonus, "output_digest": digest,
                          "decision": "ALLOW" if i % 7 else "HOLD", "reason_code": None if i % 7 else "CT_HOLD"})
        vendors[pid] = str(10_000 + i)
    return dict(tenant_id="bench", window_id="2025-09-23", currency="USD", output_digest=digest,
                transcript_url="file:///bench", provider_batch_id=None, allocations=allocs, decisions=decisions,
                vendor_map=vendors, gl_mapping=load_gl_mapping(), tran_date="2025-09-23")


def run(bills: int, latency_ms: int, concurrency: int, batch_size: int, transport: str = "soap") -> dict:
    """Start a sandbox, sync `bills` bills once, return timings and counts."""
    sb = start_sandbox(SandboxConfig(CREDS, latency_ms=latency_ms, validate_responses=False))
    try:
        cfg = NetSuiteConfig(credentials=CREDS, base_url=sb.url, transport=transport, concurrency=concurrency,
                             batch_size=batch_size)
        client = make_client(cfg, retry=RetryPolicy(base_delay_s=0.05))
        window = synthetic_window(bills)
        t0 = time.perf_counter()
        report = sync_window(client, **window, concurrency=concurrency, batch_size=batch_size)
        elapsed = time.perf_counter() - t0
        stored = len(sb.store.all("vendorBill"))
    finally:
        sb.stop()
    ideal = concurrency * batch_size / (latency_ms / 1000) if latency_ms else float("inf")
    return {"bills": bills, "created": len(report.created), "failed": len(report.failed), "stored": stored,
            "seconds": elapsed, "records_per_s": bills / elapsed if elapsed else 0.0, "ideal_per_s": ideal}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bills", type=int, default=10_000)
    p.add_argument("--latency-ms", type=int, default=50)
    p.add_argument("--concurrency", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--transport", choices=["soap", "rest"], default="soap")
    a = p.parse_args(argv)
    r = run(a.bills, a.latency_ms, a.concurrency, a.batch_size, a.transport)
    print(f"netsuite sync ({a.transport}): {r['bills']} bills, latency {a.latency_ms} ms, "
          f"concurrency {a.concurrency}, batch {a.batch_size}")
    print(f"  created {r['created']}  failed {r['failed']}  stored {r['stored']}  in {r['seconds']:.2f} s")
    print(f"  {r['records_per_s']:.0f} records/s   ideal {r['ideal_per_s']:.0f} records/s "
          f"({100 * r['records_per_s'] / r['ideal_per_s']:.1f}% of ideal)")
    return 0 if r["failed"] == 0 and r["stored"] == r["bills"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
