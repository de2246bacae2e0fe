"""A fold's allocations held as its columns, read as `Allocation` objects only where someone reads them.

`vgos fold` writes allocations.csv from the columns and the seal bytes column-wise; building 200,000 frozen
dataclass objects on the side (holding the GIL the fold's other threads need) bought nothing there. Readers that do
want objects (the summary's largest payouts, a Dagster asset, a test) get the very objects `allocate` would build.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import polars as pl

from vgos.seal import Allocation

COLUMNS = ("principal_id", "events", "net_minor", "bonus_floor_minor", "remainder_micro", "carry_minor",
           "payout_minor")


class AllocationList(Sequence[Allocation]):
    """Allocations of a frame with `COLUMNS` (sorted by principal_id, one row per principal): a list to readers."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame.select(COLUMNS)
        self._all: list[Allocation] | None = None

    def _items(self) -> list[Allocation]:
        if self._all is None:
            cols = [self.frame[c].to_list() for c in COLUMNS]
            self._all = [Allocation(*row) for row in zip(*cols, strict=True)]
        return self._all

    def __len__(self) -> int:
        return self.frame.height

    @overload
    def __getitem__(self, i: int) -> Allocation: ...

    @overload
    def __getitem__(self, i: slice) -> list[Allocation]: ...

    def __getitem__(self, i: int | slice) -> Allocation | list[Allocation]:
        if isinstance(i, slice) or self._all is not None:
            return self._items()[i]
        n = self.frame.height
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise IndexError("allocation index out of range")
        return Allocation(*self.frame.row(j))

    def __iter__(self) -> Iterator[Allocation]:
        return iter(self._items())

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a list to readers: not hashable

    def __repr__(self) -> str:
        return f"AllocationList({self.frame.height} allocations)"
