"""The fast output paths write exactly the bytes of the plain ones: buffers joined only by the file they are written
to (rejects, allocations.csv, transcript segments), normalized.parquet appended one segment at a time, the largest
payouts picked column-wise, and `vgos fold` parsed without importing the other command groups."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.kernel.strategies import WINDOW, window_records
from tests.kernel.writers import write
from vgos import segment_parquet
from vgos.fold import fold_files
from vgos.outputs import _allocations_csv_writer, allocations_csv, allocations_csv_parts, rejects_jsonl
from vgos.parquet_concat import (
    Concatenation,
    LenientConcatenation,
    ParquetConcatError,
    _footer,
    _read_footer,
    concat_files,
)
from vgos.policy import load_policy
from vgos.rejects import RejectLog
from vgos.report import _largest
from vgos.seal import Allocation
from vgos.storage import LocalBlobStore, WriteOnceViolation
from vgos.transcript import _reject_entries, rejects_bytes, rejects_parts, rejects_segment_bytes, write_transcript

POLICY = load_policy(None)
NAMES = ["events", 'q"uote', "back\\slash", "co:lon", "é😀"]


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=window_records(max_size=30), fmt=st.sampled_from(["jsonl", "csv", "parquet"]),
       name=st.sampled_from(NAMES))
def test_one_input_file_rejects_are_the_per_object_bytes(records: list[dict[str, Any]], fmt: str,
                                                         name: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        result = fold_files([write(Path(d) / name, fmt, records)], WINDOW, POLICY)
    objects = list(result.rejects)
    plain = type("R", (), {"rejects": objects})()
    assert rejects_jsonl(result) == rejects_jsonl(plain)
    assert rejects_bytes(result.rejects) == rejects_segment_bytes(_reject_entries(objects))
    assert b"".join(rejects_parts(result.rejects)) == rejects_bytes(result.rejects)


def test_event_ids_that_are_null_or_need_escaping() -> None:
    frame = pl.DataFrame({"event_id": ["plain", None, 'q"uote', "back\\slash", "tab\t"], "_file": [0] * 5,
                          "_line": [1, 2, 3, 4, 5], "_reason": [0, 1, 2, 0, 1]},
                         schema={"event_id": pl.String, "_file": pl.Int32, "_line": pl.Int64, "_reason": pl.UInt8})
    for sources in (["d/one.jsonl"], ["d/one.jsonl", "two.csv"]):
        log = RejectLog(frame, sources, [])
        objects = list(log)
        assert log.jsonl_bytes() == b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in objects)
        assert log.transcript_bytes() == rejects_segment_bytes(_reject_entries(objects))


@settings(max_examples=examples(40), deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["e1", "e2", 'q"', None]), st.integers(0, 1), st.integers(1, 60),
                               st.integers(0, 3)), max_size=40, unique_by=lambda r: (r[1], r[2])),
       cuts=st.lists(st.integers(0, 40), max_size=3), reads=st.lists(st.integers(1, 60), max_size=3, unique=True))
def test_a_log_of_unsorted_frames_is_the_log_of_their_sorted_concatenation(
        rows: list[tuple[Any, int, int, int]], cuts: list[int], reads: list[int]) -> None:
    """The fold hands its reject frames over unsorted (they are sorted when first read in order): every reader sees
    what the sorted frame gives, and counts and length come without sorting."""
    from vgos.events import Reject

    schema = {"event_id": pl.String, "_file": pl.Int32, "_line": pl.Int64, "_reason": pl.UInt8}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    bounds = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    frames = [frame.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)][::-1]
    read_time = [(0, line, Reject(f"r{line}", "SCHEMA_INVALID", f"a.csv:{line}", "amount_minor", "x"))
                 for line in reads]
    sources = ["a.csv", "b.csv"]
    lazy, plain = RejectLog(frames, sources, read_time), RejectLog(frame.sort(["_file", "_line"]), sources, read_time)
    assert len(lazy) == len(plain) and lazy.by_reason() == plain.by_reason()
    assert lazy._sorted is None  # length and counts did not sort
    assert lazy.jsonl_bytes() == plain.jsonl_bytes() and lazy.transcript_bytes() == plain.transcript_bytes()
    assert list(lazy) == list(plain)


def test_a_log_read_from_several_threads_agrees_with_the_sorted_log() -> None:
    """The rejects are read by the early-files thread and others at once: every reader sees the sorted log."""
    from concurrent.futures import ThreadPoolExecutor

    schema = {"event_id": pl.String, "_file": pl.Int32, "_line": pl.Int64, "_reason": pl.UInt8}
    frames = [pl.DataFrame({"event_id": [f"e{i}" for i in range(k, 3000, 3)], "_file": 0,
                            "_line": list(range(k, 3000, 3)), "_reason": k}, schema=schema) for k in range(3)]
    plain = RejectLog(pl.concat(frames).sort(["_file", "_line"]), ["a.csv"], [])
    expected = [plain.jsonl_bytes(), plain.transcript_bytes(), len(plain), plain.by_reason()]
    for _ in range(20):
        log = RejectLog(list(frames), ["a.csv"], [])
        readers = [log.jsonl_bytes, log.transcript_bytes, log.__len__, log.by_reason]
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(lambda read: read(), readers)) == expected


def test_an_empty_log() -> None:
    log = RejectLog([], ["a.csv"], [])
    assert len(log) == 0 and log.by_reason() == {} and list(log) == [] and log.jsonl_bytes() == b""


def test_allocations_csv_parts_are_the_csv_writer_bytes(tmp_path: Path) -> None:
    from tests.transcript.conftest import SEED_EVENTS

    result = fold_files([SEED_EVENTS], WINDOW, POLICY)
    assert b"".join(allocations_csv_parts(result)) == allocations_csv(result) == _allocations_csv_writer(result)


@settings(max_examples=examples(60), deadline=None)
@given(payouts=st.lists(st.integers(-3, 3), max_size=40), n=st.integers(0, 45))
def test_largest_from_columns_is_the_sorted_prefix(payouts: list[int], n: int) -> None:
    allocs = [Allocation(f"p{i:03d}", 1, p, 0, 0, 0, p) for i, p in enumerate(payouts)]
    frame = pl.DataFrame({"principal_id": [a.principal_id for a in allocs], "payout_minor": payouts},
                         schema={"principal_id": pl.String, "payout_minor": pl.Int64})
    expected = sorted(allocs, key=lambda a: (-a.payout_minor, a.principal_id))[:n]
    assert _largest(allocs, n, frame) == _largest(allocs, n) == expected


# ---------------------------------------------------------------- normalized.parquet one segment at a time


def _segments(folder: Path, n: int = 3) -> tuple[list[Path], pl.DataFrame]:
    from tests.transcript.conftest import SEED_EVENTS

    kept = fold_files([SEED_EVENTS], WINDOW, POLICY).kept
    step = -(-kept.height // n)
    parts = []
    for i in range(0, kept.height, step):
        parts.append(folder / f"{i}.parquet")
        parts[-1].write_bytes(segment_parquet.encode(kept.slice(i, step).select(list(segment_parquet.COLUMNS))))
    return parts, kept.select(list(segment_parquet.COLUMNS))


def test_appending_one_segment_at_a_time_is_the_concatenation(tmp_path: Path) -> None:
    parts, kept = _segments(tmp_path)
    concat_files(parts, tmp_path / "all.parquet")
    joined = Concatenation(tmp_path / "one_by_one.parquet")
    for part in parts:
        joined.add(part)
    assert joined.close() == kept.height
    assert (tmp_path / "one_by_one.parquet").read_bytes() == (tmp_path / "all.parquet").read_bytes()
    assert pl.read_parquet(tmp_path / "all.parquet").equals(kept)
    for part in parts:
        with open(part, "rb") as fh:
            assert _read_footer(fh.fileno()) == _footer(part.read_bytes())


def test_a_lenient_concatenation_gives_up_and_leaves_nothing(tmp_path: Path) -> None:
    parts, _kept = _segments(tmp_path)
    other = tmp_path / "other.parquet"
    pl.DataFrame({"x": [1]}).write_parquet(other)
    out = tmp_path / "out.parquet"
    joined = LenientConcatenation(out)
    joined.add(parts[0])
    joined.add(other)
    joined.add(parts[1])
    assert joined.close() is None and not out.exists()
    ok = LenientConcatenation(out)
    for part in parts:
        ok.add(part)
    assert ok.close() == out and out.is_file()
    ok.abort()  # nothing to undo once closed
    assert out.is_file()
    with pytest.raises(ParquetConcatError):
        Concatenation(tmp_path / "empty.parquet").close()


def _spooled(kept: pl.DataFrame, folder: Path, n: int = 4) -> list[tuple[list[Any], pl.DataFrame]]:
    from vgos.canonical_rows import _row_bytes

    step = -(-kept.height // n)
    return [(_row_bytes(c, None), c) for c in (kept.slice(i, step) for i in range(0, kept.height, step))]


def test_the_spool_appends_and_syncs_normalized_parquet_as_segments_arrive(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Each v2 segment is appended to normalized.parquet while later ones are still coming, and the file is
    fdatasynced as it grows (the outputs' final fsync then has little left to write); the bytes are those of
    concatenating the finished segments."""
    import os

    from vgos import canonical_rows

    _parts, kept = _segments(tmp_path)
    chunks = _spooled(kept, tmp_path)
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1])
    monkeypatch.setattr(canonical_rows._SegmentSpool, "_SYNC_EVERY", 1)
    spool = tmp_path / "spool"
    spool.mkdir()
    writer = canonical_rows._SegmentSpool(spool, "parquet")
    out = spool / "normalized.parquet"
    for i, (bufs, chunk) in enumerate(chunks[:-1]):
        writer.stored(writer.store(i, bufs, chunk))
    for j in writer._joins:  # appended before the last segment even exists
        j.result()
    assert out.stat().st_size > 0 and len(synced) == len(chunks) - 1
    writer.add(*chunks[-1])
    segments = writer.finish()
    assert writer.output == out and len(segments) == len(chunks)
    concat_files([s.path for s in segments], tmp_path / "all.parquet")
    assert out.read_bytes() == (tmp_path / "all.parquet").read_bytes()
    assert pl.read_parquet(out).equals(kept)


