"""Sums that leave ±(2^53−1) stop the fold with a clear error; Int64 columns never wrap silently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.kernel.writers import write
from vgos.fold import fold_files, fold_reference
from vgos.policy import load_policy
from vgos.seal import FoldRangeError

MAX = 2**53 - 1


def _events(n: int, amount: int, pid: str = "P1", prefix: str = "e") -> list[dict]:
    return [{"event_id": f"{prefix}{i}", "ts_occurred": "2025-09-23T12:00:00Z", "principal_id": pid,
             "amount_minor": amount, "source_type": "earning"} for i in range(n)]


@pytest.mark.parametrize("fold", [fold_files, fold_reference])
def test_net_beyond_exact_range_fails_clearly(tmp_path: Path, fold) -> None:
    path = write(tmp_path / "big", "parquet", _events(2, MAX))
    with pytest.raises(FoldRangeError, match=r"principal 'P1': net_minor = 18014398509481982 leaves the exact"):
        fold([path], "2025-09-23", load_policy())


def test_sums_that_would_wrap_int64_fail_instead_of_wrapping(tmp_path: Path) -> None:
    # 1100 × (2^53−1) > 2^63: a plain Int64 sum wraps to a wrong, in-range-looking number.
    path = write(tmp_path / "wrap", "parquet", _events(1100, MAX))
    with pytest.raises(FoldRangeError, match="exact range"):
        fold_files([path], "2025-09-23", load_policy())


def test_large_offsetting_amounts_are_summed_exactly(tmp_path: Path) -> None:
    events = _events(600, MAX, "P1", "a") + _events(600, -MAX, "P1", "b") + _events(3, 7, "P2", "c")
    path = write(tmp_path / "offset", "parquet", events)
    r = fold_files([path], "2025-09-23", load_policy())
    assert {a.principal_id: a.net_minor for a in r.allocations} == {"P1": 0, "P2": 21}
    assert r.output_digest == fold_reference([path], "2025-09-23", load_policy()).output_digest


def test_total_payout_beyond_range_fails(tmp_path: Path) -> None:
    events = [e | {"principal_id": f"P{i}"} for i, e in enumerate(_events(3, MAX // 2))]
    path = write(tmp_path / "tot", "jsonl", events)
    with pytest.raises(FoldRangeError, match="window totals"):
        fold_files([path], "2025-09-23", load_policy())


def test_cli_exit_2_and_no_output_on_range_error(tmp_path: Path, vgos_home: Path) -> None:
    path = write(tmp_path / "big", "jsonl", _events(2, MAX))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "vgos_app.cli", "fold", "--events", str(path), "--window-id",
                           "2025-09-23", "--out", str(out)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "exact range" in proc.stderr
    assert not out.exists()
