"""Schedules: the window-close run at close + grace, from the policy."""

from __future__ import annotations

import datetime as dt
import os

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from vgos.policy import Policy, load_policy
from vgos_assets.jobs import settlement_job
from vgos_assets.partitions import window_partitions


def close_cron(policy: Policy) -> str:
    """Cron (UTC) for close + grace, rounded up to the minute."""
    h, m, s = (int(x) for x in policy.close_time_utc.split(":"))
    at = dt.timedelta(hours=h, minutes=m, seconds=s + policy.close_grace_s)
    minutes = -(-int(at.total_seconds()) // 60) % (24 * 60)
    return f"{minutes % 60} {minutes // 60} * * *"


def window_for_tick(scheduled: dt.datetime, policy: Policy) -> str:
    """The window that closed at most close_grace_s (+ < 1 min rounding) before the tick."""
    tick = scheduled.astimezone(dt.UTC) - dt.timedelta(seconds=policy.close_grace_s)
    h, m, s = (int(x) for x in policy.close_time_utc.split(":"))
    close_today = tick.replace(hour=h, minute=m, second=s, microsecond=0)
    return (close_today if close_today <= tick else close_today - dt.timedelta(days=1)).date().isoformat()


def build_window_close_schedule(policy: Policy | None = None) -> ScheduleDefinition:
    """The schedule for a policy (the default: `VGOS_POLICY` or the seed policy)."""
    policy = policy or load_policy(os.environ.get("VGOS_POLICY") or None)

    @schedule(name="window_close_schedule", cron_schedule=close_cron(policy), job=settlement_job,
              execution_timezone="UTC", default_status=DefaultScheduleStatus.RUNNING,
              description="materialize the window that just closed, at close + grace")
    def window_close_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        window_id = window_for_tick(context.scheduled_execution_time, policy)
        if not window_partitions.has_partition_key(window_id):
            first, last = window_partitions.get_first_partition_key(), window_partitions.get_last_partition_key()
            return SkipReason(f"window {window_id} is outside the partitions {first}..{last} "
                              "(set VGOS_PARTITIONS_START to the first window to settle)")
        return RunRequest(run_key=f"window-close:{window_id}", partition_key=window_id,
                          tags={"vgos/trigger": "window_close"})

    return window_close_schedule


window_close_schedule = build_window_close_schedule()
