"""Fold+seal benchmark: N events (default 5,000,000), 200,000 principals, 1% repeated event ids, Parquet input.

Prints wall time and peak RSS of `vgos.fold.fold_files` beside DuckDB doing the bare dedupe + filter + sort +
group-by on the same file in the same run, each in its own process so peak RSS is per contender.
Usage: python benchmarks/fold_bench.py [--events N] [--principals P] [--keep-data]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

WINDOW = "2025-09-23"
OPEN_US = 1758574200_000000   # 2025-09-22T20:50:00Z
CUTOFF_US = 1758660600_000000  # 2025-09-23T20:50:00Z

OURS = r"""
import json, resource, sys, time
from vgos.fold import fold_files
from vgos.policy import load_policy
t0 = time.perf_counter()
r = fold_files([sys.argv[1]], "2025-09-23", load_policy())
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "kept": r.totals["events_kept"], "principals": r.totals["principals"],
                  "digest": r.output_digest}))
"""

DUCK = r"""
import json, resource, sys, time
import duckdb
t0 = time.perf_counter()
con = duckdb.connect()
con.execute(f'''
  CREATE TEMP TABLE kept AS
  SELECT event_id, ts, principal_id, amount_minor FROM (
    SELECT *, epoch_us(ts_occurred) AS ts,
           row_number() OVER (PARTITION BY event_id) AS rn
    FROM read_parquet('{sys.argv[1]}'))
  WHERE rn = 1 AND ts > {sys.argv[2]} AND ts <= {sys.argv[3]}
  ORDER BY ts, event_id''')
rows = con.execute('''SELECT principal_id, count(*), sum(amount_minor) FROM kept
                      GROUP BY principal_id ORDER BY principal_id''').fetchall()
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "principals": len(rows)}))
"""


def generate(path: Path, n: int, principals: int, seed: int = 1) -> None:
    """Write the benchmark window: n rows, 1% of them exact repeats of other rows' event ids."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    unique = n - n // 100
    ids = np.arange(unique)
    repeats = rng.choice(unique, size=n - unique, replace=False)
    order = np.concatenate([ids, repeats])
    ts = rng.integers(OPEN_US - 3_600_000_000, CUTOFF_US + 3_600_000_000, size=unique)  # ~4% outside
    pid = rng.integers(0, principals, size=unique)
    amt = rng.integers(-5_000, 250_000, size=unique)
    df = pl.DataFrame({
        "event_id": "evt-" + pl.Series(order).cast(pl.String).str.pad_start(10, "0"),
        "ts_occurred": pl.Series(ts[order]).cast(pl.Datetime("us", "UTC")),
        "principal_id": "P" + pl.Series(pid[order]).cast(pl.String).str.pad_start(6, "0"),
        "amount_minor": pl.Series(amt[order]),
        "source_type": pl.Series(["earning"] * n),
        "currency": pl.Series(["USD"] * n),
    }).sample(fraction=1.0, shuffle=True, seed=seed)
    df.write_parquet(path, compression="zstd", row_group_size=500_000)


def run(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--principals", type=int, default=200_000)
    ap.add_argument("--keep-data", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "window.parquet"
        print(f"generating {args.events:,} events, {args.principals:,} principals, 1% repeated ids …", flush=True)
        generate(path, args.events, args.principals)
        print(f"input {path.stat().st_size / 2**20:.1f} MiB Parquet", flush=True)
        duck = run(DUCK, str(path), str(OPEN_US), str(CUTOFF_US))
        ours = run(OURS, str(path))
        assert ours["principals"] == duck["principals"], (ours, duck)
        print(f"{'contender':<40} {'seconds':>8} {'peak RSS MiB':>13}")
        print(f"{'duckdb dedupe+filter+sort+group-by':<40} {duck['seconds']:>8.2f} {duck['rss_mib']:>13.0f}")
        print(f"{'vgos fold_files (intake+fold+seal)':<40} {ours['seconds']:>8.2f} {ours['rss_mib']:>13.0f}")
        print(f"ratio vgos/duckdb: {ours['seconds'] / duck['seconds']:.2f}x (goal <= 1.5x); "
              f"peak RSS {ours['rss_mib'] / 1024:.2f} GiB (goal <= 2 GiB)")
        print(f"kept {ours['kept']:,} events, {ours['principals']:,} principals, output_digest {ours['digest']}")
        if args.keep_data:
            import shutil

            shutil.copy(path, "benchmarks/window.parquet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
