"""In-memory record store of the sandbox: records by (type, internalId) with a unique externalId index."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StoredRecord:
    """One record: SOAP records keep their XML fields by name; REST records keep JSON fields."""

    record_type: str
    internal_id: str
    external_id: str | None
    xsi_type: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


class RecordStore:
    """Thread-safe store; upsert by externalId never creates a second record for the same key."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._next_id = 1000
        self.records: dict[tuple[str, str], StoredRecord] = {}
        self._by_external: dict[tuple[str, str], str] = {}

    def upsert(self, record_type: str, external_id: str, merge) -> tuple[StoredRecord, bool]:
        """Create or update the record with this externalId; merge(existing_or_None) returns new fields."""
        with self._lock:
            iid = self._by_external.get((record_type, external_id))
            existing = self.records.get((record_type, iid)) if iid else None
            created = existing is None
            if created:
                self._next_id += 1
                iid = str(self._next_id)
                existing = StoredRecord(record_type, iid, external_id)
                self.records[(record_type, iid)] = existing
                self._by_external[(record_type, external_id)] = iid
            merge(existing)
            return existing, created

    def get(self, record_type: str, *, internal_id: str | None = None,
            external_id: str | None = None) -> StoredRecord | None:
        with self._lock:
            if internal_id is None and external_id is not None:
                internal_id = self._by_external.get((record_type, external_id))
            return self.records.get((record_type, internal_id or ""))

    def all(self, record_type: str | None = None) -> list[StoredRecord]:
        """Records in creation order (optionally of one type)."""
        with self._lock:
            recs = [r for r in self.records.values() if record_type is None or r.record_type == record_type]
        return sorted(recs, key=lambda r: int(r.internal_id))
