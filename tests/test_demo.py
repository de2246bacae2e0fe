"""`vgos demo` (what `make demo` runs) end to end in isolated homes: every step prints its result."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_end_to_end_leaves_an_audit_trail_and_pays_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VGOS_", "NETSUITE_", "AWS_"))}
    env.update(VGOS_HOME=str(tmp_path / "vh"), DAGSTER_HOME=str(tmp_path / "dh"), VGOS_ACTOR="ops-demo")
    proc = subprocess.run([str(Path(sys.executable).parent / "vgos"), "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "kept 3, rejected 2 (AFTER_CUTOFF 1, DUPLICATE_EVENT 1)" in out
    assert "totals: net 10.10 USD, bonus 1.00 USD, carry 0.01 USD, payout 11.11 USD" in out
    assert re.search(r"CRE-0003\s+1\s+4\.15 USD\s+0\.41 USD\s+0\.00 USD\s+4\.56 USD", out)
    # one money format and no raw Markdown or Python dicts on the terminal
    assert " minor" not in out and "|---" not in out and "**" not in out and "{'" not in out
    assert "NETSUITE_TIMEZONE is not set" not in proc.stderr
    assert "vgos verify: VERIFIED" in out
    assert re.search(r"CRE-0001\s+3\.80 USD\s+ALLOW", out)
    assert re.search(r"CRE-0002\s+2\.75 USD\s+HOLD\s+CT_HOLD", out)
    assert re.search(r"CRE-0003\s+4\.56 USD\s+ALLOW", out)
    # every step went through Dagster: sensors evaluated on the drops, the runs they requested
    for line in ("event_drop_sensor → run ", "proof_drop_sensor → run ", "provider_report_sensor → run "):
        assert line in out, line
    assert "2 transactions, CtrlSum 8.36 USD" in out
    assert "NetSuite vendor bills: created 3, updated 0, unchanged 0, failed 0; read-back drift: none" in out
    assert "settlement_evidence: 1 batch(es) CONFIRMED, 0 MISMATCH; SPV proofs accepted: 1" in out
    assert "2/2 matched" in out and "fully reconciled: True" in out
    assert re.search(r"CRE-0001\s+PAYOUT\s+3\.80 USD\s+SETTLED", out)
    assert re.search(r"CRE-0003\s+PAYOUT\s+4\.56 USD\s+SETTLED", out)
    assert re.search(r"CRE-0002\s+PAYOUT\s+2\.75 USD\s+AUTHORIZED", out)  # held by compliance: accrued, not paid
    assert re.search(r"asset:bank\s+0\.00 USD\s+8\.36 USD", out) and re.search(r"total\s+.*USD.*balanced", out)
    assert "ledger against the registry: OK" in out
    assert "Dagster: 17/17 assets materialized for 2025-09-23, 8/8 checks passed" in out
    pack = Path(re.search(r"evidence pack: (\S+\.html)", out).group(1))
    assert pack.is_file() and "2025-09-23" in pack.read_text()
    assert (tmp_path / "dh" / "dagster.yaml").exists()
    digest = re.search(r"output_digest ([0-9a-f]{64})", out).group(1)
    assert (tmp_path / "vh" / "artifacts" / "transcripts" / "default" / "2025-09-23" / digest / "checkpoint").exists()

    # every state change is in the audit log, under the actor who ran it
    proc = subprocess.run([str(Path(sys.executable).parent / "vgos"), "audit", "2025-09-23"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, check=True)
    for action in ("transcript.publish", "proof.submit", "gate.authorize", "batch.create", "recon.run",
                   "netsuite.sync", "payouts.batch", "payouts.evidence"):
        assert action in proc.stdout, action
    assert "ops-demo" in proc.stdout
    # a second `make demo` pays nothing
    again = subprocess.run([str(Path(sys.executable).parent / "vgos"), "demo"], cwd=tmp_path, env=env, check=True,
                           capture_output=True, text=True, timeout=600)
    assert "no new batch (the window was paid before)" in again.stdout
    assert "ALREADY_PAID in batch VGB20250923-" in again.stdout
    assert "ledger against the registry: OK" in again.stdout
    assert "event_drop_sensor: no run" in again.stdout  # the same bytes are already the window's raw_events
    assert "8/8 checks passed" in again.stdout
