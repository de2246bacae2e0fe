"""One digest whatever the format (issue #11): the same random events as JSONL (plain, UTF-8 BOM, UTF-16), JSON
array, CSV (plain, UTF-8 BOM, UTF-32) and Parquet (plain, large and dictionary-encoded string columns).

The records include the edge cases of the hostile-input report: unicode and control-character ids, amounts at
and beyond ±(2^53−1), numeric offsets, timestamps with a trailing newline or space and with non-ASCII digits.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.kernel.strategies import EVENT_IDS, WINDOW, record
from tests.kernel.writers import FIELDS
from vgos.errors import InputError
from vgos.fold import fold_files, fold_reference
from vgos.policy import load_policy
from vgos.seal import FoldRangeError

POLICY = load_policy()
MAX_SAFE = 2**53 - 1
# Control characters (invalid in ids on every path; NUL aside: a NUL byte makes a CSV file unusable), C1, a line
# separator (valid), and ASCII quoting/escaping characters.
IDS = [*EVENT_IDS, "c\x01-1", "d\x7f-2", "n\x85-3", "ls\u2028-4", "sp ace", "Ünï-5"]
BAD_TS = ["2025-09-23T12:00:00Z\n", "2025-09-23T12:00:00Z ", " 2025-09-23T12:00:00Z",
          "\uff12\uff10\uff12\uff15-09-23T12:00:00Z", "2025-09-23T1\u0662:00:00Z", "2025-09-23t12:00:00z"]


@st.composite
def edge_record(draw: st.DrawFn) -> dict[str, Any]:
    rec = draw(record(ids=IDS))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        rec["amount_minor"] = draw(st.sampled_from([MAX_SAFE, -MAX_SAFE, MAX_SAFE + 1, -(MAX_SAFE + 1), 2**62]))
    elif kind == 1:
        rec["ts_occurred"] = draw(st.sampled_from(BAD_TS))
    elif kind == 2:
        rec["principal_id"] = draw(st.sampled_from(["P\x00", "P\x1b[31m", "P\u0085", "x" * 129, "x" * 128]))
        if "\x00" in rec["principal_id"]:
            rec["principal_id"] = "P\x02"  # NUL in CSV is unusable text; other control characters are rejects
    return rec


def _csv_text(records: list[dict[str, Any]]) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(FIELDS)
    for r in records:
        w.writerow(["" if r.get(f) is None else str(r[f]) for f in FIELDS])
    return buf.getvalue()


def _parquet(path: Path, records: list[dict[str, Any]], string: str) -> Path:
    def col(name: str) -> pa.Array:
        values = [r.get(name) for r in records]
        if string == "dictionary":
            return pa.array(values, pa.string()).dictionary_encode()
        return pa.array(values, pa.large_string() if string == "large" else pa.string())

    table = pa.table({"event_id": col("event_id"), "ts_occurred": col("ts_occurred"),
                      "principal_id": col("principal_id"),
                      "amount_minor": pa.array([r.get("amount_minor") for r in records], pa.int64()),
                      "source_type": col("source_type"), "currency": col("currency")})
    pq.write_table(table, path)
    return path


def _variants(d: Path, records: list[dict[str, Any]]) -> dict[str, tuple[Path, int]]:
    """name → (file, line of the first record); the same records in every format and encoding."""
    jsonl = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    out = {}
    for name, data in (("plain.jsonl", jsonl.encode()), ("bom.jsonl", b"\xef\xbb\xbf" + jsonl.encode()),
                       ("utf16.jsonl", jsonl.encode("utf-16")),
                       ("ascii.ndjson", b"".join(json.dumps(r).encode() + b"\n" for r in records)),
                       ("array.json", orjson.dumps(records, option=orjson.OPT_INDENT_2)),
                       ("plain.csv", _csv_text(records).encode()),
                       ("bom.csv", _csv_text(records).encode("utf-8-sig")),
                       ("utf32.csv", _csv_text(records).encode("utf-32"))):
        (d / name).write_bytes(data)
        out[name] = (d / name, 2 if name.endswith(".csv") else 1)
    for string in ("plain", "large", "dictionary"):
        out[f"{string}.parquet"] = (_parquet(d / f"{string}.parquet", records, string), 1)
    return out


def _outcome(path: Path, first_line: int, fold=fold_files) -> tuple:
    try:
        r = fold([path], WINDOW, POLICY)
    except FoldRangeError as exc:
        return ("range", str(exc))
    rejects = [(x.event_id, x.reason, x.field, int(x.source.rsplit(":", 1)[1]) - first_line) for x in r.rejects]
    return (r.output_digest, rejects)


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edge_record(), max_size=25), st.data())
def test_every_format_and_encoding_gives_one_digest(records: list[dict[str, Any]], data: st.DataObject) -> None:
    if records:  # some exact copies: the duplicate rule must see them the same way everywhere
        records = records + [dict(records[i]) for i in data.draw(st.lists(st.integers(0, len(records) - 1),
                                                                            max_size=3))]
    with tempfile.TemporaryDirectory() as d:
        files = _variants(Path(d), records)
        outcomes = {name: _outcome(path, first) for name, (path, first) in files.items()}
        expected = outcomes["plain.jsonl"]
        assert {n: o for n, o in outcomes.items() if o != expected} == {}
        # the plain reference implementation agrees with the fast path
        path, first = files[data.draw(st.sampled_from(sorted(files)))]
        assert _outcome(path, first, fold_reference) == expected


def test_edge_records_fold_the_same_in_every_format(tmp_path: Path) -> None:
    """A fixed window with each edge case once: some kept (unicode, offsets, huge amounts), the rest rejected."""
    base = {"ts_occurred": "2025-09-23T12:00:00Z", "principal_id": "P", "amount_minor": 5, "source_type": "earning"}
    records = [
        {**base, "event_id": "日本-1", "principal_id": "Zoë", "ts_occurred": "2025-09-23T17:30:00+05:30"},
        {**base, "event_id": "big", "principal_id": "B", "amount_minor": 8_000_000_000_000_000},
        {**base, "event_id": "neg", "principal_id": "Q", "amount_minor": -MAX_SAFE},
        {**base, "event_id": "lower", "ts_occurred": "2025-09-23t05:00:00-07:00"},
        {**base, "event_id": "too-big", "amount_minor": MAX_SAFE + 1},
        {**base, "event_id": "nl", "ts_occurred": "2025-09-23T12:00:00Z\n"},
        {**base, "event_id": "digits", "ts_occurred": "\uff12\uff10\uff12\uff15-09-23T12:00:00Z"},
        {**base, "event_id": "ctl", "principal_id": "P\x1b"},
        {**base, "event_id": "c1\x85"},
    ]
    outcomes = {name: _outcome(path, first) for name, (path, first) in _variants(tmp_path, records).items()}
    assert all(o == outcomes["plain.jsonl"] for o in outcomes.values()), outcomes
    digest, rejects = outcomes["plain.jsonl"]
    assert digest != "range"
    assert [(e, f) for e, _, f, _ in rejects] == [("too-big", "amount_minor"), ("nl", "ts_occurred"),
                                                  ("digits", "ts_occurred"), ("ctl", "principal_id"),
                                                  ("c1\x85", "event_id")]


def test_fixtures_are_not_unusable(tmp_path: Path) -> None:
    """Guard for the property above: none of the variants is refused as a whole for these records."""
    files = _variants(tmp_path, [{"event_id": i, "ts_occurred": "2025-09-23T12:00:00Z", "principal_id": "P",
                                  "amount_minor": 1, "source_type": "earning"} for i in IDS])
    for path, _ in files.values():
        try:
            fold_files([path], WINDOW, POLICY)
        except InputError as exc:  # pragma: no cover - a failure message names the file
            raise AssertionError(str(exc)) from None
