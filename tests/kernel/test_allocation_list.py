"""`fold_files(..., lazy_allocations=True)` (what `vgos fold` runs) seals the same bytes as the eager fold, and its
`AllocationList` reads as the eager list: the same objects, by index (negative too), slice and iteration, equal to
the list, and the summary's largest payouts and allocations.csv come out the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.examples import examples
from tests.kernel.strategies import WINDOW, window_records
from tests.kernel.writers import write
from vgos.allocation_list import AllocationList
from vgos.fold import fold_files
from vgos.outputs import allocations_csv
from vgos.policy import load_policy
from vgos.report import fold_summary_parts

POLICY = load_policy(None)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window_records())
def test_lazy_allocations_read_as_the_eager_ones(tmp_path_factory: pytest.TempPathFactory, records: list) -> None:
    path = write(tmp_path_factory.mktemp("w") / "events", "parquet", records)
    eager = fold_files([path], WINDOW, POLICY)
    lazy = fold_files([path], WINDOW, POLICY, lazy_allocations=True)
    assert lazy.seal_bytes == eager.seal_bytes and lazy.output_digest == eager.output_digest
    if not eager.allocations:
        return
    assert isinstance(lazy.allocations, AllocationList)
    n = len(eager.allocations)
    assert len(lazy.allocations) == n
    assert [lazy.allocations[i] for i in range(-n, n)] == [eager.allocations[i] for i in range(-n, n)]
    assert lazy.allocations[1:3] == eager.allocations[1:3]
    assert list(lazy.allocations) == eager.allocations and lazy.allocations == eager.allocations
    assert fold_summary_parts(lazy, max_rows=2) == fold_summary_parts(eager, max_rows=2)
    assert allocations_csv(lazy) == allocations_csv(eager)
    with pytest.raises(IndexError):
        lazy.allocations[n]


def test_lazy_allocations_cannot_be_combined_with_no_objects(tmp_path: Path) -> None:
    from vgos.fold import fold_intake, intake_files

    path = write(tmp_path / "events", "jsonl", [])
    with pytest.raises(ValueError, match="lazy_allocations"):
        fold_intake(intake_files([path], WINDOW, POLICY), lazy_allocations=True, allocation_objects=False)
