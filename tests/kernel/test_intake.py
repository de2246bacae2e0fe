"""Intake rules of SPEC §1 and §3 on every format: rejects with reasons, never fatal; unusable files exit 2."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.kernel.writers import write
from vgos.errors import InputError
from vgos.fold import fold_files, fold_reference
from vgos.policy import load_policy

W = "2025-09-23"
GOOD = {"event_id": "x", "ts_occurred": "2025-09-23T12:00:00Z", "principal_id": "P", "amount_minor": 5,
        "source_type": "earning"}


def _fold(tmp_path: Path, lines: list[str], name: str = "ev.jsonl"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    fast, ref = fold_files([p], W, load_policy()), fold_reference([p], W, load_policy())
    assert fast.seal_bytes == ref.seal_bytes and fast.rejects == ref.rejects
    return fast


@pytest.mark.parametrize("line,field", [
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":1.0,'
     '"source_type":"earning"}', "amount_minor"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":"12",'
     '"source_type":"earning"}', "amount_minor"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":true,'
     '"source_type":"earning"}', "amount_minor"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":9007199254740992,'
     '"source_type":"earning"}', "amount_minor"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P",'
     '"amount_minor":123456789012345678901234567890,"source_type":"earning"}', "amount_minor"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00","principal_id":"P","amount_minor":1,'
     '"source_type":"earning"}', "ts_occurred"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00.1234567Z","principal_id":"P","amount_minor":1,'
     '"source_type":"earning"}', "ts_occurred"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"","amount_minor":1,'
     '"source_type":"earning"}', "principal_id"),
    ('{"event_id":"' + "x" * 129 + '","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":1,'
     '"source_type":"earning"}', "event_id"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":1,'
     '"source_type":"tip"}', "source_type"),
    ('{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":1,'
     '"source_type":"earning","currency":"US"}', "currency"),
    ('{"event_id":"a","principal_id":"P","amount_minor":1,"source_type":"earning"}', "ts_occurred"),
])
def test_schema_invalid_records_become_rejects(tmp_path: Path, line: str, field: str) -> None:
    r = _fold(tmp_path, [line, '{"event_id":"ok","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P",'
                               '"amount_minor":7,"source_type":"earning"}'])
    assert [(x.reason, x.field, x.source.endswith("ev.jsonl:1")) for x in r.rejects] == \
        [("SCHEMA_INVALID", field, True)]
    assert r.totals["payout_minor"] == 7 and r.totals["events_kept"] == 1


def test_broken_json_line_is_rejected_with_its_line(tmp_path: Path) -> None:
    r = _fold(tmp_path, ['{"event_id":"ok","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P",'
                         '"amount_minor":7,"source_type":"earning"}', "{not json", "[1,2]"])
    assert [(x.event_id, x.reason, x.source.rsplit(":", 1)[1]) for x in r.rejects] == \
        [(None, "SCHEMA_INVALID", "2"), (None, "SCHEMA_INVALID", "3")]


def test_conflicting_copies_are_all_rejected(tmp_path: Path) -> None:
    base = '{"event_id":"c","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":%d,' \
           '"source_type":"earning"}'
    r = _fold(tmp_path, [base % 1, base % 1, base % 2])
    assert [x.reason for x in r.rejects] == ["EVENT_ID_CONFLICT"] * 3
    assert r.allocations == []


def test_same_instant_in_other_offset_is_an_exact_duplicate(tmp_path: Path) -> None:
    a = '{"event_id":"d","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":1,' \
        '"source_type":"earning","currency":"USD"}'
    b = '{"event_id":"d","ts_occurred":"2025-09-23T14:00:00+02:00","principal_id":"P","amount_minor":1,' \
        '"source_type":"earning"}'
    r = _fold(tmp_path, [a, b])
    assert [x.reason for x in r.rejects] == ["DUPLICATE_EVENT"]
    assert r.kept["ts_occurred"].to_list() == ["2025-09-23T12:00:00Z"]


def test_window_edges_and_currency(tmp_path: Path) -> None:
    tpl = '{"event_id":"%s","ts_occurred":"%s","principal_id":"P","amount_minor":1,"source_type":"earning"%s}'
    r = _fold(tmp_path, [
        tpl % ("at-cutoff", "2025-09-23T20:50:00Z", ""),
        tpl % ("after", "2025-09-23T20:50:00.000001Z", ""),
        tpl % ("at-open", "2025-09-22T20:50:00Z", ""),
        tpl % ("just-in", "2025-09-22T20:50:00.000001Z", ""),
        tpl % ("eur", "2025-09-23T12:00:00Z", ',"currency":"EUR"'),
    ])
    assert [(x.event_id, x.reason) for x in r.rejects] == [
        ("after", "AFTER_CUTOFF"), ("at-open", "BEFORE_WINDOW"), ("eur", "CURRENCY_MISMATCH")]
    assert r.kept["event_id"].to_list() == ["just-in", "at-cutoff"]
    assert r.kept["ts_occurred"].to_list() == ["2025-09-22T20:50:00.000001Z", "2025-09-23T20:50:00Z"]


def test_csv_amount_must_be_an_integer_literal(tmp_path: Path) -> None:
    p = tmp_path / "ev.csv"
    p.write_text("event_id,ts_occurred,principal_id,amount_minor,source_type,currency,extra\n"
                 "a,2025-09-23T12:00:00Z,P,12.0,earning,USD,x\n"
                 "b,2025-09-23T12:00:00Z,P,-0012,earning,,y\n")
    r = fold_files([p], W, load_policy())
    assert [(x.event_id, x.reason, x.field, x.source) for x in r.rejects] == \
        [("a", "SCHEMA_INVALID", "amount_minor", f"{p}:2")]
    assert r.totals["net_minor"] == -12
    assert fold_reference([p], W, load_policy()).seal_bytes == r.seal_bytes


def test_parquet_timestamp_columns(tmp_path: Path) -> None:
    ts = [dt.datetime(2025, 9, 23, 12, 0, 0, 5, tzinfo=dt.UTC), dt.datetime(2025, 9, 23, 13, tzinfo=dt.UTC)]
    table = pa.table({"event_id": ["a", "b"], "ts_occurred": pa.array(ts, pa.timestamp("us", tz="UTC")),
                      "principal_id": ["P", "Q"], "amount_minor": pa.array([10, 20], pa.int32()),
                      "source_type": ["earning", "refund"]})
    pq.write_table(table, tmp_path / "aware.parquet")
    r = fold_files([tmp_path / "aware.parquet"], W, load_policy())
    assert r.kept["ts_occurred"].to_list() == ["2025-09-23T12:00:00.000005Z", "2025-09-23T13:00:00Z"]
    assert r.seal_bytes == fold_reference([tmp_path / "aware.parquet"], W, load_policy()).seal_bytes
    naive = table.set_column(1, "ts_occurred", pa.array([t.replace(tzinfo=None) for t in ts], pa.timestamp("us")))
    pq.write_table(naive, tmp_path / "naive.parquet")
    r = fold_files([tmp_path / "naive.parquet"], W, load_policy())
    assert [(x.reason, x.field) for x in r.rejects] == [("SCHEMA_INVALID", "ts_occurred")] * 2


def test_missing_column_and_unreadable_files_are_unusable_input(tmp_path: Path) -> None:
    p = tmp_path / "ev.csv"
    p.write_text("event_id,ts,principal_id,amount_minor,source_type\n")
    with pytest.raises(InputError, match=r"ev.csv: line 1: missing required column\(s\) ts_occurred"):
        fold_files([p], W, load_policy())
    q = tmp_path / "broken.parquet"
    q.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="broken.parquet: cannot read Parquet"):
        fold_files([q], W, load_policy())
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match="unknown event file type"):
        fold_files([tmp_path / "x.xlsx"], W, load_policy())
    with pytest.raises(InputError, match="gone.xlsx: no such events file"):
        fold_files([tmp_path / "gone.xlsx"], W, load_policy())


def test_cli_unusable_input_exits_2_and_leaves_existing_output_intact(tmp_path: Path, vgos_home: Path) -> None:
    good = write(tmp_path / "good", "jsonl", [GOOD])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vgos_app.cli", "fold", "--window-id", W, "--out", str(out), "--events"]
    assert subprocess.run(cmd + [str(good)], capture_output=True, check=False).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    bad = tmp_path / "bad.csv"
    bad.write_text("nothing,here\n1,2\n")
    proc = subprocess.run(cmd + [str(good), "--events", str(bad)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "bad.csv" in proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    proc = subprocess.run(cmd[:-1] + ["--policy", str(tmp_path / "nope.yaml"), "--events", str(good)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "nope.yaml" in proc.stderr
