"""Byte equality of the bucketed fold (`vgos.buckets`) with the one-bucket fold and the reference.

On random windows (hypothesis) in one to three files of mixed formats, with duplicates and conflicts that straddle
buckets, many records on the same timestamp (so bucket edges fall on ties), out-of-window and schema-invalid
records and prior-window matches, forced small buckets (1–7 records), small read slices and small transcript
chunks give the same seal bytes, digests, rejects (rejects.jsonl and the transcript segment, in order),
allocations.csv, normalized rows, transcript leaves and root, and the same transcript folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vgos.buckets as buckets
import vgos.transcript as transcript
from tests.examples import examples
from tests.kernel.strategies import CUTOFF, EVENT_IDS, WINDOW, _fmt_ts, record
from tests.kernel.writers import write
from vgos.errors import InputError
from vgos.fold import fold_files, fold_reference
from vgos.outputs import allocations_csv, rejects_jsonl
from vgos.policy import load_policy
from vgos.seal import FoldRangeError
from vgos.signing import Ed25519FileSigner
from vgos.storage import open_store
from vgos.transcript import build_segments, merkle_root, rejects_bytes, write_transcript

POLICY = load_policy(None)
SETTINGS = settings(max_examples=examples(60), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# A few instants (in, at the edges of and outside the window) that many records share, so ties cross bucket edges.
TIES = [CUTOFF - dt.timedelta(hours=h, microseconds=m)
        for h, m in ((1, 0), (1, 0), (3, 500000), (0, 0), (24, 0), (-1, 0))]


@st.composite
def windows(draw: st.DrawFn) -> tuple[list[tuple[str, list[dict[str, Any]]]], dict[str, str]]:
    """One to three files (format, records) and a prior-window mapping."""
    recs = draw(st.lists(record(), min_size=0, max_size=36))
    for r in recs:
        if draw(st.integers(0, 2)) == 0:  # a shared instant, written in one of three styles
            r["ts_occurred"] = _fmt_ts(draw(st.sampled_from(TIES)), draw(st.integers(0, 2)))
    copies = draw(st.lists(st.integers(0, max(len(recs) - 1, 0)), max_size=6)) if recs else []
    recs = recs + [dict(recs[i]) for i in copies]
    order = draw(st.permutations(range(len(recs))))
    recs = [recs[i] for i in order]
    n_files = draw(st.integers(1, 3))
    cuts = sorted(draw(st.lists(st.integers(0, len(recs)), min_size=n_files - 1, max_size=n_files - 1)))
    bounds = [0, *cuts, len(recs)]
    files = [(draw(st.sampled_from(["jsonl", "csv", "parquet"])), recs[a:b])
             for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    matched = draw(st.lists(st.sampled_from(EVENT_IDS), max_size=2, unique=True))
    return files, {e: "2025-09-20" for e in matched}


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Ed25519FileSigner:
    return Ed25519FileSigner(tmp_path_factory.mktemp("key") / "ed25519.pem")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _normalized(result: Any) -> pl.DataFrame:
    if result.normalized_file is not None:
        return pl.read_parquet(result.normalized_file)
    return result.kept


def window_files(root: Path, files: list[tuple[str, list[dict[str, Any]]]]) -> tuple[list[Path], Path, Path]:
    """The window's event files written under root, and two empty spool folders."""
    paths = [write(root / f"events{i}", fmt, recs) for i, (fmt, recs) in enumerate(files)]
    spools = root / "s1", root / "s2"
    for s in spools:
        s.mkdir()
    return paths, *spools


def _root(result: Any) -> bytes:
    return merkle_root([hashlib.sha256(data).digest() for _, _, data in build_segments(result)])


@SETTINGS
@given(window=windows(), size=st.integers(1, 7), slice_rows=st.sampled_from([1, 2, 5, 1_000_000]),
       chunk=st.sampled_from([1, 2, 3, 100_000]), use_prior=st.booleans())
