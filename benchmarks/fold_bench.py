"""Fold+seal benchmark: the installed `vgos fold` command as a whole process beside DuckDB's bare pipeline.

For each size (--sizes, default 1,000,000 events; 200,000 principals, 1% repeated event ids, Parquet input) and each
of --rounds rounds, interleaved in one run, every contender runs in its own child process:

- `duckdb`: the bare dedupe + filter + sort + group-by on the same file (the yardstick);
- `vgos fold`: `.venv/bin/vgos fold --events F --window-id D --out DIR`, the whole command (imports, intake, fold,
  seal, every output file, the signed transcript, the audit row), in an isolated VGOS_HOME;
- `vgos verify`: `vgos verify DIR` on that fold's output (offline transcript verification, replay included);
- `fold_files` (in-process timing, unless --no-inprocess): `vgos.fold.fold_files` alone, timed inside its process;
- with --baseline CMD: the same `fold` and `verify` by another vgos command (e.g. an older tree), in the same
  rounds, whose output folder must be byte-identical to this one's (every file, transcript and checkpoint included).

Wall time is measured around each child; peak RSS is the child's own `ru_maxrss` from `os.wait4`, so each figure
belongs to one process. The table shows medians over the rounds and the ratios the issue sets goals for.
Usage: python benchmarks/fold_bench.py [--sizes 1000000,5000000,20000000] [--rounds 3] [--principals P]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

WINDOW = "2025-09-23"
OPEN_US = 1758574200_000000   # 2025-09-22T20:50:00Z
CUTOFF_US = 1758660600_000000  # 2025-09-23T20:50:00Z
ROOT = Path(__file__).resolve().parent.parent

INPROCESS = r"""
import json, sys, time
from vgos.fold import fold_files
from vgos.policy import load_policy
t0 = time.perf_counter()
r = fold_files([sys.argv[1]], "2025-09-23", load_policy())
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "kept": r.totals["events_kept"], "principals": r.totals["principals"],
                  "digest": r.output_digest}))
"""

DUCK = r"""
import json, sys, time
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
print(json.dumps({"seconds": dt, "principals": len(rows)}))
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


@dataclass
class Run:
    """One child process: wall seconds, its own peak RSS, its exit code and output, and its CPU seconds (user +
    system: steadier than wall time on a shared host, so a change's effect shows in it first)."""

    seconds: float
    rss_mib: float
    code: int
    stdout: str
    stderr: str
    cpu_s: float = 0.0


