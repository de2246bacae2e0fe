"""Transcript format v2 (docs/transcript.md): the normalized input stored as strict Parquet segments.

- v1 and v2 transcripts of the same window have the same Merkle root and both verify and replay (random windows);
- a v1 transcript written by the v1 writer (today's code path, `version=1`) still verifies;
- a v2 Parquet segment that is tampered and re-signed by the trusted key (so every hash the index signs is
  consistent) fails with a named reason: a changed value, reordered rows, an extra column, a wrong type, a nullable
  column, a null, a truncated file, another row count; through `vgos verify` (exit 1) and the installed command.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vgos.transcript as transcript
from tests.examples import examples
from tests.kernel.strategies import WINDOW, window_records
from tests.kernel.writers import write
from tests.transcript.conftest import SEED_EVENTS, SEED_WINDOW
from vgos import segment_parquet
from vgos.canonical import jcs_bytes, sha256_hex
from vgos.fold import fold_files, fold_reference
from vgos.policy import load_policy
from vgos.replay import replay_transcript, verify_transcript
from vgos.signing import Ed25519FileSigner, load_signer
from vgos.storage import open_store
from vgos.transcript import merkle_root, read_index, read_segment, sign_note, write_transcript
from vgos.trust import trusted_keys

POLICY = load_policy(None)
VGOS = str(Path(sys.executable).parent / "vgos")
SETTINGS = settings(max_examples=examples(30), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Ed25519FileSigner:
    """One Ed25519 key for the module."""
    return Ed25519FileSigner(tmp_path_factory.mktemp("key") / "ed25519.pem")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@SETTINGS
@given(records=window_records(max_size=30), fmt=st.sampled_from(["jsonl", "csv", "parquet"]),
       chunk=st.sampled_from([1, 2, 3, 100_000]), spooled=st.booleans())
def test_v1_and_v2_have_the_same_root_and_both_verify(records: list[dict[str, Any]], fmt: str, chunk: int,
                                                      spooled: bool, signer: Ed25519FileSigner) -> None:
    trusted = trusted_keys([signer.public_key_pem()])
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(transcript, "CHUNK_EVENTS", chunk)
        spool = Path(d) / "spool"
        spool.mkdir()
        events = write(Path(d) / "events", fmt, records)
        result = fold_files([events], WINDOW, POLICY, spool=spool if spooled else None)
        ref = fold_reference([events], WINDOW, POLICY)
        assert (result.seal_bytes, result.input_digest) == (ref.seal_bytes, ref.input_digest)
        v1 = write_transcript(result, open_store(str(Path(d) / "v1")), "transcript", signer, version=1)
        v2 = write_transcript(result, open_store(str(Path(d) / "v2")), "transcript", signer)
        v2r = write_transcript(ref, open_store(str(Path(d) / "v2r")), "transcript", signer)
        assert v1.transcript_root == v2.transcript_root == v2r.transcript_root
        assert _tree(Path(d) / "v2") == _tree(Path(d) / "v2r")  # spooled or built from `kept`: the same bytes
        for r in (v1, v2):
            report = verify_transcript(r.url, trusted=trusted)
            assert report.ok, report.line()
            assert replay_transcript(r.url).ok
        i1, i2 = read_index(open_store(v1.url)), read_index(open_store(v2.url))
        assert (i1["schema"], i2["schema"]) == ("vgos.transcript/1", "vgos.transcript/2")
        s1 = {e["name"]: e for e in i1["segments"]}
        for e in i2["segments"]:
            assert {k: e[k] for k in ("name", "kind", "sha256", "size")} == s1[e["name"]]
            assert ("encoding" in e) == (e["kind"] == "normalized_input")
            # the decoded Parquet chunk gives exactly the leaf bytes of the v1 segment
            assert read_segment(open_store(v2.url), e) == read_segment(open_store(v1.url), s1[e["name"]])


def test_a_v1_transcript_still_verifies_and_replays(vgos_home: Path, tmp_path: Path) -> None:
    """A v1 transcript (what the CLI wrote before v2: JSON input segments, schema vgos.transcript/1) verifies."""
    result = fold_files([SEED_EVENTS], SEED_WINDOW, POLICY)
    ref = write_transcript(result, open_store(str(tmp_path / "out")), "transcript", load_signer(), version=1)
    index = read_index(open_store(ref.url))
    assert index["schema"] == "vgos.transcript/1"
    assert not any("encoding" in e for e in index["segments"])
    assert (tmp_path / "out/transcript/segments" / result.input_digest).is_file()
    from vgos_app.cli import main

    assert main(["verify", str(tmp_path / "out")]) == 0
    assert replay_transcript(ref.url).ok


# What VGOS wrote into v2 segments before 2026-12 (DELTA_BYTE_ARRAY strings, nothing compressed).
EARLIER_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "none", "write_statistics": False, "use_dictionary": ["source_type", "currency"],
    "column_encoding": {"event_id": "DELTA_BYTE_ARRAY", "ts_occurred": "DELTA_BYTE_ARRAY",
                        "amount_minor": "DELTA_BINARY_PACKED"},
}


def test_a_v2_transcript_of_the_earlier_encoder_still_verifies_and_replays(
        vgos_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The segment encoder's settings changed (PLAIN + LZ4_RAW strings); transcripts written before still verify
    and replay, with the same root: only the stored objects differ."""
    from vgos_app.cli import main

    result = fold_files([SEED_EVENTS], SEED_WINDOW, POLICY)
    now = write_transcript(result, open_store(str(tmp_path / "now")), "transcript", load_signer())
    with monkeypatch.context() as mp:
        mp.setattr(segment_parquet, "WRITE_OPTIONS", EARLIER_WRITE_OPTIONS)
        before = write_transcript(result, open_store(str(tmp_path / "before")), "transcript", load_signer())
    assert before.transcript_root == now.transcript_root
    stored = {e["stored_sha256"] for e in read_index(open_store(before.url))["segments"] if "encoding" in e}
    assert stored and stored.isdisjoint(e.get("stored_sha256") for e in read_index(open_store(now.url))["segments"])
    data = next((tmp_path / "before/transcript/segments").glob(next(iter(stored))))
    meta = pq.ParquetFile(data).metadata.row_group(0)
    assert "DELTA_BYTE_ARRAY" in meta.column(0).encodings and meta.column(0).compression == "UNCOMPRESSED"
    assert main(["verify", str(tmp_path / "before")]) == 0
    assert replay_transcript(before.url).ok