def test_bucketed_fold_equals_one_bucket_and_reference(
    window: tuple[list[tuple[str, list[dict[str, Any]]]], dict[str, str]], size: int, slice_rows: int,
    chunk: int, use_prior: bool, signer: Ed25519FileSigner,
) -> None:
    files, prior_map = window
    prior = prior_map if use_prior else None
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(transcript, "CHUNK_EVENTS", chunk)
        mp.setattr(buckets, "SLICE_EVENTS", slice_rows)
        root = Path(d)
        paths, s1, s2 = window_files(root, files)
        one = fold_files(paths, WINDOW, POLICY, prior=prior, spool=s1, bucket_events=0)
        many = buckets.fold_files_bucketed(paths, WINDOW, POLICY, prior=prior, spool=s2, bucket_events=size)
        ref = fold_reference(paths, WINDOW, POLICY, prior=prior)
        assert many.seal_bytes == one.seal_bytes == ref.seal_bytes
        assert many.output_digest == one.output_digest == ref.output_digest
        assert many.input_digest == one.input_digest == ref.input_digest
        assert many.prior == one.prior == ref.prior
        assert many.input_files == one.input_files == ref.input_files
        assert rejects_jsonl(many) == rejects_jsonl(one)
        assert rejects_bytes(many.rejects) == rejects_bytes(one.rejects)
        # The reference words some SCHEMA_INVALID details of CSV/Parquet timestamps otherwise (a known, older
        # difference of the fast reader): the rest of every reject, and the order, are the same.
        assert [(r.event_id, r.reason, r.source, r.field) for r in many.rejects] == \
            [(r.event_id, r.reason, r.source, r.field) for r in ref.rejects]
        assert many.rejects_by_reason() == one.rejects_by_reason()
        assert allocations_csv(many) == allocations_csv(one) == allocations_csv(ref)
        assert many.allocations == one.allocations == ref.allocations
        assert _normalized(many).equals(_normalized(one)) and _normalized(one).equals(ref.kept)
        assert [(s.sha256, s.size, s.rows) for s in many.input_segments] == \
            [(s.sha256, s.size, s.rows) for s in one.input_segments]
        assert build_segments(many) == build_segments(one) == build_segments(ref)
        assert _root(many) == _root(one) == _root(ref)
        a, b = root / "a", root / "b"
        write_transcript(one, open_store(str(a)), "transcript", signer)
        write_transcript(many, open_store(str(b)), "transcript", signer)
        assert _tree(a) == _tree(b)
        assert not [p for p in s2.iterdir() if p.name.startswith("buckets-")]  # the runs are cleaned up


def test_bucket_edges_never_split_a_timestamp() -> None:
    ts = np.array([5, 1, 1, 1, 1, 2, 9, 9, 3], dtype=np.int64)
    for size in range(1, 10):
        edges = buckets.bucket_edges(ts, size)
        assert list(edges) == sorted(set(edges)) and edges[0] == 1
        ids = np.searchsorted(edges, ts, side="right") - 1
        for t in set(ts.tolist()):
            assert len(set(ids[ts == t].tolist())) == 1
    assert buckets.bucket_edges(np.zeros(0, dtype=np.int64), 3).size == 0


def test_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(buckets.BUCKET_ENV, raising=False)
    assert buckets.bucket_events_setting() == (buckets.DEFAULT_THRESHOLD, buckets.DEFAULT_BUCKET_EVENTS)
    assert buckets.bucket_events_setting(5) == (5, 5)
    assert buckets.bucket_events_setting(0) is None
    monkeypatch.setenv(buckets.BUCKET_ENV, "7")
    assert buckets.bucket_events_setting() == (7, 7)
    monkeypatch.setenv(buckets.BUCKET_ENV, "0")
    assert buckets.bucket_events_setting() is None
    monkeypatch.setenv(buckets.BUCKET_ENV, "many")
    with pytest.raises(InputError):
        buckets.bucket_events_setting()


def test_fold_files_takes_the_bucketed_path_by_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = [{"event_id": f"e{i}", "ts_occurred": f"2025-09-23T1{i % 10}:00:00Z", "principal_id": f"P{i % 3}",
             "amount_minor": 100 + i, "source_type": "earning"} for i in range(30)]
    path = write(tmp_path / "events", "parquet", recs)
    (tmp_path / "s").mkdir()
    monkeypatch.setenv(buckets.BUCKET_ENV, "4")
    many = fold_files([path], WINDOW, POLICY, spool=tmp_path / "s")
    assert not many.kept_held and many.kept.height == 0
    monkeypatch.delenv(buckets.BUCKET_ENV)
    one = fold_files([path], WINDOW, POLICY, spool=tmp_path / "s")
    assert one.kept_held and one.seal_bytes == many.seal_bytes
    assert fold_files([path], WINDOW, POLICY).kept_held  # no spool: always one bucket


