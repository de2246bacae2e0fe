"""Write a fold's outputs into a folder atomically: build beside it, then swap it in whole."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from vgos.fold import FoldResult
from vgos.seal import Allocation

ALLOCATION_COLUMNS = list(Allocation.__dataclass_fields__)


def allocations_csv(result: FoldResult) -> bytes:
    """allocations.csv: one row per principal in principal_id order, integer minor units."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ALLOCATION_COLUMNS)
    for a in result.allocations:
        w.writerow([getattr(a, c) for c in ALLOCATION_COLUMNS])
    return buf.getvalue().encode("utf-8")


def rejects_jsonl(result: FoldResult) -> bytes:
    """rejects.jsonl: one object per reject with event_id, reason, source (file:line), field, detail."""
    return b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in result.rejects)


@contextlib.contextmanager
def atomic_dir(out: Path) -> Iterator[Path]:
    """Yield a temp folder beside `out`; on success it replaces `out` whole, on failure it disappears."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rmdir(old)
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_fold_outputs(
    result: FoldResult, out: str | Path, extra: Callable[[Path], None] | None = None
) -> Path:
    """seal.json, output_digest, rejects.jsonl, allocations.csv, normalized.parquet (+ `extra`, e.g. transcript)."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        (tmp / "seal.json").write_bytes(result.seal_bytes)
        (tmp / "output_digest").write_text(result.output_digest + "\n")
        (tmp / "rejects.jsonl").write_bytes(rejects_jsonl(result))
        (tmp / "allocations.csv").write_bytes(allocations_csv(result))
        result.kept.write_parquet(tmp / "normalized.parquet", compression="zstd", statistics=False)
        if extra is not None:
            extra(tmp)
    return out.absolute()
