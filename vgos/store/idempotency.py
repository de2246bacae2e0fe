"""The tenant's idempotency index of kept event ids (SPEC §3 step 2, `DUPLICATE_PRIOR_WINDOW`), migration 0006.

`publish_transcript` records, in the transaction that adds the transcript_index row, the kept event ids of the
published seal: one `event_index_seals` row per (tenant, window, output_digest) and one `event_index` row per kept
id. Both tables are append-only (database triggers). A re-publish of the same digest adds nothing; a re-seal adds
the new digest's ids beside the old ones.

An id is *kept in an earlier sealed window* when it is kept by the **current** seal (the latest transcript_index
row) of another window of the same tenant. A re-seal of window W that drops an id therefore releases it: the old
digest's rows stay, but they no longer belong to W's current seal. A window never matches its own ids.

Lookups never run one query per id: on SQLite the ids go in chunks, each bound as one JSON array (`json_each`); on
PostgreSQL (psycopg2) they are copied into a temporary table that one query joins. The kept ids are written with
one statement per chunk (SQLite) or COPY (PostgreSQL).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import polars as pl
from sqlalchemy import BigInteger, Connection, Index, Integer, String, UniqueConstraint, and_, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from vgos.store.acceptance import TranscriptIndex
from vgos.store.base import Base
from vgos.store.lite import merge_matches, probe_ids

LOOKUP_CHUNK = 50_000
INSERT_CHUNK = 200_000


class EventIndexSeal(Base):
    """One published seal whose kept event ids are in `event_index` (once per tenant, window and digest)."""

    __tablename__ = "event_index_seals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "window_id", "output_digest", name="uq_event_index_seals_seal"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    window_id: Mapped[str] = mapped_column(String(32))
    output_digest: Mapped[str] = mapped_column(String(64))
    seal_ref: Mapped[int] = mapped_column(Integer)  # transcript_index.id of the publish that indexed the seal
    events: Mapped[int] = mapped_column(BigInteger)  # kept events of the seal (= rows in event_index)
    created_at: Mapped[str] = mapped_column(String(40))


class EventIndexEntry(Base):
    """One event id kept by one indexed seal (`seal_id` is event_index_seals.id)."""

    __tablename__ = "event_index"
    __table_args__ = (Index("ix_event_index_lookup", "tenant_id", "event_id"), {"sqlite_with_rowid": False})

    seal_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))


TABLES = [m.__table__ for m in (EventIndexSeal, EventIndexEntry)]


# ---------------------------------------------------------------------------------------------- writing


def index_kept_events(s: Session, transcript: TranscriptIndex, event_ids: pl.Series | Iterable[str]) -> bool:
    """Record a published seal's kept event ids in the session's transaction; False when already indexed."""
    found = s.scalar(select(EventIndexSeal.id).where(
        EventIndexSeal.tenant_id == transcript.tenant_id, EventIndexSeal.window_id == transcript.window_id,
        EventIndexSeal.output_digest == transcript.output_digest))
    if found is not None:
        return False
    ids = (event_ids if isinstance(event_ids, pl.Series) else pl.Series(list(event_ids), dtype=pl.String))
    ids = ids.cast(pl.String).sort()  # kept ids are unique; key order makes the b-tree inserts append-like
    seal = EventIndexSeal(tenant_id=transcript.tenant_id, window_id=transcript.window_id,
                          output_digest=transcript.output_digest, seal_ref=transcript.id, events=len(ids),
                          created_at=transcript.created_at)
    s.add(seal)
    s.flush()
    _insert_ids(s.connection(), seal.id, transcript.tenant_id, ids)
    return True


def _chunks(ids: pl.Series, size: int) -> Iterator[pl.Series]:
    for start in range(0, len(ids), size):
        yield ids.slice(start, size)


def _insert_ids(conn: Connection, seal_id: int, tenant_id: str, ids: pl.Series) -> None:
    """Bulk insert of (seal_id, tenant_id, event_id) rows without a Python object per row where the driver allows."""
    dialect, driver = conn.dialect.name, conn.dialect.driver
    if dialect == "sqlite":
        sql = "INSERT INTO event_index (seal_id, tenant_id, event_id) SELECT ?, ?, value FROM json_each(?)"
        for chunk in _chunks(ids, INSERT_CHUNK):
            conn.exec_driver_sql(sql, (seal_id, tenant_id, orjson.dumps(chunk.to_list()).decode()))
        return
    if dialect == "postgresql" and driver == "psycopg2":
        cur = conn.connection.cursor()
        try:
            for chunk in _chunks(ids, INSERT_CHUNK):
                buf = io.BytesIO()
                pl.DataFrame({"seal_id": pl.repeat(seal_id, len(chunk), eager=True, dtype=pl.Int64),
                              "tenant_id": pl.repeat(tenant_id, len(chunk), eager=True, dtype=pl.String),
                              "event_id": chunk}).write_csv(buf, include_header=False, quote_style="always")
                buf.seek(0)
                cur.copy_expert("COPY event_index (seal_id, tenant_id, event_id) FROM STDIN WITH (FORMAT csv)", buf)
        finally:
            cur.close()
        return
    table = EventIndexEntry.__table__
    for chunk in _chunks(ids, INSERT_CHUNK):
        conn.execute(insert(table), [{"seal_id": seal_id, "tenant_id": tenant_id, "event_id": e} for e in chunk])


# ---------------------------------------------------------------------------------------------- lookups


def current_seals(conn: Connection, tenant_id: str, exclude_window: str | None = None) -> dict[int, str]:
    """seal id → window_id of the indexed seals that are their window's current transcript (other windows only)."""
    latest = (select(func.max(TranscriptIndex.id)).where(TranscriptIndex.tenant_id == tenant_id)
              .group_by(TranscriptIndex.window_id))
    q = (select(EventIndexSeal.id, EventIndexSeal.window_id)
         .join(TranscriptIndex, and_(TranscriptIndex.tenant_id == EventIndexSeal.tenant_id,
                                     TranscriptIndex.window_id == EventIndexSeal.window_id,
                                     TranscriptIndex.output_digest == EventIndexSeal.output_digest))
         .where(EventIndexSeal.tenant_id == tenant_id, TranscriptIndex.id.in_(latest)))
    if exclude_window is not None:
        q = q.where(EventIndexSeal.window_id != exclude_window)
    return {sid: w for sid, w in conn.execute(q)}


