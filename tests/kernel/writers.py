"""Write event records as JSONL, CSV or Parquet files for tests (the same records in any format)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

FIELDS = ["event_id", "ts_occurred", "principal_id", "amount_minor", "source_type", "currency"]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        for r in records:
            w.writerow(["" if r.get(f) is None else str(r[f]) for f in FIELDS])
    return path


def write_parquet(path: Path, records: list[dict[str, Any]]) -> Path:
    table = pa.table(
        {
            "event_id": pa.array([r.get("event_id") for r in records], pa.string()),
            "ts_occurred": pa.array([r.get("ts_occurred") for r in records], pa.string()),
            "principal_id": pa.array([r.get("principal_id") for r in records], pa.string()),
            "amount_minor": pa.array([r.get("amount_minor") for r in records], pa.int64()),
            "source_type": pa.array([r.get("source_type") for r in records], pa.string()),
            "currency": pa.array([r.get("currency") for r in records], pa.string()),
        }
    )
    pq.write_table(table, path)
    return path


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}


def write(path_stem: Path, fmt: str, records: list[dict[str, Any]]) -> Path:
    return WRITERS[fmt](path_stem.with_suffix("." + fmt), records)
