"""Drop-zone conventions: where a window's event files, proofs and provider reports land, and snapshots of them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from vgos.events import FORMATS
from vgos.storage import BlobStore

EVENTS = "events"
PROOFS = "proofs"
REPORTS = "reports"


@dataclass(frozen=True)
class DroppedFile:
    """One event file of a window: its drop-zone key, name, sha256 and size."""

    key: str
    name: str
    sha256: str
    size: int


def window_event_keys(zone: BlobStore, window_id: str) -> list[str]:
    """Keys of the window's event files under `events/<window_id>/`, by name."""
    keys = zone.list(f"{EVENTS}/{window_id}")
    return [k for k in keys if "." + k.rsplit(".", 1)[-1].lower() in FORMATS]


def snapshot_window(zone: BlobStore, artifacts: BlobStore, window_id: str) -> list[DroppedFile]:
    """Copy the window's event files into write-once, content-addressed artifacts (`raw/<sha256>/<name>`)."""
    out = []
    for key in window_event_keys(zone, window_id):
        data = zone.get(key)
        sha = hashlib.sha256(data).hexdigest()
        name = key.rsplit("/", 1)[-1]
        artifacts.put(f"raw/{sha}/{name}", data, write_once=True)
        out.append(DroppedFile(key, name, sha, len(data)))
    return out