def test_vgos_fold_command_in_small_buckets_writes_the_same_folder(tmp_path: Path) -> None:
    """The installed `vgos fold`, default vs VGOS_FOLD_BUCKET_EVENTS=7: the same output folder, file for file
    (seal, digest, rejects, allocations, normalized.parquet, the signed transcript), and the same summary."""
    import os
    import subprocess
    import sys

    import orjson

    recs = []
    for i in range(400):
        ts = f"2025-09-2{2 + i % 3}T{(i * 7) % 24:02d}:{(i * 13) % 60:02d}:00Z" if i % 5 else "2025-09-23T12:00:00Z"
        recs.append({"event_id": f"e{i % 350}", "ts_occurred": ts, "principal_id": f"P{i % 17}",
                     "amount_minor": 1000 + (i * 37) % 5000 - (0 if i < 350 else i % 2), "source_type": "earning"})
    recs.append({"event_id": "bad", "ts_occurred": "2025-09-23 10:00", "principal_id": "P",
                 "amount_minor": 1, "source_type": "earning"})
    first = write(tmp_path / "a", "parquet", recs[:250])
    second = tmp_path / "b.jsonl"
    second.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs[250:] + recs[40:60]))
    vgos = str(Path(sys.executable).parent / "vgos")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VGOS_")}
    env.update(VGOS_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(tmp_path))
    outs = {}
    for name, extra in (("default", {}), ("buckets", {buckets.BUCKET_ENV: "7"})):
        out = tmp_path / name
        proc = subprocess.run([vgos, "fold", "--window-id", WINDOW, "--events", str(first), "--events", str(second),
                               "--out", str(out)], capture_output=True, text=True, env={**env, **extra},
                              check=False, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs[name] = (proc.stdout.replace(str(out), "OUT"), _tree(out))
    assert outs["default"][0] == outs["buckets"][0]
    assert outs["default"][1] == outs["buckets"][1]
    assert "transcript/checkpoint" in outs["default"][1]


def test_outputs_of_a_bucketed_result_without_its_parquet_file(tmp_path: Path) -> None:
    """normalized.parquet and a v1 transcript's input chunks come from the spooled segments when the fold's own
    file is missing (a bucketed result holds no kept events)."""
    from dataclasses import replace

    from vgos.outputs import _normalized_parquet

    recs = [{"event_id": f"e{i % 40}", "ts_occurred": f"2025-09-23T1{i % 7}:00:00Z", "principal_id": f"P{i % 3}",
             "amount_minor": 10 + i, "source_type": "earning"} for i in range(60)]
    path = write(tmp_path / "events", "csv", recs)
    (tmp_path / "s1").mkdir()
    (tmp_path / "s2").mkdir()
    one = fold_files([path], WINDOW, POLICY, spool=tmp_path / "s1", bucket_events=0)
    many = buckets.fold_files_bucketed([path], WINDOW, POLICY, spool=tmp_path / "s2", bucket_events=3)
    assert not many.kept_held and many.normalized_file is not None
    _normalized_parquet(replace(many, normalized_file=None), tmp_path / "n.parquet")
    assert pl.read_parquet(tmp_path / "n.parquet").equals(one.kept)
    assert build_segments(many, 7) == build_segments(one, 7)


def test_exact_fallback_when_int64_could_wrap(tmp_path: Path) -> None:
    """Amounts near 2^53 in more than 1,024 events: both folds leave Int64 for the exact path, same bytes."""
    big = 2**53 - 1
    recs = [{"event_id": f"e{i:05d}", "ts_occurred": f"2025-09-23T1{i % 10}:00:{i % 60:02d}Z",
             "principal_id": f"P{(i // 2) % 2}", "amount_minor": big if i % 2 == 0 else -big + (i % 5),
             "source_type": "earning"} for i in range(1_200)]
    path = write(tmp_path / "events", "parquet", recs)
    (tmp_path / "s1").mkdir()
    (tmp_path / "s2").mkdir()
    one = fold_files([path], WINDOW, POLICY, spool=tmp_path / "s1", bucket_events=0)
    many = buckets.fold_files_bucketed([path], WINDOW, POLICY, spool=tmp_path / "s2", bucket_events=100)
    assert many.seal_bytes == one.seal_bytes and many.allocations == one.allocations
    assert allocations_csv(many) == allocations_csv(one)
    over = write(tmp_path / "over", "parquet", [{**r, "amount_minor": big} for r in recs])  # nets leave 2^53
    errors = []
    for fold in (lambda: fold_files([over], WINDOW, POLICY, spool=tmp_path / "s1", bucket_events=0),
                 lambda: buckets.fold_files_bucketed([over], WINDOW, POLICY, spool=tmp_path / "s2",
                                                     bucket_events=100)):
        with pytest.raises(FoldRangeError) as exc:
            fold()
        errors.append(str(exc.value))
    assert errors[0] == errors[1]
