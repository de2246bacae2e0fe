"""Small HTML building blocks (escaped text, tables, key/value lists, badges) shared by the page's sections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

ROW_LIMIT = 500


def esc(value: object) -> str:
    """Escaped text; None shows as an em dash so an absent value is visibly absent."""
    return "—" if value is None else escape(str(value))


def code(value: object) -> str:
    """A machine value (digest, id, path) in monospace, selectable whole."""
    return f"<code>{esc(value)}</code>"


def badge(text: str, tone: str) -> str:
    """A coloured status word (ok, warn, bad, info, muted)."""
    return f'<span class="badge {escape(tone)}">{esc(text)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = (),
          table_id: str | None = None, limit: int = ROW_LIMIT, more: str = "") -> str:
    """A table of already-escaped cells; columns in `numeric` align right; rows past `limit` are counted, not shown."""
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    body, n = [], 0
    for row in rows:
        n += 1
        if n <= limit:
            body.append("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{c}</td>'
                                         for i, c in enumerate(row)) + "</tr>")
    if not n:
        body.append(f'<tr><td colspan="{len(headers)}" class="none">none</td></tr>')
    tid = f' id="{escape(table_id)}"' if table_id else ""
    note = (f'<p class="note">{n - limit:,} more row(s) not shown{": " + esc(more) if more else ""}.</p>'
            if n > limit else "")
    return f"<table{tid}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def kv(pairs: Iterable[tuple[str, str]], *, dl_id: str | None = None) -> str:
    """A definition list of label → already-escaped value."""
    did = f' id="{escape(dl_id)}"' if dl_id else ""
    return f"<dl{did}>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def section(sid: str, title: str, body: str) -> str:
    """A titled section with an anchor id for the table of contents."""
    return f'<section id="{escape(sid)}"><h2>{esc(title)}</h2>{body}</section>'


def error_line(part: str, error: str) -> str:
    """What could not be read, and why, in place of a section's content."""
    return f'<p class="error">{esc(part)} could not be read: {esc(error)}</p>'
