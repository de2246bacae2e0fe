"""Every `vgos` subcommand answers an unusable input with one line naming it and exit 2, never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    "proof submit {missing}", "proof submit {folder}", "proof submit {png}",
    "recon ingest {missing}", "recon ingest {folder}", "recon ingest {png}",
    "recon parse --format camt054 {folder}", "recon parse --format camt054 {png}",
    "ledger verify {missing}", "ledger verify {folder}", "ledger verify {png}",
    "verify {png}", "verify {folder}", "verify {missing}",
    "batch create 2025-09-23 --rail csv --out {out} --payees {folder}",
    "batch create 2025-09-23 --rail csv --out {out} --debtor {png}",
    "authorize 2025-09-23", "replay notadate", "payouts show 2025-02-30", "acceptance show 2025-09-23 --tenant ../x",
    "batch create 2025-09-23 --rail csv --out {out} --tenant ../../x",
    "batch create 2025-09-23 --rail csv --out {out} --execution-date 2025-02-30",
    "batch create 2025-09-23 --rail csv --out {out} --execution-date garbage",
    "fold --events {png} --window-id 2025-09-23 --out {out}",
    "fold --events {missing} --window-id 2025-09-23 --out {out}",
    "fold --events {extra} --window-id 2025-09-23 --out {out}",
]


@pytest.fixture
def files(tmp_path: Path, vgos_home: Path) -> dict[str, Path]:
    (tmp_path / "folder").mkdir()
    (tmp_path / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "extra.csv").write_text("event_id,ts_occurred,principal_id,amount_minor,source_type\n"
                                        "e1,2025-09-23T11:00:00Z,P1,5,earning\n"
                                        "e2,2025-09-23T11:00:00Z,P1,5,earning,EXTRA\n")
    return {"missing": tmp_path / "nope.json", "folder": tmp_path / "folder", "png": tmp_path / "pic.png",
            "out": tmp_path / "out" / "x.csv", "extra": tmp_path / "extra.csv"}


@pytest.mark.parametrize("case", CASES)
def test_unusable_input_is_one_line_and_exit_2(case: str, files: dict[str, Path]) -> None:
    from vgos_app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(case.format(**files).split())
        except SystemExit as exc:
            code = exc.code
    text = err.getvalue()
    assert code == 2, (code, text)
    assert len(text.strip().splitlines()) == 1 and text.startswith("vgos: error: ") and "Traceback" not in text
    assert not files["out"].exists()
    if "{extra}" in case:  # the file and the line are named
        assert "extra.csv: line 3: expected 5 fields, found 6" in text


def test_the_installed_command_answers_the_same(files: dict[str, Path]) -> None:
    vgos = str(Path(sys.executable).parent / "vgos")
    cases = ("recon ingest {png}", "verify {folder}", "batch create 2025-09-23 --rail csv --out {out} --tenant ../x")
    for case in cases:
        proc = subprocess.run([vgos, *case.format(**files).split()], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ))
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert not files["out"].exists()
