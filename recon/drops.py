"""Provider-report drop zone (`<drop zone>/reports/`, local folder or S3): restart-safe scanning for a sensor."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from connectors.psp.receipts import FORMATS
from connectors.psp.reports import detect_format
from vgos.storage import BlobStore, LocalBlobStore, S3BlobStore, open_store

PREFIX = "reports"


@dataclass(frozen=True)
class ReportDrop:
    """A report file found in the drop zone; run_key depends only on its content."""

    key: str
    url: str
    sha256: str
    format: str | None
    mtime_ns: int

    @property
    def run_key(self) -> str:
        """Content-based run key: the same bytes dropped twice (or under two names) give one run; the same bytes
        moved under `reports/<format>/` (after a quarantine for the wrong format) are read once more."""
        return f"provider-report-{self.format or 'unknown'}-{self.sha256}"


@dataclass(frozen=True)
class ScanResult:
    """New drops since the cursor, and the cursor to store for the next tick."""

    drops: list[ReportDrop]
    cursor: str


def _listing(store: BlobStore) -> list[tuple[str, int]]:
    """(key, mtime in ns) of the objects under reports/, hidden and temp files skipped."""
    if isinstance(store, LocalBlobStore):
        base = Path(store.root)
        return [(k, (base / k).stat().st_mtime_ns) for k in store.list(PREFIX)]
    if isinstance(store, S3BlobStore):
        out = []
        full = (store.prefix + "/" if store.prefix else "") + PREFIX + "/"
        for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                key = obj["Key"][len(store.prefix) + 1:] if store.prefix else obj["Key"]
                out.append((key, int(obj["LastModified"].timestamp() * 1_000_000_000)))
        return sorted(out)
    return [(k, 0) for k in store.list(PREFIX)]


def format_hint(key: str, data: bytes) -> str | None:
    """`reports/<format>/file` names the format; otherwise it is detected from the content."""
    parts = key.split("/")
    if len(parts) >= 3 and parts[1] in FORMATS:
        return parts[1]
    return detect_format(data)


def scan_report_drops(root: str, cursor: str | None, *, store: BlobStore | None = None) -> ScanResult:
    """Files added or rewritten since the cursor (high-water mtime + keys seen at that mtime)."""
    store = store or open_store(root)
    state = json.loads(cursor) if cursor else {"t": -1, "keys": []}
    hw, at_hw = int(state["t"]), set(state["keys"])
    drops: list[ReportDrop] = []
    new_hw, new_keys = hw, set(at_hw)
    for key, mtime in sorted(_listing(store), key=lambda x: (x[1], x[0])):
        name = key.rsplit("/", 1)[-1]
        if name.startswith(".") or name.endswith(".tmp"):
            continue
        if mtime < hw or (mtime == hw and key in at_hw):
            continue
        data = store.get(key)
        drops.append(ReportDrop(key, store.url(key), hashlib.sha256(data).hexdigest(), format_hint(key, data),
                                mtime))
        if mtime > new_hw:
            new_hw, new_keys = mtime, {key}
        elif mtime == new_hw:
            new_keys.add(key)
    return ScanResult(drops, json.dumps({"t": new_hw, "keys": sorted(new_keys)}, sort_keys=True))
