"""The benchmark's code runs end to end on a handful of bills (figures are not asserted)."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO


def test_benchmark_code_runs_on_few_bills():
    spec = importlib.util.spec_from_file_location("netsuite_bench", REPO / "benchmarks" / "netsuite_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(bills=12, latency_ms=1, concurrency=2, batch_size=5)
    assert result["created"] == 12 and result["stored"] == 12 and result["failed"] == 0


def test_client_cpu_benchmark_runs_without_a_sandbox():
    spec = importlib.util.spec_from_file_location("netsuite_bench", REPO / "benchmarks" / "netsuite_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.client_cpu(bills=30, batch_size=10)
    assert result["bills"] == 30 and result["written"] == 30 and result["parsed"] == 30
