"""Human-readable summaries of a fold, shared by the CLI, the demo and Dagster metadata."""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vgos.money import minor_to_decimal

if TYPE_CHECKING:  # importing this module stays cheap (the `vgos` command's tables use `table`)
    import polars as pl

    from vgos.fold import FoldResult
    from vgos.seal import Allocation


_NUMERIC = re.compile(r"^[+-]?[0-9][0-9,]*(\.[0-9]+)?%?( [A-Z]{3})?$")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, show_header: bool = True) -> str:
    """A plain fixed-width text table: numbers and amounts (`8.36 USD`) right-aligned, no ANSI codes, no trailing
    blanks. Without the header (`show_header=False`) each line starts with the row's first cell (for scripts).

    The one plain table of the project (Dagster metadata, logs, and `vgos` output that is not a terminal); the
    `vgos` command prints through `vgos_app.render`, which draws the same table with rich on a terminal."""
    cells = [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    right = [bool(col) and all(_NUMERIC.match(c) for c in col)
             for col in ([r[i] for r in cells if r[i] not in ("", "-", "—")] for i in range(len(headers)))]
    line = "  ".join((h.rjust(w) if r else h.ljust(w)) for h, w, r in zip(headers, widths, right, strict=True))
    body = ["  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)).rstrip()
            for row in cells]
    head = [line.rstrip(), "  ".join("-" * w for w in widths)] if show_header else []
    return "\n".join([*head, *body])


def _largest(allocations: list[Allocation], n: int, frame: pl.DataFrame | None = None) -> list[Allocation]:
    """The n largest payouts, ties by principal_id: `sorted(...)[:n]` without sorting every principal.

    With `frame`, the allocations as columns row for row, only those whose payout is at least the n-th largest
    (found column-wise) are compared in Python: the same ones, in the same order."""
    key = lambda a: (-a.payout_minor, a.principal_id)  # noqa: E731
    if n < 0:
        return sorted(allocations, key=key)[:n]
    if frame is not None and 0 < n < frame.height == len(allocations):
        import polars as pl

        payout = frame["payout_minor"]
        least = payout.top_k(n).min()
        rows = payout.to_frame().select(pl.arg_where(pl.col("payout_minor") >= least)).to_series().to_list()
        allocations = [allocations[i] for i in rows]
    return heapq.nsmallest(n, allocations, key=key)


def _allocation_frame(result: FoldResult) -> pl.DataFrame | None:
    """The result's allocations as columns when it kept them that way (with an integer payout column)."""
    frame = getattr(result, "allocation_frame", None)
    if frame is None or "payout_minor" not in frame.columns or not frame.schema["payout_minor"].is_integer():
        return None
    return frame


def fold_summary_parts(result: FoldResult, *, max_rows: int = 20
                       ) -> tuple[list[str], list[str], list[list[object]], list[str]]:
    """The fold summary as (lines before, table headers, table rows, lines after), amounts as `8.36 USD`, so a
    terminal front end can draw the table its own way."""
    t = result.totals
    w = result.seal["window"]
    ccy = w["currency"]

    def money(amount_minor: int) -> str:
        return f"{minor_to_decimal(amount_minor, ccy)} {ccy}"

    head = [
        f"window {w['window_id']} (tenant {w['tenant_id']}, {ccy}): "
        f"{w['open_cutoff_ts']} < ts <= {w['cutoff_ts']}, close {w['close_ts']}",
        f"events kept {t['events_kept']:,}  rejected {t['events_rejected']:,}  principals {t['principals']:,}",
    ]
    if result.rejects:
        head.append("rejects: " + ", ".join(f"{k} {v:,}" for k, v in result.rejects_by_reason().items()))
    headers = ["principal_id", "events", "net", "bonus_floor", "carry", "payout"]
    rows: list[list[object]] = [
        [a.principal_id, a.events, money(a.net_minor), money(a.bonus_floor_minor), money(a.carry_minor),
         money(a.payout_minor)] for a in _largest(result.allocations, max_rows, _allocation_frame(result))]
    tail = []
    if rows and len(result.allocations) > max_rows:
        tail.append(f"... {len(result.allocations) - max_rows:,} more principals")
    tail.append(
        f"totals: net {money(t['net_minor'])}  bonus {money(t['bonus_floor_minor'])}  carry {money(t['carry_minor'])}"
        f"  payout {money(t['payout_minor'])}  (remainder {t['remainder_micro_total']:,} micro-units, residual "
        f"{t['residual_micro']:,})"
    )
    tail.append(f"input_digest  {result.input_digest}")
    tail.append(f"output_digest {result.output_digest}")
    return head, headers, rows, tail


def fold_summary(result: FoldResult, *, max_rows: int = 20) -> str:
    """Counts, totals, rejects by reason, the largest allocations and the digest; amounts as `8.36 USD`."""
    head, headers, rows, tail = fold_summary_parts(result, max_rows=max_rows)
    return "\n".join([*head, *([table(headers, rows)] if rows else []), *tail])


def markdown_allocations(result: FoldResult, limit: int = 10) -> str:
    """Markdown preview of the largest allocations (Dagster metadata)."""
    allocs = _largest(result.allocations, limit)
    rows = ["| principal_id | events | net_minor | bonus_floor_minor | carry_minor | payout_minor |",
            "|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {a.principal_id} | {a.events} | {a.net_minor} | {a.bonus_floor_minor} | {a.carry_minor} | "
             f"{a.payout_minor} |" for a in allocs]
    return "\n".join(rows)
