"""The demo window as `make demo` leaves it (sealed, ACK/CT, gate, pain.001, NetSuite, camt.054 recon, SPV, ledger),
built once per module in its own VGOS_HOME, and the `vgos report` page of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.payouts.conftest import fold, sealed, vgos  # noqa: F401 (`sealed`: a fixture used by name)

WINDOW = "2025-09-23"
ISOLATED = ("VGOS_DATABASE_URL", "VGOS_ARTIFACTS", "VGOS_DROP_ZONE", "VGOS_SIGNING_KEY", "VGOS_KMS_KEY_ID",
            "VGOS_TRUSTED_KEYS", "VGOS_CHROMIUM", "NETSUITE_BASE_URL")


@dataclass
class DemoWindow:
    """Where the demo window lives and what it sealed."""

    home: Path
    output_digest: str
    transcript_url: str
    transcript_root: str


def run_vgos(*args: object) -> tuple[int, str, str]:
    """The `vgos` entry point in this process: (exit code, stdout, stderr)."""
    r = vgos(*args)
    return r.returncode, r.stdout, r.stderr


def disburse_and_book(seal: dict, digest: str, transcript_url: str, decisions: list[dict], *,
                      out_dir: Path) -> None:
    """Step 3 of the demo without Dagster: release the pain.001 batch, stamp NetSuite bills, reconcile a camt.054
    for the batch and submit its SPV proof (the functions the Dagster assets call)."""
    import os

    from connectors.netsuite.pipeline import demo_sync
    from recon.service import run_demo_recon
    from vgos import payouts
    from vgos.acceptance import demo_issuers, submit_proof

    w = seal["window"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    recon = run_demo_recon(w["window_id"], out_dir=out_dir, as_of=now, issuer_key=demo_issuers()["recon"])
    assert not recon["refused"], recon["refused"]
    sync, drift = demo_sync(os.environ["NETSUITE_BASE_URL"], tenant_id=w["tenant_id"], window_id=w["window_id"],
                            currency=w["currency"], output_digest=digest, transcript_url=transcript_url,
                            allocations=seal["allocations"], decisions=decisions,
                            provider_batch_id=recon["batch"]["provider_batch_id"])
    assert drift is not None and drift.ok and not sync.failed
    assert recon["recon"]["fully_reconciled"]
    for p in recon["spv_proofs"]:
        assert submit_proof(p, as_of=now, source="demo-recon").accepted
    assert payouts.ledger_check(w["window_id"], w["tenant_id"])["passed"]


def build_demo_window(tmp: Path, mp: pytest.MonkeyPatch) -> DemoWindow:
    """Step 1-3 of `vgos demo` through the same functions, without the Dagster runs (see vgos_app.demo)."""
    from vgos.acceptance import demo_issuers, submit_proof
    from vgos.gate import authorize
    from vgos.transcript import current_seal, publish_transcript
    from vgos_app.cli_acceptance import demo_proofs
    from vgos_app.demo import netsuite_sandbox

    home = tmp / "vgos_home"
    home.mkdir()
    mp.setenv("VGOS_HOME", str(home))
    mp.setenv("DAGSTER_HOME", str(tmp / "dagster_home"))  # no instance there: the Dagster section is omitted
    for var in ISOLATED:
        mp.delenv(var, raising=False)
    demo_issuers()
    ref = publish_transcript(fold(tmp))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for p in demo_proofs(WINDOW, "default", ref.output_digest, issued=now - dt.timedelta(seconds=60)):
        assert submit_proof(p).accepted
    decisions = authorize(WINDOW, as_of=now).decisions
    with netsuite_sandbox():
        disburse_and_book(current_seal(WINDOW), ref.output_digest, ref.url, decisions, out_dir=home / "batches")
    return DemoWindow(home, ref.output_digest, ref.url, ref.transcript_root)


@pytest.fixture(scope="module")
def demo_window(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWindow]:
    """The demo window, shared by the tests of one module (the environment is restored afterwards)."""
    with pytest.MonkeyPatch.context() as mp:
        yield build_demo_window(tmp_path_factory.mktemp("evidence"), mp)


@pytest.fixture(scope="module")
def demo_pack(demo_window: DemoWindow) -> Path:
    """`vgos report 2025-09-23 --out pack.html` of the demo window (exit 0)."""
    out = demo_window.home.parent / "pack" / "evidence-2025-09-23.html"
    code, stdout, stderr = run_vgos("report", WINDOW, "--out", out)
    assert code == 0, stderr
    assert f"wrote {out}" in stdout and "VERIFIED" in stdout
    return out
