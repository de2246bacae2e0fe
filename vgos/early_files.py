"""Output files a fold finishes before its input digest is known: rejects.jsonl and the transcript's `rejects`
segment (known once the intake is done), allocations.csv and the `allocations` segment (known once the
per-principal sums are). `vgos fold` has them built, hashed, written and fsynced into its spool on one thread
while the fold hashes its input, and the outputs then hard-link them in; only the seal waits for the digest.

At 5,000,000 events these are about 130 MB built and written in the last half second, when the disk, not the
CPU, held the fold up. The bytes are those the outputs would build (the same functions make them); any file that
could not be made early is simply built again the ordinary way, which reports the error if there is one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vgos.storage import write_hashed

REJECTS_JSONL = "rejects.jsonl"
ALLOCATIONS_CSV = "allocations.csv"
REJECTS_SEGMENT = "segment.rejects"
ALLOCATIONS_SEGMENT = "segment.allocations"


@dataclass(frozen=True)
class EarlyFile:
    """A file written and synced in the spool: its bytes' SHA-256 (hex) and size."""

    path: Path
    sha256: str
    size: int


class EarlyFiles:
    """Builds, hashes, writes and fsyncs a fold's early output files into `folder` on one background thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vgos-early-files")
        self._jobs: dict[str, Future[EarlyFile | None]] = {}

    def rejects(self, rejects: Sequence[Any]) -> None:
        """The window's rejects are final: rejects.jsonl and the `rejects` segment."""
        from vgos.outputs import rejects_jsonl_parts_of
        from vgos.transcript import rejects_parts

        self._once(REJECTS_JSONL)

        self._submit(REJECTS_JSONL, lambda: rejects_jsonl_parts_of(rejects))
        self._submit(REJECTS_SEGMENT, lambda: rejects_parts(rejects))

    def allocations(self, frame: Any, body: bytes) -> None:
        """The allocations are final: `frame` their columns (allocations.csv), `body` the seal's allocation objects
        joined by commas (`vgos.fold.allocations_body`; in brackets, the `allocations` segment)."""
        from vgos.outputs import allocations_csv_frame_parts

        self._once(ALLOCATIONS_SEGMENT)
        self._submit(ALLOCATIONS_SEGMENT, lambda: [b"[", body, b"]"])
        self._submit(ALLOCATIONS_CSV, lambda: allocations_csv_frame_parts(frame))

    def _once(self, name: str) -> None:
        if name in self._jobs:  # the outputs would link in the files of the first fold
            raise ValueError("an EarlyFiles serves one fold: make a new one for each")

    def _submit(self, name: str, make: Callable[[], list[Any] | None]) -> None:
        self._jobs[name] = self._pool.submit(self._write, name, make)

    def _write(self, name: str, make: Callable[[], list[Any] | None]) -> EarlyFile | None:
        parts = make()
        if parts is None:  # not buildable from the columns: the outputs take their ordinary path
            return None
        path = self.folder / name
        h = hashlib.sha256()
        with open(path, "xb") as fh:  # the mode the outputs' own files get (0666 less the umask)
            size = write_hashed(fh, parts, h)
            fh.flush()
            os.fsync(fh.fileno())
        return EarlyFile(path, h.hexdigest(), size)

    def get(self, name: str) -> EarlyFile | None:
        """The finished file `name`, once written; None when it was not asked for or could not be made."""
        job = self._jobs.get(name)
        if job is None:
            return None
        try:
            return job.result()
        except Exception:  # noqa: BLE001 - the ordinary path builds it again and reports what goes wrong
            return None

    def close(self) -> None:
        """Wait for the thread (the spool may then be removed)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
