"""In-memory record store of the sandbox: records by (type, internalId) with a unique externalId index."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StoredRecord:
    """One record: SOAP-shaped XML fields by element name (REST reads and writes the same fields).

    Records of types the sandbox has no XML schema mapping for keep REST JSON fields (xsi_type None).
    `paid` marks a bill a payment was applied to: NetSuite then refuses edits that change it.
    """

    record_type: str
    internal_id: str
    external_id: str | None
    xsi_type: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    paid: bool = False


class RecordStore:
    """Thread-safe store; upsert by externalId never creates a second record for the same key.

    `closed_periods` holds accounting periods (YYYY-MM) in which no transaction may be created or edited.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._next_id = 1000
        self.records: dict[tuple[str, str], StoredRecord] = {}
        self._by_external: dict[tuple[str, str], str] = {}
        self.closed_periods: set[str] = set()

    def upsert(self, record_type: str, external_id: str,
               merge: Callable[[StoredRecord], None]) -> tuple[StoredRecord, bool]:
        """Create or update the record with this externalId; merge(record) applies the request's fields.

        A new record is kept only when merge returns normally, so a refused create leaves no trace.
        """
        with self._lock:
            iid = self._by_external.get((record_type, external_id))
            existing = self.records.get((record_type, iid)) if iid else None
            if existing is not None:
                merge(existing)
                return existing, False
            new = StoredRecord(record_type, str(self._next_id + 1), external_id)
            merge(new)
            self._next_id += 1
            self.records[(record_type, new.internal_id)] = new
            self._by_external[(record_type, external_id)] = new.internal_id
            return new, True

    def update(self, record_type: str, merge: Callable[[StoredRecord], None], *, internal_id: str | None = None,
               external_id: str | None = None) -> StoredRecord | None:
        """Apply merge to an existing record (None when it does not exist); never creates."""
        with self._lock:
            rec = self.get(record_type, internal_id=internal_id, external_id=external_id)
            if rec is not None:
                merge(rec)
            return rec

    def get(self, record_type: str, *, internal_id: str | None = None,
            external_id: str | None = None) -> StoredRecord | None:
        """The record by internalId, else by externalId."""
        with self._lock:
            if internal_id is None and external_id is not None:
                internal_id = self._by_external.get((record_type, external_id))
            return self.records.get((record_type, internal_id or ""))

    def all(self, record_type: str | None = None) -> list[StoredRecord]:
        """Records in creation order (optionally of one type)."""
        with self._lock:
            recs = [r for r in self.records.values() if record_type is None or r.record_type == record_type]
        return sorted(recs, key=lambda r: int(r.internal_id))

    def put(self, record: StoredRecord) -> None:
        """Place a record under its own internalId (account setup: vendors, accounts, field definitions)."""
        with self._lock:
            self.records[(record.record_type, record.internal_id)] = record
            if record.external_id:
                self._by_external[(record.record_type, record.external_id)] = record.internal_id

    def remove(self, record_type: str, internal_id: str) -> None:
        """Delete a record, as an administrator deleting it in the UI would (no error when absent)."""
        with self._lock:
            rec = self.records.pop((record_type, internal_id), None)
            if rec is not None and rec.external_id:
                self._by_external.pop((record_type, rec.external_id), None)

    def close_period(self, period: str) -> None:
        """Close an accounting period (YYYY-MM): transactions dated in it can no longer be written."""
        with self._lock:
            self.closed_periods.add(period)

    def mark_paid(self, record_type: str, external_id: str) -> None:
        """Mark a bill as paid (a bill payment was applied), as a person in AP would."""
        with self._lock:
            rec = self.get(record_type, external_id=external_id)
            if rec is None:
                raise KeyError(external_id)
            rec.paid = True
