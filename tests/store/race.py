"""Helpers to start processes at once and hold them at one point, so a race is exercised on every run.

PostgreSQL: the test holds `LOCK TABLE … ACCESS EXCLUSIVE` until every process waits on a lock (pg_stat_activity,
sessions named by PGAPPNAME), then lets them go together. SQLite: the test holds the write lock (`BEGIN IMMEDIATE`)
until every process has stopped using the CPU (they sit in SQLite's busy handler at their first write), then
releases it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

VGOS = str(Path(sys.executable).parent / "vgos")


def start(*argvs: list[str], tag: str = "vgos-race") -> list[subprocess.Popen]:
    """Start each argv at once with stdout/stderr captured; their PostgreSQL sessions are named `tag`."""
    env = dict(os.environ, PGAPPNAME=tag)
    return [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for a in argvs]


def finish(procs: list[subprocess.Popen], timeout: float = 120) -> list[tuple[int, str, str]]:
    """(returncode, stdout, stderr) of each process, in order; a process still running after `timeout` is killed."""
    out = []
    try:
        for p in procs:
            so, se = p.communicate(timeout=timeout)
            out.append((p.returncode, so, se))
    finally:
        kill(procs)
    return out


def kill(procs: list[subprocess.Popen]) -> None:
    """Kill the processes of this test that are still running."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def _wait(cond, what: str, timeout: float = 120) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def pg_table_gate(url: str, tables: list[str], tag: str = "vgos-race") -> Iterator[callable]:
    """Hold ACCESS EXCLUSIVE locks on `tables` in one transaction. The yielded `release(procs)` waits until the
    sessions of the running processes (named `tag`) all wait on a lock (a table's, or an advisory lock the code
    takes itself), then commits: the waiters proceed at once."""
    eng = sa.create_engine(url)
    conn = eng.connect()
    tx = conn.begin()
    for table in tables:
        conn.execute(sa.text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
    probe = eng.connect()

    def waiting() -> int:
        n = probe.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :t "
                                  "AND wait_event_type = 'Lock'"), {"t": tag}).scalar_one()
        probe.rollback()  # pg_stat_activity is a snapshot per transaction
        return n

    def release(procs: list[subprocess.Popen]) -> None:
        _wait(lambda: waiting() >= sum(p.poll() is None for p in procs), f"{len(procs)} processes blocked")
        tx.commit()

    try:
        yield release
    finally:
        if tx.is_active:
            tx.rollback()
        conn.close()
        probe.close()
        eng.dispose()


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_idle(procs: list[subprocess.Popen], quiet_s: float = 0.6, timeout: float = 25) -> None:
    """Wait until every process has used no CPU for `quiet_s` (blocked) or has exited; give up after `timeout`
    (under SQLite's 30 s busy timeout: the race is then merely likely, not forced). Without /proc: wait 5 s."""
    deadline = time.monotonic() + timeout
    seen: dict[int, tuple[int, float]] = {}  # pid -> (cpu ticks, when they last changed)
    while time.monotonic() < deadline:
        now, idle = time.monotonic(), 0
        for p in procs:
            ticks = _cpu_ticks(p.pid) if p.poll() is None else -1
            if ticks is None:
                time.sleep(5)
                return
            if p.pid not in seen or seen[p.pid][0] != ticks:
                seen[p.pid] = (ticks, now)
            elif now - seen[p.pid][1] >= quiet_s:
                idle += 1
        if idle == len(procs):
            return
        time.sleep(0.05)


@contextlib.contextmanager
def sqlite_write_gate(db: Path) -> Iterator[callable]:
    """Hold SQLite's write lock; the yielded `release(procs)` waits until they all block, then commits."""
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")

    def release(procs: list[subprocess.Popen]) -> None:
        wait_idle(procs)
        conn.execute("COMMIT")

    try:
        yield release
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def assert_clean(results: list[tuple[int, str, str]], ok_codes: tuple[int, ...] = (0,)) -> None:
    """Every process exited with an allowed code and printed no traceback."""
    for code, out, err in results:
        assert "Traceback" not in err and "Traceback" not in out, err
        assert code in ok_codes, (code, out, err)
