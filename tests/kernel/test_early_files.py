"""The early output files (`vgos.early_files`): rejects.jsonl, allocations.csv and the transcript's `rejects` and
`allocations` segments made in the spool while the fold hashes its input, then linked into the outputs, are byte
for byte the files the outputs build themselves; a file that could not be made early is built the ordinary way."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from tests.examples import examples
from tests.kernel.strategies import WINDOW
from tests.kernel.test_bucketed_fold import _tree, window_files, windows
from vgos import early_files
from vgos.early_files import EarlyFiles
from vgos.fold import fold_files
from vgos.outputs import write_fold_outputs
from vgos.policy import load_policy
from vgos.signing import Ed25519FileSigner
from vgos.storage import open_store
from vgos.transcript import write_transcript

POLICY = load_policy(None)


def _outputs(paths: list[Path], spool: Path, out: Path, signer: Ed25519FileSigner, prior: dict[str, str],
             early: EarlyFiles | None) -> dict[str, bytes]:
    """`vgos fold`'s sequence (fold with a spool, then outputs and transcript), with or without early files."""
    try:
        result = fold_files(paths, WINDOW, POLICY, spool=spool, lazy_allocations=True, keep_events=False,
                            prior=prior, bucket_events=0, early=early)
        write_fold_outputs(result, out,
                           lambda folder: write_transcript(result, open_store(str(folder)), "t", signer, early=early),
                           early=early)
    finally:
        if early is not None:
            early.close()
    tree = _tree(out)
    tree.pop("t/checkpoint")  # ECDSA/Ed25519 signatures over the same text: compared through the index instead
    return tree


@settings(max_examples=examples(30), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(window=windows())
def test_early_files_are_the_files_the_outputs_build(window: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    files, prior = window
    signer = Ed25519FileSigner(tmp_path_factory.mktemp("key") / "k.pem")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        paths, s1, s2 = window_files(root, files)
        early = EarlyFiles(s1)
        with_early = _outputs(paths, s1, root / "early", signer, prior, early)
        plain = _outputs(paths, s2, root / "plain", signer, prior, None)
        assert with_early == plain
        out = root / "early"
        if not (out / "seal.json").exists():
            return
        kept = orjson.loads((out / "seal.json").read_bytes())["totals"]["events_kept"]
        if not kept:  # nothing kept: no early files (the command refuses such a window without --allow-empty)
            assert all(early.get(n) is None for n in NAMES)
            return
        # every file was made early and linked in: the output is the spooled file itself, with the outputs' mode
        index = orjson.loads((out / "t/index.json").read_bytes())
        sha = {e["name"]: e["sha256"] for e in index["segments"]}
        linked = {early_files.REJECTS_JSONL: out / "rejects.jsonl",
                  early_files.REJECTS_SEGMENT: out / "t/segments" / sha["rejects"],
                  early_files.ALLOCATIONS_SEGMENT: out / "t/segments" / sha["allocations"]}
        csv = (out / "allocations.csv").read_bytes()
        if early.get(early_files.ALLOCATIONS_CSV) is None:  # only principals the csv writer quotes (or empty ones)
            assert b'"' in csv or b"\n," in csv  # leave it to the ordinary path
        else:
            linked[early_files.ALLOCATIONS_CSV] = out / "allocations.csv"
        for name, path in linked.items():
            made = early.get(name)
            assert made is not None and path.samefile(made.path), name
        assert (out / "rejects.jsonl").stat().st_mode == (root / "plain" / "rejects.jsonl").stat().st_mode


NAMES = (early_files.REJECTS_JSONL, early_files.REJECTS_SEGMENT, early_files.ALLOCATIONS_CSV,
         early_files.ALLOCATIONS_SEGMENT)


def test_one_early_files_serves_one_fold(tmp_path: Path) -> None:
    early = EarlyFiles(tmp_path)
    early.rejects([])
    with pytest.raises(ValueError, match="one fold"):
        early.rejects([])
    early.close()


def test_a_file_that_fails_early_is_built_the_ordinary_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.transcript.conftest import SEED_EVENTS

    signer = Ed25519FileSigner(tmp_path / "k.pem")
    (tmp_path / "s1").mkdir()
    (tmp_path / "s2").mkdir()
    plain = _outputs([SEED_EVENTS], tmp_path / "s2", tmp_path / "plain", signer, {}, None)

    real = EarlyFiles._write

    def full_disk(self: EarlyFiles, name: str, make: Any) -> Any:
        if name == early_files.ALLOCATIONS_CSV:
            raise OSError("no space left on device")
        return real(self, name, make)

    monkeypatch.setattr(EarlyFiles, "_write", full_disk)
    early = EarlyFiles(tmp_path / "s1")
    assert early.get(early_files.ALLOCATIONS_CSV) is None  # nothing asked for yet
    tree = _outputs([SEED_EVENTS], tmp_path / "s1", tmp_path / "early", signer, {}, early)
    assert early.get(early_files.ALLOCATIONS_CSV) is None and early.get(early_files.REJECTS_JSONL) is not None
    assert tree == plain
