"""The fold benchmark runs end to end at a tiny size: the whole `vgos fold` and `vgos verify` commands beside DuckDB,
medians and peak RSS printed, the same digest every run (timings are printed, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # a separate process end to end: CI runs it (make test stays < 3 min)
def test_fold_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "fold_bench.py"), "--sizes", "2000", "--rounds", "1",
         "--principals", "50", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    for label in ("duckdb dedupe+filter+sort+group-by", "vgos fold (whole command, subprocess)",
                  "vgos verify (fold output, subprocess)", "fold_files (in-process timer", "output_digest"):
        assert label in text
    (row,) = json.loads(out.read_text())
    assert row["events"] == 2000
    assert all(row[k] > 0 for k in ("duckdb_s", "fold_s", "verify_s", "fold_mib", "verify_mib", "duckdb_mib",
                                    "duckdb_cpu_s", "fold_cpu_s", "verify_cpu_s"))
    assert "CPU s" in text


@pytest.mark.slow  # a separate process end to end: CI runs it (make test stays < 3 min)
def test_fold_bench_baseline_smoke(tmp_path: Path) -> None:
    """--baseline times another vgos command in the same rounds and insists on byte-identical outputs."""
    vgos = str(Path(sys.executable).with_name("vgos"))
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "fold_bench.py"), "--sizes", "2000", "--rounds", "1",
         "--principals", "50", "--no-inprocess", "--baseline", vgos],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "outputs byte-identical" in proc.stdout and "baseline fold (--baseline)" in proc.stdout
