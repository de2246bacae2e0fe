"""Fixtures for the payout registry: a sealed seed window with evidence issued at the real clock, the CLI."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vgos_app.demo import seed_events_path

WINDOW = "2025-09-23"
VGOS = str(Path(sys.executable).parent / "vgos")


def now() -> dt.datetime:
    """The real clock (money decisions are taken at it), whole seconds."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def vgos_process(*args: object, timeout: int = 180) -> subprocess.CompletedProcess:
    """Run the installed `vgos` command as a user would (environment of the test: VGOS_HOME, database)."""
    return subprocess.run([VGOS, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))


def vgos(*args: object) -> subprocess.CompletedProcess:
    """The `vgos` entry point in this process (same parser, same exit codes, same output; no interpreter start)."""
    import contextlib
    import io

    from vgos_app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(["vgos", *map(str, args)], code, out.getvalue(), err.getvalue())


def batch_id(stdout: str) -> str:
    """The provider_batch_id printed by `vgos batch create`."""
    return re.search(r"batch (VGB\S+) rail", stdout).group(1)


def fold(tmp_path: Path, extra: list[dict] | None = None, name: str = "events"):
    """Fold the seed events (plus extra events) for the demo window."""
    import orjson

    from vgos.fold import fold_files
    from vgos.policy import load_policy

    files = [seed_events_path()]
    if extra:
        f = tmp_path / f"{name}.jsonl"
        f.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in extra))
        files.append(f)
    return fold_files(files, WINDOW, load_policy(None))


def event(eid: str, pid: str, amount: int, ts: str = "2025-09-23T11:20:00Z", kind: str = "earning") -> dict:
    return {"event_id": eid, "ts_occurred": ts, "principal_id": pid, "amount_minor": amount, "source_type": kind}


def submit(body: dict, issuer: str) -> None:
    """Sign a proof with a demo issuer key and submit it; it must be accepted."""
    from vgos.acceptance import demo_issuers, sign_proof, submit_proof

    res = submit_proof(sign_proof(body, demo_issuers()[issuer]))
    assert res.accepted, res


def proof(kind: str, subject: str, status: str, digest: str, issued: dt.datetime, issuer: str, **extra) -> dict:
    from vgos.acceptance import fmt_ts

    return {"window_id": WINDOW, "tenant_id": "default", "kind": kind, "subject_id": subject, "status": status,
            "issuer": issuer, "output_digest": digest, "issued_at": fmt_ts(issued),
            "expires_at": fmt_ts(issued + dt.timedelta(days=1)), **extra}


def ack(digest: str, issued: dt.datetime | None = None) -> None:
    """A finance ACK for the digest, issued a minute ago (fresh) unless told otherwise."""
    submit(proof("ACK", WINDOW, "ACCEPTED", digest, issued or now() - dt.timedelta(seconds=60), "finance-1"),
           "finance-1")


def ct(pid: str, status: str, digest: str, issued: dt.datetime | None = None, reason: str | None = None) -> None:
    extra = {"reason": reason} if reason else {}
    submit(proof("CT", pid, status, digest, issued or now() - dt.timedelta(seconds=60), "compliance", **extra),
           "compliance")


@pytest.fixture
def sealed(vgos_home: Path, tmp_path: Path):
    """The seed window folded and published, the demo issuers registered."""
    from vgos.acceptance import demo_issuers
    from vgos.transcript import publish_transcript

    demo_issuers()
    result = fold(tmp_path)
    publish_transcript(result)
    return result


@pytest.fixture
def window(sealed):
    """The sealed seed window with a fresh ACK and the seed CT table (CRE-0002 HOLD) at the real clock."""
    from vgos.acceptance import submit_proof
    from vgos_app.cli_acceptance import demo_proofs

    for p in demo_proofs(WINDOW, "default", sealed.output_digest, issued=now() - dt.timedelta(seconds=60)):
        assert submit_proof(p).accepted
    return sealed
