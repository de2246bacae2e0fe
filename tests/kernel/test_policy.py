"""Policy manifest: defaults, validation errors that name file and field, hash, window bounds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vgos.errors import InputError
from vgos.policy import load_policy, policy_from_manifest


def test_defaults_are_the_seed_policy() -> None:
    p = load_policy()
    assert (p.policy_version, p.currency, p.bonus_ppm, p.close_time_utc, p.late_tolerance_s) == \
        ("v1.0", "USD", 100000, "21:00:00", 600)
    assert p.acceptance["ACK"]["freshness_s"] == 1800


def test_explicit_defaults_hash_like_no_file(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text('policy_version: v1.0\ncurrency: USD\nbonus_ppm: 100000\nclose_time_utc: "21:00:00"\n')
    assert load_policy(f).policy_hash == load_policy().policy_hash
    g = tmp_path / "p.json"
    g.write_text('{"bonus_ppm": 50000}')
    assert load_policy(g).policy_hash != load_policy().policy_hash


@pytest.mark.parametrize("text,field", [
    ("bonus_pm: 5\n", "bonus_pm"),
    ("bonus_ppm: 1.5\n", "bonus_ppm"),
    ("bonus_ppm: -1\n", "bonus_ppm"),
    ("bonus_ppm: true\n", "bonus_ppm"),
    ("currency: usd\n", "currency"),
    ('close_time_utc: "25:00:00"\n', "close_time_utc"),
    ("late_tolerance_s: 90000\n", "late_tolerance_s"),
    ("acceptance: {ACK: {freshness: 5}}\n", "acceptance.ACK.freshness"),
    ("acceptance: {XYZ: {}}\n", "acceptance.XYZ"),
])
def test_invalid_manifest_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as err:
        load_policy(f)
    assert str(f) in str(err.value) and f"'{field}'" in str(err.value)


def test_unparsable_and_missing_policy(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("a: [1,\n")
    with pytest.raises(InputError, match="bad.yaml:.*not valid YAML"):
        load_policy(f)
    with pytest.raises(InputError, match="cannot read policy"):
        load_policy(tmp_path / "missing.yaml")


def test_window_bounds_follow_spec() -> None:
    w = policy_from_manifest({"close_time_utc": "18:30:00", "late_tolerance_s": 0}).window("2024-02-29")
    assert w.close_ts == dt.datetime(2024, 2, 29, 18, 30, tzinfo=dt.UTC)
    assert w.cutoff_ts == w.close_ts
    assert w.open_cutoff_ts == dt.datetime(2024, 2, 28, 18, 30, tzinfo=dt.UTC)
    with pytest.raises(InputError, match="window_id"):
        load_policy().window("2023-02-29")
