"""Recon at scale, end to end: N receipts against N allocations, VGOS beside a DuckDB join of the same data.

Usage: .venv/bin/python benchmarks/recon_bench.py [--n 1000000 | --sizes 100000,1000000] [--rounds 3] [--profile]

Both sides start from the same Python objects, built by the same deterministic generator in each child process:
a ParseResult as the production camt.054 reader yields it for one batch booking (one BATCH receipt, then one
DETAIL receipt per TxDtls, parent_seq pointing at the BATCH receipt, a bank reference per line) and the batch's
N allocations (payout_batch_items rows). 0.1% of amounts are altered, 0.1% of payments are missing from the
statement and 0.1% of its lines pay an EndToEndId the window never authorized (provider-only).

(a) VGOS: the batch is in payout_batches/payout_batch_items of a fresh SQLite file (bulk inserts, not timed);
    timed, the steps `vgos recon ingest` + `vgos recon run` take (recon.service.run_window_recon): record_parse
    (store the file's receipts) -> load_batch_frame -> window_receipt_frame -> reconcile_frames -> save_result.
(b) DuckDB: timed from the same lists: receipts (every Receipt field) and allocations into tables of a DuckDB
    file, full outer join on the EndToEndId, classification, per-item result rows stored in a table, counts.

Each side runs in its own child process, so its peak RSS (ru_maxrss: inputs plus work) is its own; sides are
interleaved over the rounds and medians reported. Both sides must agree on matched, amount mismatch, missing
and external counts. --profile runs side (a) once under cProfile and prints the top 15 by cumulative time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import resource
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WINDOW, DIGEST, TENANT = "2025-09-23", "0" * 64, "default"
RAW_SHA = "a" * 64
CCY, BOOKED_ON = "EUR", "2025-09-24"
DEBTOR_IBAN = "CH9300762011623852957"
FILE = "camt054-bench.xml"
MASK = (1 << 80) - 1
MIX = 0x9E3779B97F4A7C15F39D  # odd: i -> i * MIX mod 2^80 is a bijection, so ids never collide
COMPARED = ("matched", "AMOUNT_MISMATCH", "MISSING_RECEIPT", "EXTERNAL_ONLY")


def _e2e(i: int) -> str:
    """A VGOS-looking EndToEndId (`VG20250923-` + 20 hex), spread like the real hash-derived ones."""
    return f"VG20250923-{((i + 1) * MIX) & MASK:020x}"


def data(n: int):
    """Deterministic inputs: (batch row, allocation rows, ParseResult of the bank's camt.054 for the batch)."""
    from connectors.psp import ids
    from connectors.psp.receipts import BOOKING, DETAIL, ParseResult, Receipt

    pbid = ids.provider_batch_id(TENANT, WINDOW, DIGEST, "pain001")
    pmtinf = ids.payment_info_id(TENANT, WINDOW, DIGEST, "pain001")
    items = [{"provider_batch_id": pbid, "end_to_end_id": _e2e(i), "principal_id": f"P{i:09d}",
              "amount_minor": 100 + (i * 7919) % 99_901, "currency": CCY, "payee_ref": f"DE89370400440{i:09d}",
              "payout_item_id": None} for i in range(n)]
    batch = {"provider_batch_id": pbid, "tenant_id": TENANT, "window_id": WINDOW, "output_digest": DIGEST,
             "rail": "pain001", "payment_info_id": pmtinf, "currency": CCY, "execution_date": BOOKED_ON,
             "created_at": "2025-09-23T21:00:00Z", "ctrl_sum_minor": sum(i["amount_minor"] for i in items),
             "n_items": n, "sha256": "b" * 64, "location": None, "attempt": 1}
    lines: list[tuple[str, int, str]] = []  # (e2e, amount booked, creditor IBAN) as the bank lists them
    for i, it in enumerate(items):
        k = i % 1000
        if k == 1:
            continue  # missing: the bank never booked it
        lines.append((it["end_to_end_id"], it["amount_minor"] + (1 if k == 2 else 0), it["payee_ref"]))
        if k == 3:
            lines.append((_e2e(n + i), 500, f"GB29NWBK60161331{i:09d}"))  # provider-only
    common = dict(provider="bank", format="camt054", direction="DBIT", status="BOOK", reason=None,
                  booked_at=BOOKED_ON, raw_sha256=RAW_SHA, booking_date=BOOKED_ON, value_date=BOOKED_ON,
                  account=DEBTOR_IBAN, window_ref=None, currency=CCY, fee_minor=0)
    receipts = [Receipt(kind=BOOKING, level="BATCH", provider_ref=pmtinf, batch_ref=pmtinf, end_to_end_id=None,
                        payee_ref=None, amount_minor=sum(a for _, a, _ in lines), source=f"{FILE}:18", line=18,
                        seq=0, n_txs=len(lines), bank_ref=f"B{pbid}"[:35], **common)]
    for n_, (e2e, amount, iban) in enumerate(lines, 1):
        line = 30 + 17 * n_
        receipts.append(Receipt(kind=DETAIL, level="TX", provider_ref=None, batch_ref=pmtinf, end_to_end_id=e2e,
                                payee_ref=iban, amount_minor=amount, source=f"{FILE}:{line}", line=line, seq=n_,
                                parent_seq=0, bank_ref=f"T{n_:07d}{pbid}"[:35], **common))
    return batch, items, ParseResult(FILE, "camt054", RAW_SHA, receipts)


def expected_counts(n: int) -> dict[str, int]:
    """What a correct recon finds in data(n)."""
    per = {k: sum(1 for i in range(n) if i % 1000 == k) for k in (1, 2, 3)}
    return {"matched": n - per[1] - per[2], "AMOUNT_MISMATCH": per[2], "MISSING_RECEIPT": per[1],
            "EXTERNAL_ONLY": per[3]}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _store_batch(db_url: str, batch: dict, items: list[dict]) -> None:
    """The rendered batch as `vgos payout batch` left it: one payout_batches row and N items (bulk, untimed)."""
    from sqlalchemy import insert

    from vgos.store.db import get_engine
    from vgos.store.recon import PayoutBatch, PayoutBatchItem

    with get_engine(db_url).begin() as conn:  # first use migrates the fresh file
        conn.execute(insert(PayoutBatch.__table__), [batch])
        for k in range(0, len(items), 50_000):
            conn.execute(insert(PayoutBatchItem.__table__), items[k:k + 50_000])


def vgos_side(n: int, q, profile: bool = False) -> None:
    """(a) record_parse -> load_batch_frame -> window_receipt_frame -> reconcile_frames -> save_result (SQLite)."""
    try:
        import gc

        from recon.fast import reconcile_frames
        from recon.persist import load_batch_frame, record_parse, save_result, window_receipt_frame

        batch, items, parsed = data(n)
        with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
            db_url = f"sqlite:///{Path(tmp) / 'vgos.db'}"
            _store_batch(db_url, batch, items)
            del items, batch  # from here on the allocations live in the store only
            gc.collect()
            base = _rss_mib()
            stages: dict[str, float] = {}

            def run():
                t = time.perf_counter()
                out = record_parse(parsed, ingested_at="2025-09-24T08:00:00Z", tenant_id=TENANT, db_url=db_url)
                assert out.status == "PROCESSED", out
                stages["record_parse"], t = time.perf_counter() - t, time.perf_counter()
                batches, items = load_batch_frame(WINDOW, DIGEST, tenant_id=TENANT, db_url=db_url)
                stages["load_batches"], t = time.perf_counter() - t, time.perf_counter()
                refs = {b["provider_batch_id"] for b in batches} | {b["payment_info_id"] for b in batches}
                receipts = window_receipt_frame(WINDOW, refs, items["end_to_end_id"], tenant_id=TENANT,
                                                db_url=db_url)
                stages["window_receipts"], t = time.perf_counter() - t, time.perf_counter()
                res = reconcile_frames(WINDOW, DIGEST, batches, items, receipts, tenant_id=TENANT)
                stages["reconcile"], t = time.perf_counter() - t, time.perf_counter()
                save_result(res, as_of="2025-09-24T09:00:00Z", db_url=db_url)
                stages["save_result"] = time.perf_counter() - t
                return res

            t0 = time.perf_counter()
            if profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                res = prof.runcall(run)
                secs = time.perf_counter() - t0
                pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(15)
            else:
                res = run()
                secs = time.perf_counter() - t0
            kinds = res.by_type()
            q.put({"side": "vgos", "n": n, "seconds": secs, "rss": _rss_mib(), "base": base, "stages": stages,
                   "counts": {"matched": res.n_matched, **{k: kinds[k] for k in COMPARED[1:]}},
                   "other": {k: v for k, v in kinds.items() if v and k not in COMPARED}})
    except BaseException:  # noqa: BLE001 - the parent must not wait forever
        q.put({"side": "vgos", "n": n, "error": traceback.format_exc()})


def _arrow_type(annotation: str):
    import pyarrow as pa

    return pa.bool_() if "bool" in annotation else pa.int64() if "int" in annotation else pa.string()


def duckdb_side(n: int, q, profile: bool = False) -> None:  # noqa: ARG001 - same signature as vgos_side
    """(b) the same lists into DuckDB tables, full outer join on e2e, classified rows stored, counts."""
    try:
        import gc

        import duckdb
        import pyarrow as pa

        from connectors.psp.receipts import Receipt

        _, items, parsed = data(n)
        pa.array(["warm"])  # pyarrow's first conversion pays one-time lazy imports (~3 s): not the baseline's work
        duckdb.connect().execute("select 1").fetchall()
        gc.collect()
        base = _rss_mib()
        fields = list(Receipt.__dataclass_fields__)
        schema = pa.schema([(f, _arrow_type(str(Receipt.__annotations__[f]))) for f in fields]
                           + [("receipt_id", pa.string())])
        item_cols = ("provider_batch_id", "end_to_end_id", "principal_id", "amount_minor", "currency", "payee_ref")
        with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
            stages: dict[str, float] = {}
            t0 = t = time.perf_counter()
            rs = parsed.receipts
            receipts = pa.Table.from_arrays(
                [pa.array([getattr(r, f) for r in rs], type=schema.field(f).type) for f in fields]
                + [pa.array([r.receipt_id for r in rs], type=pa.string())], schema=schema)
            allocs = pa.table({c: [it[c] for it in items] for c in item_cols})
            con = duckdb.connect(str(Path(tmp) / "baseline.duckdb"))
            con.execute("create table receipts as select * from receipts")
            con.execute("create table allocations as select * from allocs")
            del receipts, allocs
            stages["load"], t = time.perf_counter() - t, time.perf_counter()
            con.execute("""
                create table results as
                select coalesce(a.end_to_end_id, r.end_to_end_id) as end_to_end_id, a.principal_id,
                       a.provider_batch_id, r.receipt_id, a.amount_minor as expected_minor,
                       r.amount_minor as actual_minor,
                       case when r.receipt_id is null then 'MISSING_RECEIPT'
                            when a.end_to_end_id is null then 'EXTERNAL_ONLY'
                            when a.amount_minor <> r.amount_minor or a.currency <> r.currency then 'AMOUNT_MISMATCH'
                            else 'matched' end as status
                from allocations a
                full outer join (select * from receipts where level = 'TX' and kind in ('BOOKING', 'DETAIL')) r
                  on a.end_to_end_id = r.end_to_end_id""")
            counts = dict(con.execute("select status, count(*) from results group by status").fetchall())
            con.close()  # checkpoint: the results are on disk
            stages["join+store"] = time.perf_counter() - t
            secs = time.perf_counter() - t0
        q.put({"side": "duckdb", "n": n, "seconds": secs, "rss": _rss_mib(), "base": base, "stages": stages,
               "counts": {k: counts.get(k, 0) for k in COMPARED}, "other": {}})
    except BaseException:  # noqa: BLE001
        q.put({"side": "duckdb", "n": n, "error": traceback.format_exc()})


SIDES = {"vgos": vgos_side, "duckdb": duckdb_side}


def child(side: str, n: int, profile: bool = False) -> dict:
    """Run one side in a fresh child process; its result dict."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=SIDES[side], args=(n, q, profile))
    p.start()
    while True:
        try:
            out = q.get(timeout=5)
            break
        except queue.Empty:
            if not p.is_alive():  # killed (out of memory?) before it could report
                raise SystemExit(f"{side} at n={n} died with exit code {p.exitcode}") from None
    p.join()
    if "error" in out:
        raise SystemExit(f"{side} at n={n} failed:\n{out['error']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="allocations (and about as many receipts)")
    ap.add_argument("--sizes", help="comma-separated sizes instead of --n, e.g. 100000,1000000")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size; medians are reported")
    ap.add_argument("--profile", action="store_true", help="profile side (a) once at each size instead")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.n]
    if args.profile:
        for n in sizes:
            print(f"cProfile of side (a), n={n:,}, top 15 by cumulative time")
            out = child("vgos", n, profile=True)
            print({k: round(v, 2) for k, v in out["stages"].items()})
        return

    runs: dict[tuple[str, int], list[dict]] = {}
    for r in range(args.rounds):
        for n in sizes:
            for side in (("vgos", "duckdb") if r % 2 == 0 else ("duckdb", "vgos")):
                out = child(side, n)
                runs.setdefault((side, n), []).append(out)
                print(f"  round {r + 1} {side:6s} n={n:>9,} {out['seconds']:8.2f} s  peak {out['rss']:7.0f} MiB  "
                      + " ".join(f"{k} {v:.2f}" for k, v in out["stages"].items()), flush=True)

    print(f"\nrecon benchmark, {args.rounds} round(s), medians; peak RSS = ru_maxrss of the side's process "
          "(inputs included; 'inputs' = RSS before timing)")
    print(f"{'side':8s} {'n':>10s} {'seconds':>9s} {'x duckdb':>9s} {'peak MiB':>9s} {'x duckdb':>9s} "
          f"{'inputs':>7s}  stages (median s)")
    ok = True
    for n in sizes:
        med: dict[str, tuple[float, float]] = {}
        for side in ("vgos", "duckdb"):
            rs = runs[(side, n)]
            med[side] = (statistics.median(o["seconds"] for o in rs), statistics.median(o["rss"] for o in rs))
        for side in ("vgos", "duckdb"):
            rs = runs[(side, n)]
            secs, rss = med[side]
            stages = {k: statistics.median(o["stages"][k] for o in rs) for k in rs[0]["stages"]}
            print(f"{side:8s} {n:>10,} {secs:9.2f} {secs / med['duckdb'][0]:9.2f} {rss:9.0f} "
                  f"{rss / med['duckdb'][1]:9.2f} {statistics.median(o['base'] for o in rs):7.0f}  "
                  + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
        want = expected_counts(n)
        bad = [(side, o["counts"]) for side in ("vgos", "duckdb") for o in runs[(side, n)] if o["counts"] != want]
        for side, got in bad:
            print(f"  MISMATCH {side} n={n:,}: {got} != expected {want}")
        ok = ok and not bad
        other = runs[("vgos", n)][0]["other"]
        print(f"  counts n={n:,}: {want} ({'DISAGREE' if bad else 'both sides agree'})"
              + (f"; vgos also reports {other}" if other else ""))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
