"""Progress bars (rate, ETA) on stderr when it is a terminal; nothing at all when it is a pipe or a log."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.netsuite.conftest import sandbox, sandbox_factory  # noqa: F401  (fixtures)
from vgos.progress import silent
from vgos_app.render import progress_bar

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


def test_a_stage_without_counts_does_not_show_the_last_stage_s_counts() -> None:
    with progress_bar("reconciling", file=Tty()) as progress:
        progress("ingesting report files", done=1, total=2, unit="files")
        progress("reading window 2025-09-23")
        [task] = progress._bar.tasks  # one line, the new stage's, with no total and nothing done
        assert (task.description, task.total, task.completed) == ("reading window 2025-09-23", None, 0)
        progress("storing", done=0, total=3, unit="steps")
        progress("storing", done=3, total=3, unit="steps")
        [task] = progress._bar.tasks
        assert (task.description, task.total, task.completed, task.fields["unit"]) == ("storing", 3, 3, "steps")


def test_a_pipe_gets_nothing() -> None:
    err = io.StringIO()
    with progress_bar("folding", file=err) as progress:
        assert progress is silent
        progress("hashing input", done=5, total=10)
    assert err.getvalue() == ""


def test_verify_hands_its_bar_the_segments_verified(vgos_home: Path, tmp_path: Path, monkeypatch) -> None:
    """`vgos verify` passes its bar to the kernel: the kept events of the input segments verified, up to the 3 the
    seed window keeps."""
    from tests.cli.conftest import run

    assert run(*_fold_argv(tmp_path)[1:]).returncode == 0
    rec = Recorder()
    _recording_bar(monkeypatch, rec)
    r = run("verify", tmp_path / "out")
    assert r.returncode == 0 and r.stdout.startswith("VERIFIED "), r.stdout + r.stderr
    assert rec.stages()[0].startswith("verifying ")
    assert rec.assert_counted("verifying input segments", 3, "events") == [3]


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


# ---------------------------------------------------------------- counts from the work outside the kernel fold


class Recorder:
    """A `vgos.progress.Progress` that keeps every call (the sync calls it from its writer threads)."""

    def __init__(self) -> None:
        import threading

        self.calls: list[tuple[str, int | None, int | None, str]] = []
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int | None = None, total: int | None = None, unit: str = "events") -> None:
        with self._lock:
            self.calls.append((stage, done, total, unit))

    def stages(self) -> list[str]:
        return list(dict.fromkeys(s for s, *_ in self.calls))

    def counts(self, stage: str) -> list[tuple[int, int | None]]:
        return [(d, t) for s, d, t, _ in self.calls if s == stage and d is not None]

    def assert_counted(self, stage: str, total: int, unit: str) -> list[int]:
        """The stage reported counts that only grow and end at its total, always against that total."""
        counts = self.counts(stage)
        assert counts, f"{stage!r} reported no counts: {self.calls}"
        done = [d for d, _ in counts]
        assert all(t == total for _, t in counts), counts
        assert done == sorted(done) and done[-1] == total, counts
        assert {u for s, d, _, u in self.calls if s == stage and d is not None} == {unit}
        return done


def _recording_bar(monkeypatch, recorder: Recorder) -> None:
    """The commands' progress bar replaced by the recorder (as if stderr were a terminal)."""
    from contextlib import contextmanager

    import vgos_app.render

    @contextmanager
    def bar(stage: str | None = None, *, file=None):
        recorder(stage or "working")
        yield recorder

    monkeypatch.setattr(vgos_app.render, "progress_bar", bar)


def _authorized_seed_window(tmp_path: Path):
    """The seed window sealed, authorized (ALLOW/HOLD/ALLOW) and batched on pain.001 (two payments)."""
    import datetime as dt

    from recon.service import create_window_batch
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.cli_acceptance import demo_acceptance
    from vgos_app.demo import SEED_WINDOW, seed_events_path

    result = fold_files([seed_events_path()], SEED_WINDOW, load_policy())
    demo_acceptance(SEED_WINDOW, result, as_of=dt.datetime.now(dt.UTC).replace(microsecond=0))
    return create_window_batch(SEED_WINDOW, "pain001", tmp_path / "batch.xml").batch


