"""Great Expectations 1.x suites of a window's intake (called directly: dagster-ge does not support GX 1.x).

Two suites: the raw intake (every record read, kept or rejected, against share thresholds, so bad input fails)
and the normalized log (the kept rows' contract). GX is imported inside the functions only: importing the code
location must not pay for it.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from vgos import events as ev
from vgos.events import MAX_SAFE, SOURCE_TYPES, ts_to_us
from vgos.fold import Intake

CANONICAL_TS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?Z$"
PPM = 1_000_000
KEPT = "KEPT"
# Every intake reason belongs to exactly one measured group, so no kind of reject escapes the thresholds.
GROUPS: dict[str, tuple[str, ...]] = {
    "schema_invalid": (ev.SCHEMA_INVALID, ev.CURRENCY_MISMATCH),
    "duplicate": (ev.DUPLICATE_EVENT, ev.DUPLICATE_PRIOR_WINDOW, ev.EVENT_ID_CONFLICT),
    "late": (ev.BEFORE_WINDOW, ev.AFTER_CUTOFF),
}
assert sorted(r for g in GROUPS.values() for r in g) == sorted(ev.REASONS), "a reason is outside the groups"


@dataclass(frozen=True)
class IntakeThresholds:
    """Largest tolerated share (parts per million of the records read) per group, and the fewest kept records."""

    max_schema_invalid_ppm: int = 10_000  # 1 %: producers send valid events; more is a broken producer
    max_duplicate_ppm: int = 250_000  # 25 %: at-least-once delivery re-sends (the seed window has 1 in 5)
    max_late_ppm: int = 250_000  # 25 %: records outside the window (the seed window has 1 in 5)
    min_kept_records: int = 1  # a window that keeps nothing must not seal green (0 allows empty windows)

    def max_ppm(self, group: str) -> int:
        """The threshold of one group."""
        return int(getattr(self, f"max_{group}_ppm"))


@dataclass
class SuiteOutcome:
    """Whether every expectation held, the ones that did not, and the figures compared (for check metadata)."""

    success: bool
    evaluated: int
    failures: list[dict] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def share_ppm(part: int, whole: int) -> int:
    """part/whole in ppm rounded up, so `share_ppm <= threshold_ppm` exactly when the share is within it."""
    return -(-part * PPM // whole) if whole else 0


def raw_figures(intake: Intake, thresholds: IntakeThresholds) -> dict[str, int]:
    """Records read, kept, and per group its records, share and threshold (exact integers)."""
    records = intake.kept.height + len(intake.rejects)
    by_reason: dict[str, int] = {}
    for r in intake.rejects:
        by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
    figures = {"records": records, "kept_records": intake.kept.height, "min_kept_records": thresholds.min_kept_records}
    for group, reasons in GROUPS.items():
        n = sum(by_reason.get(r, 0) for r in reasons)
        figures.update({f"{group}_records": n, f"{group}_share_ppm": share_ppm(n, records),
                        f"{group}_threshold_ppm": thresholds.max_ppm(group)})
    return figures


@functools.cache
def _gx() -> tuple[Any, Any, Any]:
    """great_expectations, its expectations module and a quiet ephemeral context (imported here, never earlier).

    One context per process: each new ephemeral context makes a temporary docs folder that GX never removes.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    import great_expectations.expectations as gxe

    ctx = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    except (ImportError, AttributeError):  # older or newer GX layouts: progress bars are cosmetic
        pass
    return gx, gxe, ctx


def _validate(frame: Any, suite: Any) -> Any:
    """Run a suite on a pandas frame through a throw-away data source of the shared context."""
    _, _, ctx = _gx()
    name = f"vgos-{uuid.uuid4().hex}"
    source = ctx.data_sources.add_pandas(name)
    try:
        batch = (source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("window")
                 .get_batch(batch_parameters={"dataframe": frame}))
        return batch.validate(suite)
    finally:
        ctx.data_sources.delete(name)


