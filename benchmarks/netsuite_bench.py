"""Benchmark: N vendor bills into the sandbox with injected latency; records/s beside the ideal.

    .venv/bin/python benchmarks/netsuite_bench.py [--bills 10000] [--latency-ms 50] [--concurrency 5]
                                                  [--batch-size 100] [--transport soap]
    .venv/bin/python benchmarks/netsuite_bench.py --client-cpu [--bills 5000]

ideal = concurrency x batch size / latency (the upper bound set by round trips alone).

--client-cpu measures only the client's CPU (one core, time.process_time, no sandbox, no network, 0 ms latency):
building and signing the upsertList envelopes, then parsing upsertList responses and a getList read-back of the
same bills. The sandbox's schema validation is not counted, so the figure is the client's own limit
(goal: at least 1,000 bills/s, so a real account's latency, not the client, bounds a sync).
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
from gl_mappings import DEMO_FILE, load_gl_mapping  # noqa: E402

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
                vendor_map=vendors, gl_mapping=load_gl_mapping(path=DEMO_FILE), tran_date="2025-09-23")


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


def _responses(body: bytes, n: int) -> tuple[bytes, bytes]:
    """An upsertList response for n records and a getList response holding the request's records (as NetSuite
    returns them), built once outside the timed section."""
    from lxml import etree

    from connectors.netsuite.soap_client import SOAP_ENV, XSI, ns

    msgs, core = ns("messages", "2023_2"), ns("core", "2023_2")
    records = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body")[0]
    env = f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:m="{msgs}" xmlns:c="{core}" xmlns:xsi="{XSI}">'
    writes = "".join(f'<m:writeResponse><c:status isSuccess="true"/><m:baseRef xsi:type="c:RecordRef" '
                     f'internalId="{1000 + i}" externalId="{rec.get("externalId") or i}" type="vendorBill"/>'
                     f'</m:writeResponse>' for i, rec in enumerate(records))
    upsert = (f'{env}<soapenv:Body><m:upsertListResponse><m:writeResponseList><c:status isSuccess="true"/>'
              f'{writes}</m:writeResponseList></m:upsertListResponse></soapenv:Body></soapenv:Envelope>').encode()
    reads = []
    for i, rec in enumerate(records):
        rec.tag = f"{{{msgs}}}record"
        rec.set("internalId", str(1000 + i))
        reads.append(f'<m:readResponse><c:status isSuccess="true"/>{etree.tostring(rec).decode()}</m:readResponse>')
    get = (f'{env}<soapenv:Body><m:getListResponse><m:readResponseList><c:status isSuccess="true"/>'
           f'{"".join(reads)}</m:readResponseList></m:getListResponse></soapenv:Body></soapenv:Envelope>').encode()
    return upsert, get


def client_cpu(bills: int = 5000, batch_size: int = 100) -> dict:
    """Client CPU per bill on one core: envelopes built and signed, responses parsed; no sandbox involved."""
    from lxml import etree

    from connectors.netsuite.soap_client import _PARSER, SuiteTalkClient, _write_result, parse_vendor_bill
    from connectors.netsuite.stamping import build_bill_specs

    cfg = NetSuiteConfig(credentials=CREDS, base_url="http://127.0.0.1:9", timezone="America/New_York",
                         batch_size=batch_size)
    client = SuiteTalkClient(cfg)  # never sends: only envelope() and the parsers are timed
    window = synthetic_window(bills)
    specs = build_bill_specs(**window)
    chunks = [specs[i: i + batch_size] for i in range(0, len(specs), batch_size)]
    client.bill_envelope("upsertList", chunks[0])  # warm caches (zone, imports)
    t0 = time.process_time()
    # what upsert_bills sends: envelope.py's direct lxml serialization, signed with a fresh passport per request
    bodies = [client.bill_envelope("upsertList", chunk) for chunk in chunks]
    build_s = time.process_time() - t0
    canned = [_responses(body, len(chunk)) for body, chunk in zip(bodies, chunks, strict=True)]
    t1 = time.process_time()
    written = parsed = 0
    for upsert, get in canned:
        written += sum(_write_result(el).ok for el in etree.fromstring(upsert, _PARSER).iter("{*}writeResponse"))
        for rec in etree.fromstring(get, _PARSER).iter("{*}record"):
            parse_vendor_bill(rec, cfg, "USD")
            parsed += 1
    parse_s = time.process_time() - t1
    total = build_s + parse_s
    return {"bills": len(specs), "written": written, "parsed": parsed, "build_s": build_s, "parse_s": parse_s,
            "bills_per_s": len(specs) / total if total else float("inf"),
            "build_bills_per_s": len(specs) / build_s if build_s else float("inf"),
            "parse_bills_per_s": len(specs) / parse_s if parse_s else float("inf")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bills", type=int, default=10_000)
    p.add_argument("--latency-ms", type=int, default=50)
    p.add_argument("--concurrency", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--transport", choices=["soap", "rest"], default="soap")
    p.add_argument("--client-cpu", action="store_true", help="measure client CPU only (no sandbox, 0 ms latency)")
    a = p.parse_args(argv)
    if a.client_cpu:
        c = client_cpu(a.bills if a.bills != 10_000 else 5000, a.batch_size)
        print(f"netsuite client CPU (one core, 0 ms latency, no sandbox): {c['bills']} bills, batch {a.batch_size}")
        print(f"  build+sign envelopes {c['build_s']:.2f} s ({c['build_bills_per_s']:.0f} bills/s), parse responses "
              f"{c['parse_s']:.2f} s ({c['parse_bills_per_s']:.0f} bills/s)")
        print(f"  {c['bills_per_s']:.0f} bills/s of client CPU (goal >= 1000)")
        return 0
    r = run(a.bills, a.latency_ms, a.concurrency, a.batch_size, a.transport)
    print(f"netsuite sync ({a.transport}): {r['bills']} bills, latency {a.latency_ms} ms, "
          f"concurrency {a.concurrency}, batch {a.batch_size}")
    print(f"  created {r['created']}  failed {r['failed']}  stored {r['stored']}  in {r['seconds']:.2f} s")
    print(f"  {r['records_per_s']:.0f} records/s   ideal {r['ideal_per_s']:.0f} records/s "
          f"({100 * r['records_per_s'] / r['ideal_per_s']:.1f}% of ideal)")
    return 0 if r["failed"] == 0 and r["stored"] == r["bills"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
