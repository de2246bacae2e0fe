"""Principal -> NetSuite vendor mapping file (YAML or CSV); a principal without a vendor is never guessed.

YAML: a mapping `principal_id: vendor_internal_id` (optionally under a top-level `vendors:` key).
CSV: a header `principal_id,vendor_id` then one row per principal.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from vgos.errors import InputError


def load_vendor_map(path: str | Path) -> dict[str, str]:
    """Read the mapping; duplicates, blanks and bad shapes are errors naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read vendor map: {exc.strerror}") from exc
    out: dict[str, str] = {}
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not {"principal_id", "vendor_id"} <= set(reader.fieldnames):
            raise InputError(f"{path}:1: header must contain principal_id,vendor_id")
        for row in reader:
            line = reader.line_num
            pid, vid = (row.get("principal_id") or "").strip(), (row.get("vendor_id") or "").strip()
            if not pid or not vid:
                raise InputError(f"{path}:{line}: field {'principal_id' if not pid else 'vendor_id'} is empty")
            if pid in out:
                raise InputError(f"{path}:{line}: field principal_id: duplicate {pid!r}")
            out[pid] = vid
        return out
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("vendors"), dict):
        data = data["vendors"]
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: vendor map must be a mapping principal_id: vendor_id")
    for pid, vid in data.items():
        if vid is None or str(vid).strip() == "":
            raise InputError(f"{path}: field {pid}: vendor id is empty")
        out[str(pid)] = str(vid)
    return out
