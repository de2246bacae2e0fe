"""Append-only audit log: who changed what state, when, and under which correlation id.

Every command or asset that changes state calls `record`; auditors read it with `query` or `vgos audit D`.
Rows cannot be updated or deleted (database triggers, migration 0003).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from vgos.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Connection

# The columns of `audit_log` (vgos.store.ledger.AuditRecord) that a record fills; `id` is assigned by the database.
COLUMNS = ("at", "actor_id", "actor_type", "action", "resource", "window_id", "correlation_id", "diff_summary")
_INSERT_SQL = f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

_WINDOW_RE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


def utc_text(value: datetime | str, field: str) -> str:
    """Canonical UTC timestamp text (SPEC §1 form); naive or malformed times are refused, field named."""
    if isinstance(value, str):
        text = value.strip()
        if not _TS_RE.match(text):
            raise InputError(f"{field}: {value!r} is not an RFC 3339 timestamp with Z or an offset")
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"{field}: {value!r} is not a valid timestamp ({exc})") from exc
    if not isinstance(value, datetime):
        raise InputError(f"{field}: expected a timestamp, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{field}: naive timestamp {value.isoformat()} has no UTC offset")
    utc = value.astimezone(UTC)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(fmt)


def window_of(resource: str) -> str | None:
    """The window id (YYYY-MM-DD) named in a resource string such as `window/2025-09-23`, if exactly one."""
    found = set(_WINDOW_RE.findall(resource or ""))
    return found.pop() if len(found) == 1 else None


def _row(
    actor_id: str,
    actor_type: str,
    action: str,
    resource: str,
    correlation_id: str | None,
    at: datetime | str,
    diff_summary: dict[str, Any] | str | None,
    window_id: str | None,
) -> dict[str, Any]:
    for name, value in (
        ("actor_id", actor_id),
        ("actor_type", actor_type),
        ("action", action),
        ("resource", resource),
    ):
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"audit record: {name} must be a non-empty string, got {value!r}")
    if isinstance(diff_summary, str):
        summary = diff_summary
    else:
        summary = orjson.dumps(diff_summary or {}, option=orjson.OPT_SORT_KEYS, default=str).decode()
    return {
        "at": utc_text(at, "audit record: at"),
        "actor_id": actor_id,
        "actor_type": actor_type,
        "action": action,
        "resource": resource,
        "window_id": window_id if window_id is not None else window_of(resource),
        "correlation_id": correlation_id,
        "diff_summary": summary,
    }


def record_on(
    conn: Connection,
    actor_id: str,
    actor_type: str,
    action: str,
    resource: str,
    correlation_id: str | None,
    at: datetime | str,
    diff_summary: dict[str, Any] | str | None,
    *,
    window_id: str | None = None,
) -> None:
    """Append an audit row inside the caller's transaction, so the change and its record commit together."""
    from sqlalchemy import insert

    from vgos.store.ledger import AuditRecord

    conn.execute(
        insert(AuditRecord),
        [_row(actor_id, actor_type, action, resource, correlation_id, at, diff_summary, window_id)],
    )


def record(
    actor_id: str,
    actor_type: str,
    action: str,
    resource: str,
    correlation_id: str | None,
    at: datetime | str,
    diff_summary: dict[str, Any] | str | None,
    *,
    window_id: str | None = None,
    url: str | None = None,
) -> None:
    """Append one audit row; `window_id` defaults to the single YYYY-MM-DD found in `resource`.

    On a SQLite store that is already migrated the row goes in through sqlite3 (`vgos.store.lite`), so a short
    command does not import SQLAlchemy and alembic for one INSERT; otherwise the ORM path creates or migrates it.
    """
    row = _row(actor_id, actor_type, action, resource, correlation_id, at, diff_summary, window_id)
    from vgos.store.lite import current_sqlite, transaction

    path = current_sqlite(url)
    if path is not None:
        with transaction(path) as conn:
            conn.execute(_INSERT_SQL, tuple(row[c] for c in COLUMNS))
        return
    from vgos.store.db import get_engine

    with get_engine(url).begin() as conn:
        record_on(conn, actor_id, actor_type, action, resource, correlation_id, at, diff_summary,
                  window_id=window_id)


def query(
    window_id: str | None = None,
    actor_id: str | None = None,
    *,
    action: str | None = None,
    url: str | None = None,
) -> list[dict[str, Any]]:
    """Audit rows in append order, filtered by window, actor and/or action; diff_summary decoded."""
    from sqlalchemy import select

    from vgos.store.db import get_engine
    from vgos.store.ledger import AuditRecord

    stmt = select(AuditRecord.__table__).order_by(AuditRecord.id)
    if window_id is not None:
        stmt = stmt.where(AuditRecord.window_id == window_id)
    if actor_id is not None:
        stmt = stmt.where(AuditRecord.actor_id == actor_id)
    if action is not None:
        stmt = stmt.where(AuditRecord.action == action)
    with get_engine(url).connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    for r in rows:
        try:
            r["diff_summary"] = orjson.loads(r["diff_summary"])
        except orjson.JSONDecodeError:
            pass
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of audit rows for the CLI."""
    if not rows:
        return "no audit records"
    lines = []
    for r in rows:
        summary = r["diff_summary"]
        text = summary if isinstance(summary, str) else orjson.dumps(summary, option=orjson.OPT_SORT_KEYS).decode()
        lines.append(
            f"{r['at']}  {r['actor_type']}:{r['actor_id']}  {r['action']}  {r['resource']}"
            f"  corr={r['correlation_id'] or '-'}  {text}"
        )
    return "\n".join(lines)


def note(action: str, resource: str, diff_summary: dict[str, Any] | str | None, *, window_id: str | None = None,
         correlation_id: str | None = None, url: str | None = None) -> None:
    """Record a state change by the current actor (`VGOS_ACTOR`/`VGOS_ACTOR_TYPE`, else the OS user), now."""
    import datetime as dt
    import getpass
    import os

    actor = os.environ.get("VGOS_ACTOR") or getpass.getuser()
    actor_type = os.environ.get("VGOS_ACTOR_TYPE") or "user"
    record(actor, actor_type, action, resource, correlation_id or os.environ.get("VGOS_CORRELATION_ID"),
           dt.datetime.now(dt.UTC), diff_summary, window_id=window_id, url=url)
