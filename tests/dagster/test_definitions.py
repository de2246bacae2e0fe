"""The code location loads, keys partitions by window_id, and wires the chain in one lineage."""

from __future__ import annotations

from dagster import AssetKey

from vgos_assets.definitions import defs
from vgos_assets.partitions import window_partitions_def


def test_definitions_load_with_the_window_chain() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw_events", "normalized_log", "allocations", "transcript", "acceptance_bundle",
            "authorization"} <= keys
    assert graph.get(AssetKey("allocations")).parent_keys == {AssetKey("normalized_log")}
    assert graph.get(AssetKey("transcript")).parent_keys == {AssetKey("normalized_log"), AssetKey("allocations")}
    assert defs.resolve_job_def("settlement_window") is not None
    assert defs.resolve_sensor_def("event_drop_sensor") is not None
    assert defs.resolve_schedule_def("window_close_schedule") is not None
    checks = {c.name for c in graph.asset_check_keys}
    assert {"normalized_log_expectations", "allocations_conservation", "transcript_replay"} <= checks


def test_partition_keys_are_window_ids_from_a_configurable_start() -> None:
    p = window_partitions_def("2025-09-20")
    keys = p.get_partition_keys()
    assert keys[:4] == ["2025-09-20", "2025-09-21", "2025-09-22", "2025-09-23"]
