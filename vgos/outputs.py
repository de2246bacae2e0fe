"""Write a fold's outputs into a folder atomically: build beside it, then swap it in whole.

`--out` is guarded (`check_out_dir`): an existing folder is replaced only when it is empty or a previous fold
output (it holds the `MARKER` file the fold writes), and never when it is, or contains, an input file or the
embedded state (VGOS_HOME, the artifact root, the drop zone, the signing key, the SQLite database). The temp
folder is removed on every exit path; files and folders are fsynced before the swap, which is an atomic
exchange where the file system has one (Linux `renameat2`), so no `.old` folder is ever left behind.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import io
import operator
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from vgos.early_files import ALLOCATIONS_CSV, REJECTS_JSONL, EarlyFiles
from vgos.errors import InputError
from vgos.events import Reject
from vgos.fold import FoldResult
from vgos.rejects import frame_rejects
from vgos.seal import Allocation

MARKER = ".vgos-fold-output"
ALLOCATION_COLUMNS = list(Allocation.__dataclass_fields__)


_CSV_SPECIAL = (",", '"', "\r", "\n")
_allocation_row = operator.attrgetter(*ALLOCATION_COLUMNS)


def allocations_csv(result: FoldResult) -> bytes:
    """allocations.csv: one row per principal in principal_id order, integer minor units.

    When every amount is an int and no principal_id holds a character the csv module would quote (delimiter,
    quote, CR, LF), each row is its values joined by commas, which is what `csv.writer` writes for them;
    otherwise `csv.writer` itself writes the file. With the fold's allocation columns the rows are built
    column-wise (the same bytes)."""
    return b"".join(allocations_csv_parts(result))


def allocations_csv_parts(result: FoldResult) -> list[Any]:
    """`allocations_csv` as buffers whose concatenation is the file (column-wise rows are not joined)."""
    frame = getattr(result, "allocation_frame", None)
    if frame is not None and frame.height == len(result.allocations):
        parts = allocations_csv_frame_parts(frame)
        if parts is not None:
            return parts
    rows = list(map(_allocation_row, result.allocations))
    pids = [r[0] for r in rows]
    if all(type(p) is str and p for p in pids) and {type(v) for r in rows for v in r[1:]} <= {int}:
        joined = "".join(pids)
        if not any(c in joined for c in _CSV_SPECIAL):
            head = ",".join(ALLOCATION_COLUMNS) + "\n"
            body = "".join([f"{p},{e},{n},{b},{m},{c},{y}\n" for p, e, n, b, m, c, y in rows])
            return [(head + body).encode("utf-8")]
    return [_allocations_csv_writer(result)]


def allocations_csv_frame_parts(frame: Any) -> list[Any] | None:
    """allocations.csv built column-wise from the allocation columns (one row per principal, in order), as buffers;
    None when that is not the csv writer's output (no rows, or a principal_id the writer would quote or that is
    empty)."""
    if not frame.height:
        return None
    pid = frame["principal_id"]
    if bool(pid.str.contains_any(list(_CSV_SPECIAL)).any()) or not bool((pid.str.len_bytes() > 0).all()):
        return None
    import polars as pl

    from vgos.canonical_rows import _row_buffers

    cells = [pl.col(c).cast(pl.String) for c in ALLOCATION_COLUMNS]
    cells[-1] = cells[-1] + "\n"  # the line end joined to the last cell, not appended to whole rows
    rows = frame.select(pl.concat_str(cells, separator=",")).to_series()
    return [(",".join(ALLOCATION_COLUMNS) + "\n").encode("utf-8"), *_row_buffers(rows)]


def _allocations_csv_writer(result: FoldResult) -> bytes:
    """allocations.csv through `csv.writer` (any principal_id, any value)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ALLOCATION_COLUMNS)
    for a in result.allocations:
        w.writerow([getattr(a, c) for c in ALLOCATION_COLUMNS])
    return buf.getvalue().encode("utf-8")