def test_rewriting_a_window_stored_by_the_earlier_encoder_keeps_it(vgos_home: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-publishing a window (a retry) after the encoder changed finds the earlier transcript at its write-once
    place: the same window, digests and root, other stored objects. It is kept, not refused; a transcript that
    differs in anything else still is."""
    from vgos.storage import WriteOnceViolation

    result = fold_files([SEED_EVENTS], SEED_WINDOW, POLICY)
    store = open_store(str(tmp_path / "art"))
    with monkeypatch.context() as mp:
        mp.setattr(segment_parquet, "WRITE_OPTIONS", EARLIER_WRITE_OPTIONS)
        before = write_transcript(result, store, "w", load_signer())
    index = (tmp_path / "art/w/index.json").read_bytes()
    checkpoint = (tmp_path / "art/w/checkpoint").read_bytes()
    again = write_transcript(result, store, "w", load_signer())
    assert again == before
    assert (tmp_path / "art/w/index.json").read_bytes() == index
    assert (tmp_path / "art/w/checkpoint").read_bytes() == checkpoint
    from vgos_app.cli import main

    assert main(["verify", str(tmp_path / "art/w")]) == 0
    from dataclasses import replace

    other = fold_files([SEED_EVENTS], SEED_WINDOW, replace(POLICY, bonus_ppm=POLICY.bonus_ppm + 1))
    with pytest.raises(WriteOnceViolation):
        write_transcript(other, store, "w", load_signer())


# ------------------------------------------------------------------------------------------------- forgeries


def _table(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def _parquet(table: pa.Table, **kw: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, store_schema=False, **kw)
    return sink.getvalue()


def _changed_value(data: bytes) -> bytes:
    t = _table(data)
    amounts = t.column("amount_minor").to_pylist()
    amounts[0] += 1
    return segment_parquet.encode(t.set_column(3, segment_parquet.ARROW_SCHEMA.field(3), pa.array(amounts)))


def _reordered(data: bytes) -> bytes:
    t = _table(data)
    return segment_parquet.encode(t.take(list(reversed(range(t.num_rows)))))


def _extra_column(data: bytes) -> bytes:
    t = _table(data)
    return _parquet(t.append_column(pa.field("note", pa.string(), nullable=False), pa.array(["x"] * t.num_rows)))


def _wrong_type(data: bytes) -> bytes:
    t = _table(data)
    col = pa.array([str(v) for v in t.column("amount_minor").to_pylist()])
    return _parquet(t.set_column(3, pa.field("amount_minor", pa.string(), nullable=False), col))


def _int32(data: bytes) -> bytes:
    t = _table(data)
    return _parquet(t.set_column(3, pa.field("amount_minor", pa.int32(), nullable=False),
                                 t.column("amount_minor").cast(pa.int32())))


def _nullable(data: bytes) -> bytes:
    t = _table(data)
    return _parquet(t.cast(pa.schema([f.with_nullable(True) for f in t.schema])))


def _null_value(data: bytes) -> bytes:
    t = _table(data)
    t = t.cast(pa.schema([f.with_nullable(True) for f in t.schema]))
    ids = t.column("principal_id").to_pylist()
    ids[0] = None
    return _parquet(t.set_column(2, pa.field("principal_id", pa.string()), pa.array(ids, pa.string())))


def _renamed(data: bytes) -> bytes:
    t = _table(data)
    return _parquet(t.rename_columns(["event_id", "ts", "principal_id", "amount_minor", "source_type", "currency"]))


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _not_parquet(data: bytes) -> bytes:
    return b'[{"amount_minor":1}]'


FORGERIES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "changed value": (_changed_value, "SEGMENT_HASH_MISMATCH"),
    "reordered rows": (_reordered, "SEGMENT_HASH_MISMATCH"),
    "extra column": (_extra_column, "SEGMENT_SCHEMA_MISMATCH"),
    "wrong type": (_wrong_type, "SEGMENT_SCHEMA_MISMATCH"),
    "int32 amount": (_int32, "SEGMENT_SCHEMA_MISMATCH"),
    "nullable columns": (_nullable, "SEGMENT_SCHEMA_MISMATCH"),
    "null value": (_null_value, "SEGMENT_SCHEMA_MISMATCH"),
    "renamed column": (_renamed, "SEGMENT_SCHEMA_MISMATCH"),
    "truncated file": (_truncated, "SEGMENT_MALFORMED"),
    "not parquet": (_not_parquet, "SEGMENT_MALFORMED"),
}


def _forge(src: Path, dst: Path, change: Callable[[bytes], bytes], signer: Any, *,
           entry_edit: Callable[[dict], None] | None = None) -> Path:
    """Copy a v2 transcript, replace its first Parquet input segment by `change(bytes)`, and make the index (stored
    hash and size), root and checkpoint consistent, signed by `signer` (the trusted key): only the decoder and the
    leaf check stand between the forgery and VERIFIED."""
    shutil.copytree(src, dst)
    index = orjson.loads((src / "index.json").read_bytes())
    e = next(e for e in index["segments"] if e["kind"] == "normalized_input")
    data = change((src / "segments" / e["stored_sha256"]).read_bytes())
    (dst / "segments" / sha256_hex(data)).write_bytes(data)
    e.update(stored_sha256=sha256_hex(data), stored_size=len(data))
    if entry_edit:
        entry_edit(e)
    root = merkle_root([bytes.fromhex(x["sha256"]) for x in index["segments"]])
    index["transcript_root"] = root.hex()
    index_bytes = jcs_bytes(index)
    os.unlink(dst / "index.json")
    (dst / "index.json").write_bytes(index_bytes)
    text = (f"{index['origin']}\n{len(index['segments'])}\n{base64.b64encode(root).decode()}\n"
            f"index {sha256_hex(index_bytes)}\n")
    os.unlink(dst / "checkpoint")
    (dst / "checkpoint").write_bytes(sign_note(text, signer))
    return dst


@pytest.fixture
def legit(vgos_home: Path, tmp_path: Path) -> Path:
    """The seed window's v2 transcript, signed by the local (trusted) signer."""
    result = fold_files([SEED_EVENTS], SEED_WINDOW, POLICY)
    write_transcript(result, open_store(str(tmp_path / "legit")), "transcript", load_signer())
    return tmp_path / "legit" / "transcript"


def _cases(legit: Path, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    out = {name: (_forge(legit, tmp_path / name.replace(" ", "_"), change, load_signer()), reason)
           for name, (change, reason) in FORGERIES.items()}
    out["rows field"] = (_forge(legit, tmp_path / "rows", lambda d: d, load_signer(),
                                entry_edit=lambda e: e.update(rows=e["rows"] + 1)), "SEGMENT_SCHEMA_MISMATCH")
    out["v1 entry in v2"] = (_forge(legit, tmp_path / "plain", lambda d: d, load_signer(),
                                    entry_edit=lambda e: e.pop("encoding")), "INDEX_MALFORMED")
    return out


def test_forged_parquet_segments_fail_with_a_named_reason(legit: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from vgos_app.cli import main

    assert verify_transcript(str(legit)).ok
    assert _forge(legit, tmp_path / "same", lambda d: d, load_signer()) and verify_transcript(
        str(tmp_path / "same")).ok  # the forging itself is sound: unchanged bytes still verify
    for name, (path, reason) in _cases(legit, tmp_path).items():
        report = verify_transcript(str(path))
        assert not report.ok and report.reason == reason, (name, report.line())
        if reason != "INDEX_MALFORMED":
            assert report.segment and report.segment.startswith("normalized_input/00000 (segments/"), name
        capsys.readouterr()
        assert main(["verify", str(path)]) == 1, name
        out = capsys.readouterr()
        assert out.out.startswith(f"FAILED {reason}") and "Traceback" not in out.err, name


@pytest.mark.slow  # one process per forgery: CI runs it
def test_forged_parquet_segments_fail_through_the_installed_command(legit: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for name, (path, reason) in _cases(legit, tmp_path).items():
        proc = subprocess.run([VGOS, "verify", str(path)], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 1, (name, proc.stdout, proc.stderr)
        assert proc.stdout.startswith(f"FAILED {reason}") and "Traceback" not in proc.stderr, name


def test_decode_refuses_every_forgery_with_a_segment_error() -> None:
    """The decoder alone: each forgery is a SegmentError (never another exception), the honest bytes decode."""
    result = fold_files([SEED_EVENTS], SEED_WINDOW, POLICY)
    data = segment_parquet.encode(result.kept)
    df = segment_parquet.decode(data, result.kept.height)
    assert df.equals(result.kept)
    _bufs, sha, size = segment_parquet.canonical_chunk(df)
    assert sha == result.input_digest and size > 2
    for name, (change, _reason) in FORGERIES.items():
        try:
            got = segment_parquet.decode(change(data), result.kept.height)
        except segment_parquet.SegmentError:
            continue
        assert segment_parquet.canonical_chunk(got)[1] != result.input_digest, name
    with pytest.raises(segment_parquet.SegmentError):
        segment_parquet.decode(data, result.kept.height + 1)


# ------------------------------------------------------------------------- the streamed replay of v2 = v1's replay


@SETTINGS
@given(records=window_records(max_size=25), chunk=st.sampled_from([1, 2, 3, 100_000]),
       mutation=st.sampled_from(["none", "duplicate", "swap", "currency", "late", "amount", "seal"]),
       at=st.integers(0, 100))
def test_streamed_v2_replay_reports_what_v1_reports(records: list[dict[str, Any]], chunk: int, mutation: str,
                                                    at: int, signer: Ed25519FileSigner) -> None:
    """v2 verification replays from per-chunk sums when every chunk is kept as given, else from the decoded
    events; v1 always folds the events. On honest and on forged (consistently re-signed) inputs, both report the
    same: VERIFIED, or the same reason."""
    import dataclasses

    import polars as pl

    trusted = trusted_keys([signer.public_key_pem()])
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(transcript, "CHUNK_EVENTS", chunk)
        result = fold_files([write(Path(d) / "events", "jsonl", records)], WINDOW, POLICY)
        kept = result.kept
        if kept.height == 0:
            return
        i = at % kept.height
        if mutation == "duplicate":
            kept = pl.concat([kept.slice(0, i + 1), kept.slice(i, kept.height - i)])
        elif mutation == "swap" and kept.height > 1:
            order = list(range(kept.height))
            j = (i + 1) % kept.height
            order[i], order[j] = order[j], order[i]
            kept = kept[order]
        elif mutation in ("currency", "late", "amount"):
            col, value = {"currency": ("currency", "EUR"), "late": ("ts_occurred", "2025-09-23T20:50:01Z"),
                          "amount": ("amount_minor", 7)}[mutation]
            values = kept[col].to_list()
            values[i] = value
            kept = kept.with_columns(pl.Series(col, values, dtype=kept.schema[col]))
        forged = dataclasses.replace(result, kept=kept, input_segments=[])
        if mutation != "none":
            from vgos.fold import canonical_events_bytes

            digest = sha256_hex(canonical_events_bytes(kept))  # a consistent input_digest for the forged input
            seal = orjson.loads(result.seal_bytes)
            seal["trailer"]["input_digest"] = digest
            if mutation == "seal":
                seal["totals"]["payout_minor"] += 1
            raw = jcs_bytes(seal)
            forged = dataclasses.replace(forged, seal=seal, seal_bytes=raw, output_digest=sha256_hex(raw),
                                         input_digest=digest)
        reports = []
        for version in (1, 2):
            ref = write_transcript(forged, open_store(str(Path(d) / f"v{version}")), "transcript", signer,
                                   version=version)
            r = verify_transcript(ref.url, trusted=trusted)
            reports.append((r.ok, r.reason, r.replay.replay_digest if r.replay else None))
        assert reports[0] == reports[1]
        if mutation == "none":
            assert reports[1][0] is True


def test_an_honest_v2_transcript_is_replayed_from_chunk_sums(vgos_home: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The streamed replay is what verifies an honest v2 transcript (no decoded chunk is kept for the fold)."""
    import vgos.fold as fold

    monkeypatch.setattr(transcript, "CHUNK_EVENTS", 2)
    result = fold_files([SEED_EVENTS], SEED_WINDOW, POLICY)
    ref = write_transcript(result, open_store(str(tmp_path / "t")), "transcript", load_signer())
    used: list[bool] = []
    original = fold.fold_from_sums

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        used.append(out is not None)
        return out

    monkeypatch.setattr(fold, "fold_from_sums", spy)
    report = verify_transcript(ref.url)
    assert report.ok and report.replay and report.replay.replay_digest == result.output_digest
    assert used == [True]


def test_fold_verify_and_replay_report_progress_with_counts(vgos_home: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The vgos.progress interface: stages with (done, total) counts during the long stages, at most per chunk."""
    monkeypatch.setattr(transcript, "CHUNK_EVENTS", 1)
    import vgos.fold as fold

    monkeypatch.setattr(fold, "HASH_CHUNK", 1)
    calls: list[tuple[str, int | None, int | None, str]] = []

    def listen(stage: str, done: int | None = None, total: int | None = None, unit: str = "events") -> None:
        calls.append((stage, done, total, unit))

    spool = tmp_path / "spool"
    spool.mkdir()
    result = fold_files([SEED_EVENTS], SEED_WINDOW, POLICY, progress=listen, spool=spool)
    assert ("hashing input", 3, 3, "events") in calls
    ref = write_transcript(result, open_store(str(tmp_path / "t")), "transcript", load_signer())
    calls.clear()
    assert verify_transcript(ref.url, progress=listen).ok
    counted = [c for c in calls if c[0] == "verifying input segments"]
    assert [c[1] for c in counted] == [1, 2, 3] and {c[2] for c in counted} == {3}
    assert ("replaying the fold", None, None, "events") in calls
    calls.clear()
    assert replay_transcript(ref.url, progress=listen).ok
    assert [c[1] for c in calls if c[0] == "verifying input segments"] == [1, 2, 3]
