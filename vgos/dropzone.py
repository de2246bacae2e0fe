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


@dataclass(frozen=True)
class WindowDrop:
    """New or changed event files for one window, found by a scan of the drop zone."""

    window_id: str
    files: tuple[tuple[str, str], ...]  # (key, sha256), by key

    @property
    def run_key(self) -> str:
        """Content-based: the files' keys and sha256s (re-dropping the same bytes gives the same key)."""
        joined = "\n".join(f"{k}@{h}" for k, h in self.files)
        return f"events/{self.window_id}:{hashlib.sha256(joined.encode()).hexdigest()}"


def scan_event_drops(zone: BlobStore, cursor: dict[str, list[str]]) -> tuple[list[WindowDrop], dict[str, list[str]]]:
    """Files under `events/<window_id>/` not yet seen with these bytes; cursor maps key → [fingerprint, sha256]."""
    import datetime as dt

    new_cursor = dict(cursor)
    found: dict[str, list[tuple[str, str]]] = {}
    for key in zone.list(EVENTS):
        parts = key.split("/")
        if len(parts) != 3 or "." + parts[2].rsplit(".", 1)[-1].lower() not in FORMATS:
            continue
        try:
            dt.date.fromisoformat(parts[1])
        except ValueError:
            continue
        fp = zone.fingerprint(key)
        seen = cursor.get(key)
        if seen and seen[0] == fp:
            continue
        sha = hashlib.sha256(zone.get(key)).hexdigest()
        new_cursor[key] = [fp, sha]
        if seen and seen[1] == sha:
            continue  # touched, same bytes
        found.setdefault(parts[1], []).append((key, sha))
    drops = [WindowDrop(w, tuple(sorted(found[w]))) for w in sorted(found)]
    return drops, dict(sorted(new_cursor.items()))
