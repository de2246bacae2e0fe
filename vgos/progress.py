"""How long work reports progress without the kernel knowing who listens: a callable taking a stage name and,
when the work is countable, units done and the total (None when unknown). The CLI renders it as a bar on a
terminal; everywhere else it is `silent`."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """`progress("hashing input", done=2_000_000, total=5_000_000, unit="events")`; a stage without counts is a
    label only. Calls are cheap and made at most every few thousand units."""

    def __call__(self, stage: str, done: int | None = None, total: int | None = None, unit: str = "events"
                 ) -> None: ...


def silent(stage: str, done: int | None = None, total: int | None = None, unit: str = "events") -> None:
    """The default listener: nothing."""
