"""Byte equality of the streaming fold outputs and the streaming `vgos verify` with the implementations they
replaced (kept verbatim in tests/transcript/old_impl.py as oracles), on random windows (hypothesis) with schema
rejects, duplicates, conflicts, out-of-window events, escaped and non-ASCII strings, in every input format.

- spooled normalized_input segments (serialized once, while hashing) == the segments built again from `kept`;
  the whole transcript folder written from a spooled fold == the one written without a spool, file for file;
- allocations.csv without `csv.writer` == with it (and the fallback for ids that need quoting);
- the replay's `fold_canonical` (one seal serialization, reused input digest) == the old one;
- `_verify` (streamed input, deferred RFC 8785 walks) gives the very report the old `_verify` gives, on honest and
  on tampered transcripts (non-canonical or float-bearing seals, edited allocations, inputs, rejects, policy).
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vgos.transcript as transcript
from tests.examples import examples
from tests.kernel.strategies import WINDOW, window_records
from tests.kernel.writers import write
from tests.transcript import old_impl
from vgos.canonical import jcs_bytes, sha256_hex
from vgos.fold import canonical_events_bytes, fold_canonical, fold_files
from vgos.outputs import allocations_csv
from vgos.policy import load_policy
from vgos.replay import _Fail, _verify
from vgos.seal import Allocation
from vgos.signing import Ed25519FileSigner
from vgos.storage import open_store
from vgos.transcript import build_segments, merkle_root, sign_note, write_transcript
from vgos.trust import trusted_keys

POLICY = load_policy(None)
FORMATS = st.sampled_from(["jsonl", "csv", "parquet"])
SETTINGS = settings(max_examples=examples(40), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Ed25519FileSigner:
    """One Ed25519 key for every transcript of this module (its signatures are deterministic)."""
    return Ed25519FileSigner(tmp_path_factory.mktemp("key") / "ed25519.pem")


def _fold(records: list[dict[str, Any]], fmt: str, spool: Path | None) -> Any:
    with tempfile.TemporaryDirectory() as d:
        return fold_files([write(Path(d) / "events", fmt, records)], WINDOW, POLICY, spool=spool)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@SETTINGS
@given(records=window_records(max_size=30), fmt=FORMATS, chunk=st.sampled_from([1, 2, 3, 100_000]))
def test_spooled_transcript_equals_the_rebuilt_one(records: list[dict[str, Any]], fmt: str, chunk: int,
                                                   signer: Ed25519FileSigner) -> None:
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(transcript, "CHUNK_EVENTS", chunk)
        spool = Path(d) / "spool"
        spool.mkdir()
        spooled = _fold(records, fmt, spool)
        plain = _fold(records, fmt, None)
        assert spooled.seal_bytes == plain.seal_bytes and spooled.input_digest == plain.input_digest
        assert not plain.input_segments
        assert bool(spooled.input_segments) == bool(spooled.kept.height)
        old = old_impl.old_build_segments(plain, chunk)
        assert build_segments(spooled) == old
        assert build_segments(plain) == old
        a, b = Path(d) / "a", Path(d) / "b"
        write_transcript(spooled, open_store(str(a)), "transcript", signer)
        write_transcript(plain, open_store(str(b)), "transcript", signer)
        assert _tree(a) == _tree(b)
        write_transcript(spooled, open_store(str(a)), "transcript", signer)  # idempotent over the linked files
        assert _tree(a) == _tree(b)


@SETTINGS
@given(records=window_records(max_size=30), fmt=FORMATS)
def test_allocations_csv_equals_csv_writer(records: list[dict[str, Any]], fmt: str) -> None:
    result = _fold(records, fmt, None)
    assert allocations_csv(result) == old_impl.old_allocations_csv(result)


_pid = st.text(min_size=0, max_size=5) | st.sampled_from(["a,b", 'q"', "l\nf", "c\rr", " s ", "é", "😀"])
_val = st.integers(-(2**60), 2**60) | st.sampled_from([True, None, "1,2", 1.5])


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(_pid, _val), max_size=5))
def test_allocations_csv_on_any_values(rows: list[tuple[Any, Any]]) -> None:
    allocs = [Allocation(p, 1, v, 0, 0, 0, v) for p, v in rows]
    result = type("R", (), {"allocations": allocs})()
    assert allocations_csv(result) == old_impl.old_allocations_csv(result)


@SETTINGS
@given(records=window_records(max_size=30), fmt=FORMATS, shuffle=st.booleans())
def test_replay_fold_equals_the_old_one(records: list[dict[str, Any]], fmt: str, shuffle: bool) -> None:
    result = _fold(records, fmt, None)
    events = result.kept.sample(fraction=1.0, shuffle=True, seed=1) if shuffle else result.kept
    digest = sha256_hex(canonical_events_bytes(events))
    n = len(result.rejects)
    old = old_impl.old_fold_canonical(events, WINDOW, POLICY, "default", n, prior=result.prior or None)
    for hint in (None, digest):
        new = fold_canonical(events, WINDOW, POLICY, "default", n, prior=result.prior or None, input_digest=hint)
        assert (new.seal_bytes, new.output_digest, new.input_digest) == \
            (old.seal_bytes, old.output_digest, old.input_digest)
        assert new.seal == old.seal
        lean = fold_canonical(events, WINDOW, POLICY, "default", n, prior=result.prior or None, input_digest=hint,
                              allocation_objects=False)
        assert (lean.seal_bytes, lean.output_digest, lean.input_digest) == \
            (old.seal_bytes, old.output_digest, old.input_digest)


_any_pid = st.text(min_size=1, max_size=6) | st.sampled_from(['q"', "b\\s", "c\x00t", "\x1f", "😀", "\ue000"])


@settings(max_examples=examples(150), deadline=None)
@given(rows=st.lists(st.tuples(_any_pid, st.integers(1, 9), st.integers(-(2**40), 2**40), st.integers(0, 10**6 - 1),
                               st.integers(0, 1)), max_size=6, unique_by=lambda r: r[0]),
       rejected=st.integers(0, 5))
def test_columnar_seal_bytes_equal_the_object_seal(rows: list[tuple], rejected: int) -> None:
    """`_seal_bytes_from_frame` (replay) == `_seal_from_columns` + `_columns_seal_bytes` (fold) on any ids."""
    import polars as pl

    from vgos.fold import _ALLOC_COLS, _seal_bytes_from_frame
    from vgos.policy import window_bounds
    from vgos.seal import _columns_seal_bytes, _seal_from_columns

    rows = sorted(rows)
    cols = {c: [r[i] for r in rows] for i, c in enumerate(("principal_id", "events", "net_minor",
                                                          "remainder_micro", "carry_minor"))}
    cols["bonus_floor_minor"] = [max(n, 0) // 10 for n in cols["net_minor"]]
    cols["payout_minor"] = [n + b + c for n, b, c in zip(cols["net_minor"], cols["bonus_floor_minor"],
                                                         cols["carry_minor"], strict=True)]
    g = pl.DataFrame({c: cols[c] for c in _ALLOC_COLS},
                     schema={c: pl.String if c == "principal_id" else pl.Int64 for c in _ALLOC_COLS})
    window = window_bounds(WINDOW, POLICY)
    _allocs, seal = _seal_from_columns(window, POLICY, "default", {c: cols[c] for c in _ALLOC_COLS}, 7, rejected,
                                       "ab" * 32, None)
    assert _seal_bytes_from_frame(window, POLICY, "default", g, 7, rejected, "ab" * 32, None)[1] == \
        _columns_seal_bytes(seal) == jcs_bytes(seal)


# ------------------------------------------------------------------------------------------- verify reports


def _set(segs: list[list], kind: str, data: bytes) -> None:
    for s in segs:
        if s[1] == kind:
            s[2] = data


def _get_kind(segs: list[list], kind: str) -> bytes:
    return next(s[2] for s in segs if s[1] == kind)


def _seal_edit(segs: list[list], edit: Any, *, allocations: str = "slice") -> None:
    seal = orjson.loads(_get_kind(segs, "seal"))
    edit(seal)
    raw = orjson.dumps(seal, option=orjson.OPT_SORT_KEYS)
    _set(segs, "seal", raw)
    if allocations == "slice":
        end = raw.find(b'],"schema":"vgos.seal/1",')
        if raw.startswith(b'{"allocations":[') and end > 0:
            _set(segs, "allocations", raw[len(b'{"allocations":'):end + 1])


def _first_alloc(seal: dict[str, Any], key: str, value: Any) -> None:
    if seal["allocations"]:
        seal["allocations"][0][key] = value
    else:
        seal["totals"][key] = value


def _chunk_edit(segs: list[list], edit: Any) -> None:
    for s in segs:
        if s[1] == "normalized_input":
            s[2] = edit(s[2])
            return


TAMPER = {
    "seal_whitespace": lambda segs: _set(segs, "seal", _get_kind(segs, "seal").replace(b":", b": ", 1)),
    "seal_float": lambda segs: _seal_edit(segs, lambda s: _first_alloc(s, "net_minor", 1.5)),
    "seal_unsafe_int": lambda segs: _seal_edit(segs, lambda s: _first_alloc(s, "payout_minor", 2**60)),
    "seal_payout": lambda segs: _seal_edit(segs, lambda s: _first_alloc(s, "payout_minor", 7)),
    "seal_non_ascii_key": lambda segs: _seal_edit(segs, lambda s: s["window"].update({"\ue000": 1, "😀": 2})),
    "seal_nested": lambda segs: _seal_edit(
        segs, lambda s: _first_alloc(s, "extra", [{"a": [1], "schema": "vgos.seal/1", "z": 1}])),
    "allocations_other": lambda segs: _set(segs, "allocations", b"[]"),
    "allocations_spaced": lambda segs: _set(segs, "allocations", _get_kind(segs, "allocations") + b" "),
    "rejects_count": lambda segs: _set(segs, "rejects", b"[]"),
    "policy": lambda segs: _set(segs, "policy_manifest", _get_kind(segs, "policy_manifest").replace(b"1", b"2", 1)),
    "input_amount": lambda segs: _chunk_edit(segs, lambda b: b.replace(b'"amount_minor":', b'"amount_minor":1', 1)),
    "input_spaced": lambda segs: _chunk_edit(segs, lambda b: b[:1] + b" " + b[1:]),
    "input_reordered": lambda segs: _chunk_edit(segs, lambda b: jcs_bytes(list(reversed(orjson.loads(b))))),
}


def _reforge(src: Path, dst: Path, tampers: list[str], signer: Ed25519FileSigner) -> Path:
    """Copy a transcript, apply the tampers to its segments and re-sign it consistently (the signature verifies,
    so verification reaches the checks after it)."""
    shutil.copytree(src, dst)
    index = orjson.loads((src / "index.json").read_bytes())
    segs = [[e["name"], e["kind"], (src / "segments" / e["sha256"]).read_bytes()] for e in index["segments"]]
    for t in tampers:
        TAMPER[t](segs)
    entries = []
    for name, kind, data in segs:
        path = dst / "segments" / sha256_hex(data)
        if not path.exists():
            path.write_bytes(data)
        entries.append({"name": name, "kind": kind, "sha256": sha256_hex(data), "size": len(data)})
    root = merkle_root([bytes.fromhex(e["sha256"]) for e in entries])
    index.update(segments=entries, transcript_root=root.hex(), output_digest=sha256_hex(_get_kind(segs, "seal")))
    index_bytes = jcs_bytes(index)
    (dst / "index.json").unlink()
    (dst / "index.json").write_bytes(index_bytes)
    text = f"{index['origin']}\n{len(entries)}\n{base64.b64encode(root).decode()}\nindex {sha256_hex(index_bytes)}\n"
    (dst / "checkpoint").unlink()
    (dst / "checkpoint").write_bytes(sign_note(text, signer))
    return dst


def _report(fn: Any, store: Any, trusted: list[Any]) -> tuple:
    """(ok, reason, segment, message, digest) of one verification, or the exception type and message."""
    try:
        r = fn(store, trusted)
    except _Fail as f:
        return False, f.reason, f.segment, f.message, None
    except Exception as exc:  # noqa: BLE001 - verify_transcript turns these into TRANSCRIPT_MALFORMED
        return False, "TRANSCRIPT_MALFORMED", None, f"{type(exc).__name__}: {exc}", None
    return r.ok, r.reason, r.segment, r.message, r.output_digest


@SETTINGS
@given(records=window_records(max_size=25), fmt=FORMATS, chunk=st.sampled_from([2, 100_000]),
       tampers=st.lists(st.sampled_from(sorted(TAMPER)), max_size=3, unique=True))
def test_verify_reports_equal_the_old_verify(records: list[dict[str, Any]], fmt: str, chunk: int,
                                             tampers: list[str], signer: Ed25519FileSigner) -> None:
    trusted = trusted_keys([signer.public_key_pem()])
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(transcript, "CHUNK_EVENTS", chunk)
        result = _fold(records, fmt, None)
        write_transcript(result, open_store(d), "transcript", signer, version=1)  # the old verify reads v1 only
        target = _reforge(Path(d) / "transcript", Path(d) / "forged", tampers, signer)
        new = _report(_verify, open_store(str(target)), trusted)
        old = _report(old_impl.old_verify, open_store(str(target)), trusted)
    assert new == old
    if not tampers and result.kept.height:
        assert new[0] is True
