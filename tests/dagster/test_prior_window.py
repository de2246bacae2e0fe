"""The settlement assets consult the idempotency index: an id kept by the previous partition's seal is rejected
DUPLICATE_PRIOR_WINDOW in the next one, the match reaches the transcript, and the blocking replay check passes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.dagster.conftest import WINDOW, materializations, meta
from vgos.replay import verify_transcript
from vgos.storage import open_store
from vgos_assets.definitions import defs

NEXT = "2025-09-24"


def _run(instance, partition: str):
    return defs.resolve_job_def("settlement_window").execute_in_process(partition_key=partition, instance=instance)


def test_next_partition_rejects_an_id_the_sealed_partition_kept(instance, seeded_home: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # one id in two repeats the prior window: 500,000 ppm, over the default duplicate threshold (25 %)
    monkeypatch.setenv("VGOS_QUALITY_MAX_DUPLICATE_PPM", "500000")
    first = _run(instance, WINDOW)
    assert meta(materializations(first, "normalized_log")[0], "prior_window_matches") == 0
    folder = seeded_home / "drop" / "events" / NEXT
    folder.mkdir(parents=True)
    (folder / "next.csv").write_text("event_id,ts_occurred,principal_id,amount_minor,source_type\n"
                                     "e1,2025-09-24T10:00:00Z,CRE-0001,345,earning\n"
                                     "e9,2025-09-24T11:00:00Z,CRE-0002,70,earning\n")
    second = _run(instance, NEXT)
    norm = materializations(second, "normalized_log")[0]
    assert meta(norm, "rejects_by_reason") == {"DUPLICATE_PRIOR_WINDOW": 1}
    assert meta(norm, "prior_window_matches") == 1
    assert (meta(norm, "events_kept"), meta(norm, "events_rejected")) == (1, 1)
    checks = {e.event_specific_data.check_name: e.event_specific_data.passed for e in second.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks["transcript_replay"] is True and checks["raw_intake_quality"] is True
    [raw] = [e.event_specific_data for e in second.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
             and e.event_specific_data.check_name == "raw_intake_quality"]
    assert (raw.metadata["duplicate_share_ppm"].value, raw.metadata["duplicate_threshold_ppm"].value) == \
        (500_000, 500_000)
    url = meta(materializations(second, "transcript")[0], "transcript_url")
    store = open_store(url)
    index = orjson.loads(store.get("index.json"))
    [segment] = [s for s in index["segments"] if s["kind"] == "prior_windows"]
    assert store.get(f"segments/{segment['sha256']}") == b'[{"event_id":"e1","window_id":"2025-09-23"}]'
    assert verify_transcript(url).ok
