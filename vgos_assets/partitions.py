"""Window partitions: one Dagster partition per settlement window, keyed by `window_id` (the close date)."""

from __future__ import annotations

import datetime as dt
import os
import warnings

from dagster import DailyPartitionsDefinition
from dagster._utils.warnings import PreviewWarning

from vgos.errors import InputError

DEFAULT_START = "2025-09-01"  # the demo window 2025-09-23's month
DEFAULT_END = "2025-09-30"  # ... and only that month, unless a start is configured (then: through today)
START_VAR, END_VAR = "VGOS_PARTITIONS_START", "VGOS_PARTITIONS_END"
# checks carry `partitions_def=window_partitions`, so each evaluation records its window (without it Dagster stores
# them unpartitioned and "latest execution for 2025-09-23" stays PLANNED); Dagster 1.13 flags that as a preview
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)


def _date(var: str, value: str) -> dt.date:
    """A validated calendar date, else one clear line naming the variable (a code location must not half-load)."""
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{var}={value!r}: expected a calendar date YYYY-MM-DD") from None


def partition_range(start_date: str | None = None, end_date: str | None = None) -> tuple[str, str | None]:
    """(first, last or None = open through today's window): explicit args, else the variables, else the demo month.

    Unconfigured, the UI shows the 30 windows of the demo's month rather than every day since then, all "Missing";
    a deployment sets VGOS_PARTITIONS_START (its first window) and gets every window up to today's.
    """
    start = start_date or os.environ.get(START_VAR) or None
    end = end_date or os.environ.get(END_VAR) or None
    if start is None:
        start = DEFAULT_START
        end = end or DEFAULT_END
    first = _date(START_VAR, start)
    if end is not None and _date(END_VAR, end) < first:
        raise InputError(f"{END_VAR}={end!r} is before {START_VAR}={start!r}")
    return start, end


def window_partitions_def(start_date: str | None = None, end_date: str | None = None) -> DailyPartitionsDefinition:
    """Daily keys YYYY-MM-DD equal to window_id; open-ended ranges end with today's window (it closes today).

    The key names the close date; the window's instants come from the policy (SPEC §2), not from the partition's
    nominal day, so auditors find a window in the UI by the id they know.
    """
    start, end = partition_range(start_date, end_date)
    # end_offset=1 also within a closed range: on the day of its close a window is already a partition
    stop = (dt.date.fromisoformat(end) + dt.timedelta(days=1)).isoformat() if end else None  # Dagster's is exclusive
    return DailyPartitionsDefinition(start_date=start, end_date=stop, end_offset=1, timezone="UTC", fmt="%Y-%m-%d")


window_partitions = window_partitions_def()