def rejects_jsonl(result: FoldResult) -> bytes:
    """rejects.jsonl: one object per reject with event_id, reason, source (file:line), field, detail (column-wise
    when the fold kept its rejects as columns, the same bytes)."""
    return b"".join(rejects_jsonl_parts(result))


def rejects_jsonl_parts(result: FoldResult) -> list[Any]:
    """`rejects_jsonl` as buffers whose concatenation is the file (a column-wise log's are written unjoined)."""
    return rejects_jsonl_parts_of(result.rejects)


def rejects_jsonl_parts_of(rejects: Sequence[Reject]) -> list[Any]:
    """`rejects_jsonl_parts` of a fold's rejects."""
    log = frame_rejects(rejects)
    if log is not None:
        return log.jsonl_parts()
    return [b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in rejects)]


def _write_synced(path: Path, make: Callable[[], list[Any]]) -> None:
    """Write the buffers `make()` gives to a new file and fsync it."""
    parts = make()
    with open(path, "wb") as fh:
        for part in parts:
            fh.write(part)
        fh.flush()
        os.fsync(fh.fileno())


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _resolve(path: str | Path, what: str) -> Path:
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise InputError(f"{path}: cannot resolve {what}: {getattr(exc, 'strerror', None) or exc}") from None


def check_out_dir(
    out: str | Path, *, inputs: Iterable[str | Path] = (), protected: Iterable[tuple[str, str | Path]] = (),
) -> Path:
    """The resolved output folder, or InputError when replacing it could destroy anything but an old fold output.

    Refused: a folder that is, or contains, one of `inputs` or of `protected` ((what, path) pairs, e.g.
    ("VGOS_HOME", ...)); an existing path that is not a folder; a non-empty folder without the `MARKER` file.
    Symlinks are resolved first, so a link to a protected folder is refused like the folder.
    """
    target = _resolve(out, "--out")
    for p in inputs:
        if _inside(_resolve(p, "the input"), target):
            raise InputError(f"--out {out}: contains the input {p}; choose another output folder")
    for what, p in protected:
        if _inside(_resolve(p, what), target):
            raise InputError(f"--out {out}: contains {what} ({p}); choose another output folder")
    try:
        if target.exists():
            if not target.is_dir():
                raise InputError(f"--out {out}: exists and is not a folder")
            if not (target / MARKER).is_file() and next(target.iterdir(), None) is not None:
                raise InputError(f"--out {out}: folder is not empty and not an earlier fold output (no {MARKER}); "
                                 "refusing to replace it")
        if target.parent.is_dir():  # fail before the fold, not after it: can a folder be made here?
            os.rmdir(tempfile.mkdtemp(prefix=f".{target.name}.probe-", dir=target.parent))
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the output folder here: {exc.strerror or exc}") from None
    return target


def _fsync_path(path: Path, directory: bool) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file, then every folder (deepest first), of a freshly written tree."""
    folders = []
    for here, _dirs, files in os.walk(root):
        folders.append(Path(here))
        for name in files:
            _fsync_path(Path(here) / name, directory=False)
    for folder in reversed(folders):
        _fsync_path(folder, directory=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where the system has no such call."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(tmp: Path, out: Path, aside: Path) -> None:
    """Put `tmp` at `out`; the previous `out` (if any) ends up at `tmp` or `aside`, which the caller removes."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
    elif not _exchange(tmp, out):
        os.rename(out, aside)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(aside, out)
            raise
    _fsync_path(out.parent, directory=True)


def _remove(path: Path) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(out: Path, *, check: Callable[[Path], object] | None = None) -> Iterator[Path]:
    """Yield a temp folder beside `out`; on success it replaces `out` whole, on any failure it disappears.

    `check(out)` runs again right before the swap (the folder may have changed while the outputs were built).
    """
    out = Path(out).absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the output folder: {exc.strerror or exc}") from None
    aside = tmp.with_name(tmp.name + "-previous")
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        _fsync_tree(tmp)
        if check is not None:
            check(out)
        _swap_in(tmp, out, aside)
    finally:  # the unfinished build, or the previous output once swapped out
        _remove(tmp)
        _remove(aside)


