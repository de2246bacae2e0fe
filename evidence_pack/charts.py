"""Inline SVG bar charts: drawn from integers only, no script and no external asset, so the page stays static."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

COLORS = {"ok": "#2e7d32", "warn": "#ef6c00", "bad": "#c62828", "info": "#1565c0", "muted": "#78909c"}
_ROW_H, _LABEL_W, _BAR_W, _VALUE_W = 22, 190, 360, 150


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its size (an integer, e.g. minor units or a count), the text shown and its tone."""

    label: str
    value: int
    text: str
    tone: str = "info"


def bar_chart(title: str, bars: list[Bar], *, chart_id: str) -> str:
    """A horizontal bar chart as an inline <svg>; bar lengths are proportional to the largest |value|."""
    width = _LABEL_W + _BAR_W + _VALUE_W
    if not bars:
        return (f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-label="{escape(title)}: no data" '
                f'width="{width}" height="40" viewBox="0 0 {width} 40" xmlns="http://www.w3.org/2000/svg">'
                f'<title>{escape(title)}</title><text x="4" y="24" class="empty">no data</text></svg>')
    top = max(abs(b.value) for b in bars) or 1
    height = _ROW_H * len(bars) + 8
    parts = [f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-label="{escape(title)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for i, b in enumerate(bars):
        y = 4 + i * _ROW_H
        length = max(1, abs(b.value) * _BAR_W // top) if b.value else 0
        color = COLORS.get(b.tone, COLORS["info"])
        label = b.label if len(b.label) <= 28 else b.label[:27] + "…"
        parts.append(f'<text x="{_LABEL_W - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{_LABEL_W}" y="{y + 3}" width="{length}" height="{_ROW_H - 6}" fill="{color}">'
                     f"<title>{escape(b.label)}: {escape(b.text)}</title></rect>"
                     f'<text x="{_LABEL_W + length + 6}" y="{y + 15}">{escape(b.text)}</text>')
    parts.append("</svg>")
    return "".join(parts)
