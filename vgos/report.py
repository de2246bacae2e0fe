"""Human-readable summaries of a fold, shared by the CLI, the demo and Dagster metadata."""

from __future__ import annotations

import heapq

from vgos.fold import FoldResult
from vgos.seal import Allocation


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain fixed-width text table."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.rjust(w) if c.lstrip("-").isdigit() else c.ljust(w)
                      for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def _largest(allocations: list[Allocation], n: int) -> list[Allocation]:
    """The n largest payouts, ties by principal_id: `sorted(...)[:n]` without sorting every principal."""
    key = lambda a: (-a.payout_minor, a.principal_id)  # noqa: E731
    return heapq.nsmallest(n, allocations, key=key) if n >= 0 else sorted(allocations, key=key)[:n]


def fold_summary(result: FoldResult, *, max_rows: int = 20) -> str:
    """Counts, totals, rejects by reason, the largest allocations and the digest."""
    t = result.totals
    w = result.seal["window"]
    lines = [
        f"window {w['window_id']} (tenant {w['tenant_id']}, {w['currency']}): "
        f"{w['open_cutoff_ts']} < ts <= {w['cutoff_ts']}, close {w['close_ts']}",
        f"events kept {t['events_kept']:,}  rejected {t['events_rejected']:,}  principals {t['principals']:,}",
    ]
    if result.rejects:
        lines.append("rejects: " + ", ".join(f"{k} {v:,}" for k, v in result.rejects_by_reason().items()))
    allocs = _largest(result.allocations, max_rows)
    if allocs:
        lines.append(table(
            ["principal_id", "events", "net_minor", "bonus_floor_minor", "carry_minor", "payout_minor"],
            [[a.principal_id, a.events, a.net_minor, a.bonus_floor_minor, a.carry_minor, a.payout_minor]
             for a in allocs]))
        if len(result.allocations) > max_rows:
            lines.append(f"... {len(result.allocations) - max_rows:,} more principals")
    lines.append(
        f"totals: net {t['net_minor']:,}  bonus {t['bonus_floor_minor']:,}  carry {t['carry_minor']:,}  "
        f"payout {t['payout_minor']:,}  (remainder {t['remainder_micro_total']:,} micro, residual "
        f"{t['residual_micro']:,})"
    )
    lines.append(f"input_digest  {result.input_digest}")
    lines.append(f"output_digest {result.output_digest}")
    return "\n".join(lines)


def markdown_allocations(result: FoldResult, limit: int = 10) -> str:
    """Markdown preview of the largest allocations (Dagster metadata)."""
    allocs = _largest(result.allocations, limit)
    rows = ["| principal_id | events | net_minor | bonus_floor_minor | carry_minor | payout_minor |",
            "|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {a.principal_id} | {a.events} | {a.net_minor} | {a.bonus_floor_minor} | {a.carry_minor} | "
             f"{a.payout_minor} |" for a in allocs]
    return "\n".join(rows)
