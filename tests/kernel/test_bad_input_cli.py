"""The bad-input matrix of issue #11 against the installed `vgos` command (one subprocess per case, 13 in all).

Every case: the expected exit code (2 unusable input, 1 a window that keeps nothing), exactly one line on stderr,
no traceback, nothing left at --out and no temp folder anywhere. Cheaper variants run in-process in
test_safe_outputs.py and test_hostile_input.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

VGOS = str(Path(sys.executable).parent / "vgos")
W = "2025-09-23"
GOOD = b"".join(orjson.dumps({"event_id": f"e{i}", "ts_occurred": "2025-09-23T12:00:00Z", "principal_id": "P",
                              "amount_minor": 100, "source_type": "earning"}) + b"\n" for i in range(3))
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"

# id: (file name, content, extra arguments, which --out, exit code, text stderr must contain)
CASES = {
    "missing-file": ("nope.jsonl", None, [], "out", 2, "nope.jsonl: no such events file"),
    "missing-file-without-suffix": ("nope", None, [], "out", 2, "nope: no such events file"),
    "a-directory": ("folder.jsonl", "dir", [], "out", 2, "folder.jsonl: is a folder"),
    "png-as-jsonl": ("image.jsonl", PNG, [], "out", 2, "image.jsonl: line 3: NUL byte"),
    "utf16-without-bom": ("ev.jsonl", GOOD.decode().encode("utf-16-le"), [], "out", 2, "ev.jsonl: line 1: NUL"),
    "duplicated-csv-header": ("ev.csv", b"event_id,ts_occurred,principal_id,amount_minor,source_type,event_id\n"
                              b"e1,2025-09-23T12:00:00Z,P,5,earning,e2\n", [], "out", 2,
                              "ev.csv: line 1: the header names column 'event_id' more than once"),
    "nested-brackets": ("ev.jsonl", b"[" * 2048 + b"\n", [], "out", 1, "all 1 records rejected (SCHEMA_INVALID 1"),
    "tenant-path": ("ev.jsonl", GOOD, ["--tenant", "../../x"], "out", 2, "tenant '../../x'"),
    "window-not-a-date": ("ev.jsonl", GOOD, ["--window-id", "2025-02-30"], "out", 2, "window_id '2025-02-30'"),
    "out-is-inputs-folder": ("ev.jsonl", GOOD, [], "inputs", 2, "contains the input"),
    "out-is-vgos-home": ("ev.jsonl", GOOD, [], "home", 2, "contains VGOS_HOME"),
    "out-in-proc": ("ev.jsonl", GOOD, [], "/proc/nope", 2, "--out /proc/nope: cannot create the output folder"),
    "empty-file": ("ev.jsonl", b"", [], "out", 1, "the input files hold no records"),
    "all-rejected": ("ev.jsonl", GOOD.replace(b"2025-09-23T12", b"2025-09-24T12"), [], "out", 1,
                     "all 3 records rejected (AFTER_CUTOFF 3"),
}


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_matrix(tmp_path: Path, case: str) -> None:
    name, content, extra, out_kind, code, text = CASES[case]
    inputs, home, outs = tmp_path / "in", tmp_path / "home", tmp_path / "o"
    for d in (inputs, home / "keys", outs):
        d.mkdir(parents=True)
    (home / "keys" / "ed25519.pem").write_text("the signing key")  # must survive; never read in these cases
    (home / "vgos.db").write_text("the database")
    events = inputs / name
    if content == "dir":
        events.mkdir()
    elif content is not None:
        events.write_bytes(content)
    out = {"out": outs / "w", "inputs": inputs, "home": home}.get(out_kind, Path(out_kind))
    before = {d: _tree(d) for d in (inputs, home)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("VGOS_")}
    env.update(VGOS_HOME=str(home), DAGSTER_HOME=str(tmp_path))
    if code == 1:  # the fold itself runs: give it a usable home
        (home / "keys" / "ed25519.pem").unlink()
        (home / "vgos.db").unlink()
        before[home] = {}
    proc = subprocess.run([VGOS, "fold", "--window-id", W, "--events", str(events), "--out", str(out), *extra],
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.endswith("\n") and proc.stderr.count("\n") == 1, proc.stderr
    assert text in proc.stderr, proc.stderr
    assert list(outs.iterdir()) == []  # no output folder, no temp folder
    assert _tree(inputs) == before[inputs]
    if code == 2:
        assert _tree(home) == before[home]
    for d in (tmp_path, inputs, home):
        assert not [p.name for p in d.iterdir() if p.name.startswith(".")], d
