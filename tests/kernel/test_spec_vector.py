"""SPEC §6 reproduced: the seed demo window's allocations, totals, rejects and digests."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from vgos.fold import fold_files, fold_reference
from vgos.policy import load_policy
from vgos_app.demo import seed_events_path

ZERO = "0" * 64
INPUT_DIGEST = "375daa701e4b0f416b72304e72c2323eda4783deec70cb7fc11b94953367e59c"
OUTPUT_DIGEST = "90833464347fd19e2779e0929d7e57b81d4e951f1d96e84eab947d8c4bf97a73"


@pytest.mark.parametrize("fold", [fold_files, fold_reference], ids=["fast", "reference"])
def test_seed_window_matches_spec(fold) -> None:
    r = fold([seed_events_path()], "2025-09-23", load_policy(), policy_hash=ZERO)
    got = {a.principal_id: (a.net_minor, a.bonus_floor_minor, a.remainder_micro, a.carry_minor, a.payout_minor)
           for a in r.allocations}
    assert got == {
        "CRE-0001": (345, 34, 500000, 1, 380),
        "CRE-0002": (250, 25, 0, 0, 275),
        "CRE-0003": (415, 41, 500000, 0, 456),
    }
    assert r.totals == {
        "events_kept": 3, "events_rejected": 2, "principals": 3, "net_minor": 1010, "bonus_floor_minor": 100,
        "carry_minor": 1, "payout_minor": 1111, "remainder_micro_total": 1000000, "residual_micro": 0,
    }
    assert [(x.event_id, x.reason) for x in r.rejects] == [("e2", "DUPLICATE_EVENT"), ("e4", "AFTER_CUTOFF")]
    assert r.input_digest == INPUT_DIGEST
    assert r.output_digest == OUTPUT_DIGEST
    assert r.seal["window"]["tenant_id"] == "default"
    assert r.seal["window"]["close_ts"] == "2025-09-23T21:00:00Z"
    assert r.seal["window"]["cutoff_ts"] == "2025-09-23T20:50:00Z"
    assert r.seal["window"]["open_cutoff_ts"] == "2025-09-22T20:50:00Z"


def test_real_policy_hash_is_the_manifest_hash() -> None:
    policy = load_policy()
    r = fold_files([seed_events_path()], "2025-09-23", policy)
    assert r.seal["window"]["policy_hash"] == hashlib.sha256(policy.manifest_bytes).hexdigest()
    assert r.output_digest == hashlib.sha256(r.seal_bytes).hexdigest()
    assert r.input_digest == INPUT_DIGEST


def test_cli_fold_writes_every_output(tmp_path: Path, vgos_home: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "vgos_app.cli", "fold", "--events", str(seed_events_path()), "--window-id",
         "2025-09-23", "--out", str(out)], capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    digest = (out / "output_digest").read_text()
    assert digest.endswith("\n") and len(digest) == 65
    assert hashlib.sha256((out / "seal.json").read_bytes()).hexdigest() == digest.strip()
    assert digest.strip() in proc.stdout
    rejects = (out / "rejects.jsonl").read_text().splitlines()
    assert len(rejects) == 2 and '"source":"' in rejects[0] and "seed_events.jsonl:3" in rejects[0]
    alloc = (out / "allocations.csv").read_text().splitlines()
    assert alloc[0].startswith("principal_id,events,net_minor")
    assert alloc[1:] == ["CRE-0001,1,345,34,500000,1,380", "CRE-0002,1,250,25,0,0,275",
                         "CRE-0003,1,415,41,500000,0,456"]
    norm = pl.read_parquet(out / "normalized.parquet")
    assert norm.columns == ["event_id", "ts_occurred", "principal_id", "amount_minor", "source_type", "currency"]
    assert norm["event_id"].to_list() == ["e1", "e2", "e3"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp folders left behind"


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_chunked_input_hash_equals_whole(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    import vgos.fold

    monkeypatch.setattr(vgos.fold, "HASH_CHUNK", chunk)
    seen: list[tuple] = []
    r = fold_files([seed_events_path()], "2025-09-23", load_policy(), policy_hash=ZERO,
                   progress=lambda stage, done=None, total=None, unit="events": seen.append((stage, done, total)))
    assert r.input_digest == INPUT_DIGEST and r.output_digest == OUTPUT_DIGEST
    # the setting is read when the fold runs: the 3 kept events were hashed in chunks of `chunk`
    done = [d for stage, d, _ in seen if stage == "hashing input"]
    assert done == ([min(i + chunk, 3) for i in range(0, 3, chunk)] if chunk < 3 else [])
