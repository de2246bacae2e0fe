"""Fixtures for the Dagster layer: an isolated VGOS_HOME with the seed window dropped, and instances."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance

from vgos_app.demo import seed_events_path

WINDOW = "2025-09-23"


@pytest.fixture
def seeded_home(vgos_home: Path) -> Path:
    """VGOS_HOME whose drop zone holds the seed events for the demo window."""
    folder = vgos_home / "drop" / "events" / WINDOW
    folder.mkdir(parents=True)
    shutil.copy(seed_events_path(), folder / "seed_events.jsonl")
    return vgos_home


@pytest.fixture
def instance(seeded_home: Path):
    """An ephemeral Dagster instance."""
    with DagsterInstance.ephemeral() as inst:
        yield inst


def materializations(result, asset: str) -> list:
    """Materialization events of one asset in an execution result."""
    return [e.event_specific_data.materialization for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"
            and e.event_specific_data.materialization.asset_key.to_user_string() == asset]


def meta(materialization, key: str):
    """A metadata value of a materialization."""
    return materialization.metadata[key].value