def _failures(res: Any) -> list[dict]:
    """Each failed expectation: its type, column and what it observed (counts, or the aggregate it computed)."""
    out = []
    for r in res.results:
        if r.success:
            continue
        result = r.result or {}
        f = {"expectation": r.expectation_config.type, "column": r.expectation_config.kwargs.get("column"),
             "unexpected_count": result.get("unexpected_count")}
        if result.get("observed_value") is not None:
            f["observed_value"] = _plain(result["observed_value"])
        out.append(f)
    return out


def _plain(v: Any) -> Any:
    """numpy scalars (GX's observed values) as JSON-ready Python numbers."""
    return v.item() if hasattr(v, "item") else v


def validate_raw_intake(intake: Intake, thresholds: IntakeThresholds) -> SuiteOutcome:
    """Every record read (kept or rejected, by reason): schema-invalid, duplicate and late shares within thresholds,
    and at least `min_kept_records` kept, so a window of bad input fails instead of sealing empty."""
    import numpy as np
    import pandas as pd

    gx, gxe, _ = _gx()
    categories = [KEPT, *ev.REASONS]
    code = {c: i for i, c in enumerate(categories)}
    codes = np.concatenate([np.zeros(intake.kept.height, dtype=np.int8),
                            np.fromiter((code[r.reason] for r in intake.rejects), dtype=np.int8,
                                        count=len(intake.rejects))])
    frame = pd.DataFrame({"reason": pd.Categorical.from_codes(codes, categories=categories),
                          "kept": (codes == 0).astype(np.int64)})
    suite = gx.ExpectationSuite(name="raw_intake")
    for group, reasons in GROUPS.items():
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeInSet(
            column="reason", value_set=list(reasons), mostly=(PPM - thresholds.max_ppm(group)) / PPM,
            meta={"group": group}))
    if thresholds.min_kept_records > 0:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=thresholds.min_kept_records))
        suite.add_expectation(gxe.ExpectColumnSumToBeBetween(column="kept", min_value=thresholds.min_kept_records))
    res = _validate(frame, suite)
    failures = _failures(res)
    for f, r in zip(failures, [r for r in res.results if not r.success], strict=True):
        group = (r.expectation_config.meta or {}).get("group")
        if group:
            f["group"] = group
    return SuiteOutcome(bool(res.success), len(res.results), failures, raw_figures(intake, thresholds))


def validate_normalized_log(intake: Intake) -> SuiteOutcome:
    """Types, non-null, integer amounts, unique event_id, timestamps inside the window, policy currency."""
    import polars as pl

    gx, gxe, _ = _gx()
    w = intake.window
    frame = intake.kept.with_columns(
        pl.col("ts_occurred").str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC")
        .dt.epoch("us").alias("ts_us")
    ).to_pandas()
    # GX 1.x does not know pandas 3's "str" dtype; plain object columns keep its string expectations working.
    for col in ("event_id", "ts_occurred", "principal_id", "source_type", "currency"):
        frame[col] = frame[col].astype(object)
    suite = gx.ExpectationSuite(name="normalized_log")
    for col in ("event_id", "ts_occurred", "principal_id", "amount_minor", "source_type", "currency"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=col))
    for col in ("event_id", "principal_id"):
        suite.add_expectation(gxe.ExpectColumnValueLengthsToBeBetween(column=col, min_value=1, max_value=128))
    suite.add_expectation(gxe.ExpectColumnValuesToBeOfType(column="amount_minor", type_="int64"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="amount_minor", min_value=-MAX_SAFE,
                                                            max_value=MAX_SAFE))
    suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="event_id"))
    suite.add_expectation(gxe.ExpectColumnValuesToMatchRegex(column="ts_occurred", regex=CANONICAL_TS))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(
        column="ts_us", min_value=ts_to_us(w.open_cutoff_ts), max_value=ts_to_us(w.cutoff_ts), strict_min=True))
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="source_type", value_set=list(SOURCE_TYPES)))
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="currency", value_set=[intake.policy.currency]))
    res = _validate(frame, suite)
    figures = {"rows": intake.kept.height, "distinct_event_ids": intake.kept["event_id"].n_unique(),
               "amount_minor_sum": int(intake.kept["amount_minor"].sum() or 0)}
    return SuiteOutcome(bool(res.success), len(res.results), _failures(res), figures)
