"""Byte equality of the fold whose workers gather their own chunks (`fold_files(..., keep_events=False)`, what
`vgos fold` runs) with the fold that builds the kept events as one frame, and with the reference.

On the random windows of the bucketed-fold test (one to three files of mixed formats, duplicates and conflicts,
shared instants, out-of-window and schema-invalid records, prior-window matches) and small transcript chunks: the
same seal bytes and digests, rejects, allocations (also as the lazy `AllocationList`), normalized rows, transcript
leaves and root, and the same output folder, file for file (the signed checkpoint included).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vgos.transcript as transcript
from tests.kernel.strategies import WINDOW
from tests.kernel.test_bucketed_fold import SETTINGS, _root, _tree, window_files, windows
from vgos.fold import fold_files, fold_reference
from vgos.outputs import allocations_csv, rejects_jsonl, write_fold_outputs
from vgos.policy import load_policy
from vgos.signing import Ed25519FileSigner
from vgos.storage import open_store
from vgos.transcript import build_segments, write_transcript

POLICY = load_policy(None)


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Ed25519FileSigner:
    return Ed25519FileSigner(tmp_path_factory.mktemp("key") / "ed25519.pem")


@SETTINGS
@given(window=windows(), chunk=st.sampled_from([1, 2, 3, 100_000]))
def test_workers_gathering_their_chunks_write_the_same_bytes(
    window: tuple[list[tuple[str, list[dict[str, Any]]]], dict[str, str]], chunk: int, signer: Ed25519FileSigner,
) -> None:
    files, prior = window
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(transcript, "CHUNK_EVENTS", chunk)
        root = Path(d)
        paths, s1, s2 = window_files(root, files)
        whole = fold_files(paths, WINDOW, POLICY, prior=prior, spool=s1, bucket_events=0)
        ordered = fold_files(paths, WINDOW, POLICY, prior=prior, spool=s2, bucket_events=0, keep_events=False,
                             lazy_allocations=True)
        ref = fold_reference(paths, WINDOW, POLICY, prior=prior)
        assert ordered.seal_bytes == whole.seal_bytes == ref.seal_bytes
        assert ordered.input_digest == whole.input_digest == ref.input_digest
        assert ordered.totals == whole.totals
        assert rejects_jsonl(ordered) == rejects_jsonl(whole)
        assert allocations_csv(ordered) == allocations_csv(whole) == allocations_csv(ref)
        assert list(ordered.allocations) == whole.allocations == ref.allocations
        if ordered.totals["events_kept"]:
            assert ordered.kept_held is False and ordered.kept.height == 0
            assert pl.read_parquet(ordered.normalized_file).equals(ref.kept)
        assert [(s.sha256, s.size, s.rows) for s in ordered.input_segments] == \
            [(s.sha256, s.size, s.rows) for s in whole.input_segments]
        assert build_segments(ordered) == build_segments(whole) == build_segments(ref)
        assert _root(ordered) == _root(whole)
        outs = []
        for name, result in (("a", whole), ("b", ordered)):
            out = root / name
            write_fold_outputs(result, out, lambda f, r=result: write_transcript(r, open_store(str(f)),
                                                                                  "transcript", signer))
            outs.append(_tree(out))
        assert outs[0] == outs[1]