def run_child(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Run one child and measure it alone: wall time around it, its own ru_maxrss from os.wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss / 1024, proc.returncode, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"), usage.ru_utime + usage.ru_stime)


def _checked(run: Run, what: str) -> Run:
    if run.code != 0:
        raise SystemExit(f"{what} failed with exit code {run.code}:\n{run.stderr[-2000:]}")
    return run


def _vgos_bin(given: str | None) -> str:
    """The installed `vgos` command: --vgos, else the one beside this interpreter, else .venv/bin/vgos."""
    for cand in (given, str(Path(sys.executable).with_name("vgos")), str(ROOT / ".venv" / "bin" / "vgos")):
        if cand and Path(cand).is_file():
            return cand
    raise SystemExit("no installed `vgos` command found (run `make venv`, or pass --vgos PATH)")


def _median(runs: list[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def bench_size(n: int, args: argparse.Namespace, vgos: str, work: Path) -> dict[str, float]:
    """Generate one window of n events and time every contender on it, interleaved, --rounds times."""
    path = work / f"window-{n}.parquet"
    print(f"\n== {n:,} events, {args.principals:,} principals, 1% repeated ids", flush=True)
    # In a child process: a child's peak RSS (ru_maxrss) starts at its parent's size when it forks, so the
    # generated frame must never live in this process.
    _checked(run_child([sys.executable, str(Path(__file__).resolve()), "--generate", str(path), str(n),
                        str(args.principals)]), "generating the window")
    print(f"input {path.stat().st_size / 2**20:.1f} MiB Parquet", flush=True)
    home = work / f"home-{n}"
    env = {**os.environ, "VGOS_HOME": str(home), "VGOS_ACTOR": "bench", "VGOS_ACTOR_TYPE": "system"}
    env.pop("VGOS_DATABASE_URL", None)
    env.pop("VGOS_ARTIFACTS", None)
    # Warm-up: the first command in a fresh VGOS_HOME creates the signing key and migrates the store; an operator's
    # installation has both already, so that one-off cost stays out of the timed rounds.
    seed = ROOT / "vgos" / "samples" / "seed_events.jsonl"
    _checked(run_child([vgos, "fold", "--events", str(seed), "--window-id", WINDOW, "--out",
                        str(work / "warmup")], env), "warm-up fold")
    runs: dict[str, list[Run]] = {"duckdb": [], "fold": [], "verify": [], "inprocess": [], "base_fold": [],
                                  "base_verify": []}
    digests: set[str] = set()
    inprocess: list[float] = []
    for rnd in range(args.rounds):
        out = work / f"out-{n}-{rnd}"
        duck = _checked(run_child([sys.executable, "-c", DUCK, str(path), str(OPEN_US), str(CUTOFF_US)]), "duckdb")
        runs["duckdb"].append(duck)
        fold = _checked(run_child([vgos, "fold", "--events", str(path), "--window-id", WINDOW, "--out", str(out)],
                                  env), "vgos fold")
        runs["fold"].append(fold)
        digests.add((out / "output_digest").read_text().strip())
        verify = _checked(run_child([vgos, "verify", str(out)], env), "vgos verify")
        runs["verify"].append(verify)
        line = f"round {rnd + 1}: duckdb {duck.seconds:.2f}s  fold {fold.seconds:.2f}s  verify {verify.seconds:.2f}s"
        if args.baseline:
            base_out = work / f"base-{n}-{rnd}"
            bf = _checked(run_child([args.baseline, "fold", "--events", str(path), "--window-id", WINDOW, "--out",
                                     str(base_out)], env), "baseline fold")
            bv = _checked(run_child([args.baseline, "verify", str(base_out)], env), "baseline verify")
            runs["base_fold"].append(bf)
            runs["base_verify"].append(bv)
            differ = _tree_differences(out, base_out)
            if differ:
                raise SystemExit(f"outputs differ from the baseline's: {differ[:5]}")
            shutil.rmtree(base_out, ignore_errors=True)
            line += f"  baseline fold {bf.seconds:.2f}s verify {bv.seconds:.2f}s (outputs byte-identical)"
        if not args.no_inprocess:
            ip = _checked(run_child([sys.executable, "-c", INPROCESS, str(path)]), "fold_files")
            runs["inprocess"].append(ip)
            res = json.loads(ip.stdout.strip().splitlines()[-1])
            inprocess.append(res["seconds"])
            digests.add(res["digest"])
            duck_p = json.loads(duck.stdout.strip().splitlines()[-1])["principals"]
            if res["principals"] != duck_p:
                raise SystemExit(f"principal counts differ: vgos {res['principals']}, duckdb {duck_p}")
            line += f"  fold_files {res['seconds']:.2f}s (in-process)"
        print(line, flush=True)
        shutil.rmtree(out, ignore_errors=True)
    if len(digests) != 1:
        raise SystemExit(f"output digests differ between runs: {sorted(digests)}")
    duck_s, fold_s, ver_s = (_median(runs[k], "seconds") for k in ("duckdb", "fold", "verify"))
    duck_m, fold_m, ver_m = (_median(runs[k], "rss_mib") for k in ("duckdb", "fold", "verify"))
    duck_c, fold_c, ver_c = (_median(runs[k], "cpu_s") for k in ("duckdb", "fold", "verify"))
    print(f"medians over {args.rounds} round(s):")
    print(f"{'contender':<44} {'seconds':>8} {'peak RSS MiB':>13} {'vs duckdb':>10} {'CPU s':>7}")
    print(f"{'duckdb dedupe+filter+sort+group-by':<44} {duck_s:>8.2f} {duck_m:>13.0f} {1.0:>9.2f}x {duck_c:>7.2f}")
    print(f"{'vgos fold (whole command, subprocess)':<44} {fold_s:>8.2f} {fold_m:>13.0f} {fold_s / duck_s:>9.2f}x "
          f"{fold_c:>7.2f}")
    print(f"{'vgos verify (fold output, subprocess)':<44} {ver_s:>8.2f} {ver_m:>13.0f} {ver_s / duck_s:>9.2f}x "
          f"{ver_c:>7.2f}")
    row = {"events": n, "duckdb_s": duck_s, "fold_s": fold_s, "verify_s": ver_s,
           "duckdb_mib": duck_m, "fold_mib": fold_m, "verify_mib": ver_m,
           "duckdb_cpu_s": duck_c, "fold_cpu_s": fold_c, "verify_cpu_s": ver_c}
    if inprocess:
        ip_s, ip_m = statistics.median(inprocess), _median(runs["inprocess"], "rss_mib")
        print(f"{'fold_files (in-process timer, no outputs)':<44} {ip_s:>8.2f} {ip_m:>13.0f} {ip_s / duck_s:>9.2f}x")
        row.update(inprocess_s=ip_s, inprocess_mib=ip_m)
    if runs["base_fold"]:
        bf_s, bv_s = _median(runs["base_fold"], "seconds"), _median(runs["base_verify"], "seconds")
        bf_m, bv_m = _median(runs["base_fold"], "rss_mib"), _median(runs["base_verify"], "rss_mib")
        print(f"{'baseline fold (--baseline)':<44} {bf_s:>8.2f} {bf_m:>13.0f} {bf_s / duck_s:>9.2f}x")
        print(f"{'baseline verify (--baseline)':<44} {bv_s:>8.2f} {bv_m:>13.0f} {bv_s / duck_s:>9.2f}x")
        row.update(base_fold_s=bf_s, base_verify_s=bv_s, base_fold_mib=bf_m, base_verify_mib=bv_m)
    print(f"fold/duckdb {fold_s / duck_s:.2f}x (goal <= 1.5x at 5M); fold peak {fold_m / 1024:.2f} GiB; "
          f"verify/fold {ver_s / fold_s:.2f}x time, {ver_m / fold_m:.2f}x memory (goal <= 1x both)")
    print(f"output_digest {digests.pop()}")
    return row


def _tree_differences(a: Path, b: Path) -> list[str]:
    """Relative paths whose bytes differ between two folders (or that exist in one only)."""
    files = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()} | \
        {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    return sorted(f for f in files
                  if not ((a / f).is_file() and (b / f).is_file() and (a / f).read_bytes() == (b / f).read_bytes()))


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run every size and print one summary line per size (and JSON with --json)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--generate"]:  # internal: write one window (in its own process, see bench_size)
        generate(Path(argv[1]), int(argv[2]), int(argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000", help="comma-separated event counts (default 1000000)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size; medians are shown")
    ap.add_argument("--principals", type=int, default=200_000)
    ap.add_argument("--vgos", help="the vgos command to time (default: the one installed beside this Python)")
    ap.add_argument("--baseline", help="another vgos command to time in the same rounds (its outputs must be "
                    "byte-identical), e.g. a wrapper running an older tree")
    ap.add_argument("--no-inprocess", action="store_true", help="skip the in-process fold_files column")
    ap.add_argument("--json", type=Path, help="also write the medians as JSON here")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.rounds < 1 or not sizes or min(sizes) < 1:
        ap.error("--rounds and every size must be positive")
    vgos = _vgos_bin(args.vgos)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vgos-fold-bench-") as d:
        for n in sizes:
            rows.append(bench_size(n, args, vgos, Path(d)))
    print("\nsummary (medians): events, duckdb s, fold s (ratio, peak MiB), verify s (peak MiB)")
    for r in rows:
        print(f"{r['events']:>12,}  {r['duckdb_s']:7.2f}  {r['fold_s']:7.2f} ({r['fold_s'] / r['duckdb_s']:.2f}x, "
              f"{r['fold_mib']:.0f})  {r['verify_s']:7.2f} ({r['verify_mib']:.0f})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