def _lookup_chunks(conn: Connection, tenant_id: str, ids: pl.Series) -> Iterator[list[tuple[str, int]]]:
    """(event_id, seal_id) rows of the index for the ids, in batches; raw DBAPI cursors skip per-row processing."""
    dialect, driver = conn.dialect.name, conn.dialect.driver
    if dialect == "sqlite":
        cur = conn.connection.cursor()
        try:
            for chunk in _chunks(ids, LOOKUP_CHUNK):
                cur.execute("SELECT event_id, seal_id FROM event_index WHERE tenant_id = ? "
                            "AND event_id IN (SELECT value FROM json_each(?))",
                            (tenant_id, orjson.dumps(chunk.to_list()).decode()))
                yield cur.fetchall()
        finally:
            cur.close()
        return
    if dialect == "postgresql" and driver == "psycopg2":
        cur = conn.connection.cursor()
        try:
            cur.execute("CREATE TEMPORARY TABLE vgos_prior_probe (event_id text NOT NULL) ON COMMIT DROP")
            buf = io.BytesIO()
            ids.to_frame("event_id").write_csv(buf, include_header=False, quote_style="always")
            buf.seek(0)
            cur.copy_expert("COPY vgos_prior_probe (event_id) FROM STDIN WITH (FORMAT csv)", buf)
            cur.execute("ANALYZE vgos_prior_probe")  # row count and distinct ids for the join plan
            cur.execute("SELECT e.event_id, e.seal_id FROM vgos_prior_probe p JOIN event_index e "
                        "ON e.tenant_id = %s AND e.event_id = p.event_id", (tenant_id,))
            while rows := cur.fetchmany(LOOKUP_CHUNK):
                yield rows
        finally:
            cur.close()
        return
    e = EventIndexEntry
    for chunk in _chunks(ids, LOOKUP_CHUNK):
        yield [tuple(r) for r in conn.execute(
            select(e.event_id, e.seal_id).where(e.tenant_id == tenant_id, e.event_id.in_(chunk.to_list())))]


def lookup_matches(conn: Connection, tenant_id: str, window_id: str, event_ids: Any) -> dict[str, str]:
    """`prior_matches` on an open connection."""
    seals = current_seals(conn, tenant_id, window_id)
    if not seals:
        return {}
    return merge_matches(seals, _lookup_chunks(conn, tenant_id, probe_ids(event_ids)))


def prior_matches(tenant_id: str, window_id: str, event_ids: Any, db_url: str | None = None) -> dict[str, str]:
    """event_id → window_id for the ids kept by the current seal of another window of the tenant, sorted by id.

    `event_ids` is a polars Series or any iterable of strings (repeats and nulls are ignored). When an id is kept
    by several windows' current seals, the smallest window_id is named.
    """
    from vgos.store.db import get_engine

    with get_engine(db_url).begin() as conn:  # one transaction: PostgreSQL's probe table drops at its end
        return lookup_matches(conn, tenant_id, window_id, event_ids)


def prior_lookup(tenant_id: str, window_id: str, db_url: str | None = None) -> Callable[[pl.Series], dict[str, str]]:
    """A `vgos.fold.PriorLookup` bound to the tenant, the window being folded and the store (`vgos.store.lite`
    answers it through sqlite3 when the store is a current SQLite file, this module otherwise)."""
    from vgos.store.lite import prior_lookup as lookup

    return lookup(tenant_id, window_id, db_url)
