"""Byte forms of a window's intermediate results (normalized log, fold) so they can be stored and reloaded.

Frames are Parquet, seals their exact RFC 8785 bytes, metadata RFC 8785 JSON: never pickle.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import orjson
import polars as pl

from vgos.canonical import jcs_bytes
from vgos.events import Reject
from vgos.fold import FoldResult, Intake, result_from_seal
from vgos.outputs import allocations_csv, rejects_jsonl
from vgos.policy import policy_from_manifest, window_bounds


def parquet_bytes(df: pl.DataFrame) -> bytes:
    """A frame as Parquet bytes."""
    buf = io.BytesIO()
    df.write_parquet(buf, compression="zstd")
    return buf.getvalue()


def dump_intake(intake: Intake) -> dict[str, bytes]:
    """normalized.parquet, rejects.jsonl and intake.json (window, policy manifest, input files, prior matches)."""
    meta = {"window_id": intake.window.window_id, "policy": intake.policy.manifest(),
            "input_files": [{"name": n, "sha256": h} for n, h in intake.input_files]}
    if intake.prior:  # only when there are DUPLICATE_PRIOR_WINDOW matches: other intake.json bytes stay as they were
        meta["prior_windows"] = [{"event_id": e, "window_id": w} for e, w in sorted(intake.prior.items())]
    return {"normalized.parquet": parquet_bytes(intake.kept), "rejects.jsonl": rejects_jsonl(intake),
            "intake.json": jcs_bytes(meta)}


def load_intake(files: Mapping[str, bytes]) -> Intake:
    """Inverse of `dump_intake`."""
    meta = orjson.loads(files["intake.json"])
    policy = policy_from_manifest(meta["policy"], "<stored intake>")
    kept = pl.read_parquet(io.BytesIO(files["normalized.parquet"]))
    rejects = [Reject(**orjson.loads(line)) for line in files["rejects.jsonl"].splitlines() if line.strip()]
    return Intake(window_bounds(meta["window_id"], policy), policy, kept, rejects,
                  [(f["name"], f["sha256"]) for f in meta["input_files"]],
                  {p["event_id"]: p["window_id"] for p in meta.get("prior_windows", [])})


def dump_fold(result: FoldResult) -> dict[str, bytes]:
    """seal.json (exact hashed bytes), output_digest and allocations.csv."""
    return {"seal.json": result.seal_bytes, "output_digest": (result.output_digest + "\n").encode(),
            "allocations.csv": allocations_csv(result)}


def load_fold(files: Mapping[str, bytes], intake: Intake, tenant_id: str) -> FoldResult:
    """Inverse of `dump_fold`, given the normalized log it was folded from."""
    return result_from_seal(files["seal.json"], intake, tenant_id)