def test_recon_run_reports_counts_per_stage(vgos_home: Path, tmp_path: Path, monkeypatch) -> None:
    """`vgos recon run --ingest-drops`: the report files ingested, batches loaded, receipts selected, payments
    reconciled and the result stored, each with counts ending at its total."""
    from connectors.psp.camt054 import camt054_for_batch
    from recon.service import read_debtor
    from tests.cli.conftest import run
    from vgos import config
    from vgos.storage import open_store
    from vgos_app.demo import SEED_WINDOW

    batch = _authorized_seed_window(tmp_path)
    debtor = read_debtor(None)
    camt = camt054_for_batch(batch, debtor_iban=debtor["iban"], booked_on=batch.execution_date,
                             created_at=f"{batch.execution_date}T08:00:00Z")
    drops = open_store(config.drop_zone_root())
    drops.put("reports/camt054-a.xml", camt)
    drops.put("reports/camt054-copy.xml", camt)  # a bank copy: ingested, counted once per payment
    rec = Recorder()
    _recording_bar(monkeypatch, rec)
    r = run("recon", "run", SEED_WINDOW, "--ingest-drops")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fully reconciled: True" in r.stdout and r.stderr == ""
    assert rec.assert_counted("ingesting report files", 2, "files") == [0, 1, 2]
    assert rec.assert_counted("loading batches", 1, "batches") == [1]
    n_receipts = rec.counts("selecting receipts")[-1][0]
    assert n_receipts >= 2
    rec.assert_counted("selecting receipts", n_receipts, "receipts")
    done = rec.assert_counted("reconciling 2 payments", 2, "payments")
    assert done[0] == 0 and len(done) >= 2
    assert rec.assert_counted("storing", 3, "steps") == [0, 1, 2, 3]
    order = rec.stages()
    assert [s for s in order if s in ("ingesting report files", "loading batches", "selecting receipts",
                                      "reconciling 2 payments", "storing")] == [
        "ingesting report files", "loading batches", "selecting receipts", "reconciling 2 payments", "storing"]


def test_recon_run_without_a_listener_stays_silent(vgos_home: Path, tmp_path: Path) -> None:
    """The hook is optional: the service called as the Dagster asset calls it (no `progress=`) works unchanged."""
    import datetime as dt

    from recon.service import load_window, run_window_recon
    from vgos_app.demo import SEED_WINDOW

    _authorized_seed_window(tmp_path)
    result, _, changed = run_window_recon(load_window(SEED_WINDOW), as_of=dt.datetime.now(dt.UTC))
    assert changed and result.n_expected == 2 and not result.fully_reconciled  # nothing booked yet


def test_netsuite_sync_reports_bills_written_per_batch_and_the_read_back(vgos_home: Path, tmp_path: Path,
                                                                         sandbox, monkeypatch) -> None:  # noqa: F811
    """`vgos netsuite sync` with upsertList batches of one bill on two threads: written/total grows by batch to
    3/3; the read-back reports 0/3 then 3/3; a second sync writes nothing and says so (0/0)."""
    from connectors.netsuite.pipeline import DEMO_VENDOR_MAP
    from gl_mappings import DEMO_FILE
    from tests.cli.conftest import run
    from tests.netsuite.conftest import CREDS
    from vgos_app.demo import SEED_WINDOW

    _authorized_seed_window(tmp_path)
    for var, value in {"NETSUITE_ACCOUNT": CREDS.account, "NETSUITE_CONSUMER_KEY": CREDS.consumer_key,
                       "NETSUITE_CONSUMER_SECRET": CREDS.consumer_secret, "NETSUITE_TOKEN_ID": CREDS.token_id,
                       "NETSUITE_TOKEN_SECRET": CREDS.token_secret, "NETSUITE_BASE_URL": sandbox.url,
                       "VGOS_GL_MAPPING": str(DEMO_FILE), "NETSUITE_BATCH_SIZE": "1",
                       "NETSUITE_CONCURRENCY": "2"}.items():
        monkeypatch.setenv(var, value)
    rec = Recorder()
    _recording_bar(monkeypatch, rec)
    r = run("netsuite", "sync", SEED_WINDOW, "--vendor-map", DEMO_VENDOR_MAP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "created=3" in r.stdout
    assert rec.assert_counted("stamping bills", 3, "bills") == [0, 1, 2, 3]
    assert rec.assert_counted("reading back bills", 3, "bills") == [0, 3]
    stages = rec.stages()
    assert stages.index("reading the window's bills") < stages.index("stamping bills") \
        < stages.index("posting the journal") < stages.index("reading back bills")

    rec.calls.clear()
    r = run("netsuite", "verify", SEED_WINDOW, "--vendor-map", DEMO_VENDOR_MAP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rec.assert_counted("reading back bills", 3, "bills") == [0, 3]

    rec.calls.clear()
    r = run("netsuite", "sync", SEED_WINDOW, "--vendor-map", DEMO_VENDOR_MAP)
    assert r.returncode == 0 and "unchanged=3" in r.stdout, r.stdout + r.stderr
    assert rec.counts("stamping bills") == [(0, 0)]
