"""Progress bars (rate, ETA) on stderr when it is a terminal; nothing at all when it is a pipe or a log."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from vgos.progress import silent
from vgos_app.render import call_with_progress, progress_bar

VGOS = str(Path(sys.executable).parent / "vgos")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_counts_rate_and_eta() -> None:
    err = Tty()
    with progress_bar("folding window 2025-09-23", file=err) as progress:
        assert progress is not silent
        for done in (0, 10, 20, 30):
            progress("hashing input", done=done, total=1000, unit="chunks")
            time.sleep(0.15)
    shown = err.getvalue()
    assert "hashing input" in shown and "30/1,000 chunks" in shown  # the stage, done/total
    assert re.search(r"[0-9,]+ chunks/s", shown) and re.search(r"ETA \d+:\d\d:\d\d", shown)  # rate, time left
    assert "\x1b[" in shown  # drawn (and removed again: transient)


def test_a_pipe_gets_nothing() -> None:
    err = io.StringIO()
    with progress_bar("folding", file=err) as progress:
        assert progress is silent
        progress("hashing input", done=5, total=10)
    assert err.getvalue() == ""


def test_call_with_progress_passes_the_listener_only_where_there_is_a_hook() -> None:
    seen = []

    def hooked(x: int, *, progress=silent) -> int:
        progress("stage", done=x, total=x)
        return x

    def plain(x: int) -> int:
        return x

    assert call_with_progress(hooked, 3, progress=lambda *a, **k: seen.append((a, k))) == 3
    assert call_with_progress(plain, 4, progress=lambda *a, **k: seen.append(a)) == 4
    assert seen == [(("stage",), {"done": 3, "total": 3})]


def _fold_argv(tmp_path: Path) -> list[str]:
    from vgos_app.demo import seed_events_path

    return [VGOS, "fold", "--events", str(seed_events_path()), "--window-id", "2025-09-23", "--out",
            str(tmp_path / "out")]


def _on_pty(argv: list[str]) -> tuple[int, str, str]:
    """Run the installed command with stderr on a pseudo-terminal and stdout a pipe: (exit code, what the terminal
    received, stdout)."""
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    stdout = proc.stdout.read().decode()
    code = proc.wait(timeout=120)
    os.close(master)
    return code, b"".join(chunks).decode(errors="replace"), stdout


def test_fold_and_verify_on_a_pseudo_terminal_show_the_bar_and_keep_stdout_plain(vgos_home: Path, tmp_path: Path
                                                                                   ) -> None:
    code, tty, stdout = _on_pty(_fold_argv(tmp_path))
    assert code == 0, tty
    assert "folding window 2025-09-23" in tty and "\x1b[" in tty
    assert "output_digest" in stdout and "\x1b[" not in stdout
    code, tty, stdout = _on_pty([VGOS, "verify", str(tmp_path / "out")])
    assert code == 0, tty
    assert "verifying " in tty and "\x1b[" in tty
    assert stdout.startswith("VERIFIED ") and "\x1b[" not in stdout


def test_fold_piped_prints_no_progress(vgos_home: Path, tmp_path: Path) -> None:
    proc = subprocess.run(_fold_argv(tmp_path), capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and "\x1b[" not in proc.stdout and "output_digest" in proc.stdout
