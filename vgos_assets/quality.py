"""Great Expectations 1.x suite for a window's normalized log (called directly: dagster-ge does not support 1.x)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from vgos.events import MAX_SAFE, SOURCE_TYPES, ts_to_us
from vgos.fold import Intake

CANONICAL_TS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?Z$"


@dataclass
class SuiteOutcome:
    """Whether every expectation held, and the ones that did not."""

    success: bool
    evaluated: int
    failures: list[dict] = field(default_factory=list)


def validate_normalized_log(intake: Intake) -> SuiteOutcome:
    """Types, non-null, integer amounts, unique event_id, timestamps inside the window, policy currency."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import polars as pl

    w = intake.window
    frame = intake.kept.with_columns(
        pl.col("ts_occurred").str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC")
        .dt.epoch("us").alias("ts_us")
    ).to_pandas()
    # GX 1.x does not know pandas 3's "str" dtype; plain object columns keep its string expectations working.
    for col in ("event_id", "ts_occurred", "principal_id", "source_type", "currency"):
        frame[col] = frame[col].astype(object)
    ctx = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    except (ImportError, AttributeError):  # older or newer GX layouts: progress bars are cosmetic
        pass
    batch = (ctx.data_sources.add_pandas("vgos").add_dataframe_asset("normalized_log")
             .add_batch_definition_whole_dataframe("window").get_batch(batch_parameters={"dataframe": frame}))
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
    res = batch.validate(suite)
    failures = [
        {"expectation": r.expectation_config.type, "column": r.expectation_config.kwargs.get("column"),
         "unexpected_count": (r.result or {}).get("unexpected_count")}
        for r in res.results if not r.success
    ]
    return SuiteOutcome(bool(res.success), len(res.results), failures)