def test_the_growing_sync_falls_back_to_fsync_without_fdatasync(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS has no os.fdatasync: the sync of the growing normalized.parquet is then an fsync, not a crash."""
    import os

    parts, kept = _segments(tmp_path)
    synced: list[int] = []
    monkeypatch.delattr(os, "fdatasync", raising=False)
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    joined = Concatenation(tmp_path / "out.parquet")
    joined.add(parts[0])
    joined.sync()
    for part in parts[1:]:
        joined.add(part)
    joined.close()
    assert synced and pl.read_parquet(tmp_path / "out.parquet").equals(kept)


def test_a_failed_segment_leaves_no_normalized_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vgos import canonical_rows

    _parts, kept = _segments(tmp_path)
    chunks = _spooled(kept, tmp_path)
    spool = tmp_path / "spool"
    spool.mkdir()
    writer = canonical_rows._SegmentSpool(spool, "parquet")
    writer.add(*chunks[0])
    real = canonical_rows._SegmentSpool.store

    def broken(self: Any, i: int, bufs: list[Any], chunk: pl.DataFrame) -> Any:
        if i == 1:
            raise OSError("disk full")
        return real(self, i, bufs, chunk)

    monkeypatch.setattr(canonical_rows._SegmentSpool, "store", broken)
    writer.add(*chunks[1])
    writer.add(*chunks[2])
    with pytest.raises(OSError, match="disk full"):
        writer.finish()
    assert not (spool / "normalized.parquet").exists() and writer.output is None


# ---------------------------------------------------------------- transcript segments written from buffers


class _DictStore:
    """A store that is not a folder: segments go through `put` with joined bytes."""

    root = "mem://t"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, *, write_once: bool = True) -> str:
        if write_once and key in self.objects and self.objects[key] != data:
            raise WriteOnceViolation(key)
        self.objects[key] = bytes(data)
        return key

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def exists(self, key: str) -> bool:
        return key in self.objects

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def url(self, key: str) -> str:
        return key

    def fingerprint(self, key: str) -> str:
        return key


def test_segments_from_buffers_are_the_same_objects_in_any_store(tmp_path: Path, vgos_home: Path) -> None:
    from tests.transcript.conftest import SEED_EVENTS
    from vgos.signing import load_signer

    result = fold_files([SEED_EVENTS], WINDOW, POLICY)
    signer = load_signer()
    local = LocalBlobStore(str(tmp_path / "t"))
    ref = write_transcript(result, local, "", signer)
    files = {p.relative_to(tmp_path / "t").as_posix(): p.read_bytes() for p in (tmp_path / "t").rglob("*")
             if p.is_file()}
    assert not [k for k in files if k.rsplit("/", 1)[-1].startswith(".")]  # no temp file left
    mem = _DictStore()
    assert write_transcript(result, mem, "", signer).transcript_root == ref.transcript_root
    assert {k: v for k, v in mem.objects.items() if k != "checkpoint"} == \
        {k: v for k, v in files.items() if k != "checkpoint"}
    assert write_transcript(result, local, "", signer) == ref  # idempotent for equal content
    index = orjson.loads(files["index.json"])
    seal = next(e for e in index["segments"] if e["kind"] == "seal")
    target = tmp_path / "t" / "segments" / seal["sha256"]
    target.chmod(0o644)
    target.write_bytes(b"not the seal")
    with pytest.raises(WriteOnceViolation):
        write_transcript(result, local, "", signer)


def test_fold_parses_without_the_other_command_groups() -> None:
    import vgos_app.cli as cli

    def run(parser_registered: bool, argv: list[str]) -> tuple[str, str, int]:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.build_parser(registered=parser_registered).parse_args(argv)
            except SystemExit as exc:
                code = int(exc.code or 0)
        return out.getvalue(), err.getvalue(), code

    for argv in (["fold", "--help"], ["fold"], ["fold", "--events", "x", "--window-id", "w", "--out", "o", "-z"]):
        assert run(False, argv) == run(True, argv)
    assert not cli._registered_needed(["fold", "--events", "x"])
    assert cli._registered_needed(["verify", "x"]) and cli._registered_needed([])


def test_the_fold_command_ends_at_once_with_its_outputs_and_report(tmp_path: Path, vgos_home: Path) -> None:
    import os
    import subprocess
    import sys

    import vgos_app.cli as cli
    from tests.transcript.conftest import SEED_EVENTS

    assert not cli._standalone()  # called in-process (here), the command returns as before
    out = tmp_path / "out"
    argv = [str(Path(sys.executable).parent / "vgos"), "fold", "--events", str(SEED_EVENTS), "--window-id", WINDOW,
            "--out", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("transcript/)") and "output_digest " in proc.stdout
    assert (out / "output_digest").read_text().strip() in proc.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # spool and temp folders removed
    verify = subprocess.run([argv[0], "verify", str(out / "transcript")], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ))
    assert verify.returncode == 0, verify.stderr
