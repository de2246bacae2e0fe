"""Bridge from `vgos fold --out DIR` to the signed transcript writer (DIR/transcript/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vgos.fold import FoldResult


def transcript_writer(result: FoldResult) -> Callable[[Path], None] | None:
    """A callback that writes the signed transcript of `result` into `<folder>/transcript/`."""
    import importlib.util

    if importlib.util.find_spec("vgos.transcript") is None:
        return None

    def write(folder: Path) -> None:
        from vgos.signing import load_signer
        from vgos.storage import open_store
        from vgos.transcript import write_transcript

        write_transcript(result, open_store(str(folder)), "transcript", load_signer())

    return write