def _normalized_parquet(result: FoldResult, path: Path) -> None:
    """normalized.parquet, synced here (its write-back overlaps the other outputs instead of delaying the swap)."""
    _make_normalized_parquet(result, path)
    _fsync_path(path, directory=False)


def _make_normalized_parquet(result: FoldResult, path: Path) -> None:
    """normalized.parquet: the fold's own file when it wrote one (hard link, else copy), else written from `kept`."""
    made = getattr(result, "normalized_file", None)
    if made is not None and Path(made).is_file():
        try:
            os.link(made, path)
        except OSError:
            shutil.copyfile(made, path)
        return
    if not getattr(result, "kept_held", True):  # a bucketed fold: the kept events are in its spooled segments
        import polars as pl

        pl.scan_parquet([s.path for s in result.input_segments]).sink_parquet(path, compression="zstd",
                                                                              statistics=False)
        return
    result.kept.write_parquet(path, compression="zstd", statistics=False)


def _early_or_synced(path: Path, early: EarlyFiles | None, name: str, make: Callable[[], list[Any]]) -> None:
    """The output file `name`: the fold's early file hard-linked in when there is one (written and synced while
    the fold hashed its input), else built and written now."""
    made = early.get(name) if early is not None else None
    if made is not None:
        try:
            os.link(made.path, path)
            return
        except OSError:
            pass  # another file system or no hard links: build and write it
    _write_synced(path, make)


def write_fold_outputs(
    result: FoldResult, out: str | Path, extra: Callable[[Path], None] | None = None, *,
    inputs: Iterable[str | Path] = (), protected: Iterable[tuple[str, str | Path]] = (),
    early: EarlyFiles | None = None,
) -> Path:
    """seal.json, output_digest, rejects.jsonl, allocations.csv, normalized.parquet (+ `extra`, e.g. transcript).

    The folder also gets `MARKER`, which lets a later fold replace it; `out` is checked (`check_out_dir`) before
    anything is written and again before the swap. `early`: the fold's `EarlyFiles` of this result, whose
    rejects.jsonl and allocations.csv are linked in instead of written again.
    """
    inputs, protected = list(inputs), list(protected)
    target = check_out_dir(out, inputs=inputs, protected=protected)
    with atomic_dir(target, check=lambda _: check_out_dir(out, inputs=inputs, protected=protected)) as tmp, \
            ThreadPoolExecutor(max_workers=5) as pool:
        # `extra` (the transcript) starts first, on its own thread; the Parquet file is the one the fold already
        # wrote beside its transcript segments, linked in (else written by polars without the GIL); the large files
        # are built and written (and synced, so the swap's fsync finds them clean) on the other threads, which
        # polars, file writes and fsync let run at once: each writes only its own files.
        jobs = [pool.submit(extra, tmp)] if extra is not None else []
        jobs += [pool.submit(_early_or_synced, tmp / "rejects.jsonl", early, REJECTS_JSONL,
                             lambda: rejects_jsonl_parts(result)),
                 pool.submit(_write_synced, tmp / "seal.json", lambda: [result.seal_bytes]),
                 pool.submit(_normalized_parquet, result, tmp / "normalized.parquet"),
                 pool.submit(_early_or_synced, tmp / "allocations.csv", early, ALLOCATIONS_CSV,
                             lambda: allocations_csv_parts(result))]
        (tmp / "output_digest").write_text(result.output_digest + "\n")
        for job in jobs:
            job.result()
        (tmp / MARKER).write_bytes(orjson.dumps({
            "schema": "vgos.fold-output/1", "window_id": result.window.window_id, "tenant_id": result.tenant_id,
            "output_digest": result.output_digest}) + b"\n")
    return target
