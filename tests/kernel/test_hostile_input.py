"""Hostile and odd event files (issue #11): each defect of the report, on the fast path and the reference reader.

Records that break a rule are SCHEMA_INVALID rejects naming the field; files that cannot be read as events are
unusable input (InputError: one line naming the file and line, exit 2 in the CLI).
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vgos.errors import InputError
from vgos.fold import FoldResult, fold_files, fold_reference
from vgos.policy import load_policy, window_bounds

W = "2025-09-23"
POLICY = load_policy()
HEADER = "event_id,ts_occurred,principal_id,amount_minor,source_type\n"


def ev(i: int, **kw: object) -> dict:
    return {"event_id": f"e{i}", "ts_occurred": "2025-09-23T12:00:00Z", "principal_id": "P", "amount_minor": 100,
            "source_type": "earning", **kw}


def fold_both(path: Path) -> FoldResult:
    fast, ref = fold_files([path], W, POLICY), fold_reference([path], W, POLICY)
    assert fast.seal_bytes == ref.seal_bytes
    assert fast.rejects == ref.rejects
    return fast


def refused(path: Path, match: str) -> None:
    for fold in (fold_files, fold_reference):
        with pytest.raises(InputError, match=match) as info:
            fold([path], W, POLICY)
        assert "\n" not in str(info.value)


def jsonl(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


# ------------------------------------------------------------------------------------- inputs lost with exit 0


@pytest.mark.parametrize("string", ["dictionary", "large", "large-dictionary"])
def test_parquet_dictionary_and_large_string_columns_are_read(tmp_path: Path, string: str) -> None:
    recs = [ev(i, principal_id=f"P{i % 3}", currency="USD") for i in range(50)]

    def col(name: str) -> pa.Array:
        arr = pa.array([r[name] for r in recs], pa.large_string() if "large" in string else pa.string())
        return arr.dictionary_encode() if "dictionary" in string else arr

    cols = ["event_id", "ts_occurred", "principal_id", "source_type", "currency"]
    table = pa.table({**{c: col(c) for c in cols}, "amount_minor": pa.array([r["amount_minor"] for r in recs])})
    pq.write_table(table, tmp_path / "cat.parquet")
    r = fold_both(tmp_path / "cat.parquet")
    assert r.totals["events_kept"] == 50 and r.rejects == []
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(jsonl(recs))
    assert r.output_digest == fold_files([plain], W, POLICY).output_digest


def test_json_array_file_is_read_as_its_events(tmp_path: Path) -> None:
    recs = [ev(i) for i in range(500)]
    (tmp_path / "a.json").write_text(json.dumps(recs, indent=2))
    (tmp_path / "a.jsonl").write_bytes(jsonl(recs))
    r = fold_both(tmp_path / "a.json")
    assert r.totals["events_kept"] == 500 and r.totals["events_rejected"] == 0
    assert r.output_digest == fold_files([tmp_path / "a.jsonl"], W, POLICY).output_digest
    # a reject in an array names the element's position
    (tmp_path / "b.json").write_bytes(orjson.dumps([ev(1), ev(2, amount_minor=1.5), ev(3)]))
    assert [(x.source.rsplit(":", 1)[1], x.field) for x in fold_both(tmp_path / "b.json").rejects] == \
        [("2", "amount_minor")]


def test_json_file_with_one_object_is_one_event_and_jsonl_content_is_read_as_lines(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(ev(1), indent=2))
    assert fold_both(tmp_path / "one.json").totals["events_kept"] == 1
    (tmp_path / "lines.json").write_bytes(jsonl([ev(1), ev(2)]))
    assert fold_both(tmp_path / "lines.json").totals["events_kept"] == 2
    (tmp_path / "empty.json").write_text("[]")
    assert fold_both(tmp_path / "empty.json").totals["events_kept"] == 0


def test_unparsable_json_array_document_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "cut.json").write_bytes(b"[\n" + orjson.dumps(ev(1)) + b",\n{\"event_id\":")
    refused(tmp_path / "cut.json", r"cut.json: line 3: not a JSON array of events")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-32",
                                      "utf-32-be-bom"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_bom_and_utf16_utf32_are_read_the_same_on_every_path(tmp_path: Path, fmt: str, encoding: str) -> None:
    recs = [ev(1, principal_id="Zoë"), ev(2, principal_id="日本")]
    text = jsonl(recs).decode() if fmt == "jsonl" else HEADER + "".join(
        f"{r['event_id']},{r['ts_occurred']},{r['principal_id']},{r['amount_minor']},{r['source_type']}\n"
        for r in recs)
    if encoding.endswith("-bom"):
        codec = encoding[:-4]
        data = "\ufeff".encode(codec) + text.encode(codec)
    else:
        data = text.encode(encoding)
    (tmp_path / f"ev.{fmt}").write_bytes(data)
    (tmp_path / "plain.jsonl").write_bytes(jsonl(recs))
    r = fold_both(tmp_path / f"ev.{fmt}")
    assert r.rejects == [] and r.totals["events_kept"] == 2
    assert r.output_digest == fold_files([tmp_path / "plain.jsonl"], W, POLICY).output_digest


@pytest.mark.parametrize("name,data,match", [
    ("u16.jsonl", jsonl([ev(1)]).decode().encode("utf-16-le"), r"u16.jsonl: line 1: NUL byte"),
    ("u16.csv", (HEADER + "e1,2025-09-23T12:00:00Z,P,5,earning\n").encode("utf-16-be"), r"u16.csv: line 1: NUL"),
    ("latin1.jsonl", jsonl([ev(1)]) + b'{"event_id":"caf\xe9"}\n', r"latin1.jsonl: line 2: not UTF-8 text"),
    ("latin1.csv", (HEADER + "e1,2025-09-23T12:00:00Z,P,5,earning\ne2,2025-09-23T12:00:00Z,caf").encode()
     + b"\xe9,5,earning\n", r"latin1.csv: line 3: not UTF-8 text"),
    ("broken16.jsonl", b"\xff\xfe" + '{"a":1}\n'.encode("utf-16-le") + b"\x00\xd8\n\x00",
     r"broken16.jsonl: line 2: not valid UTF-16-LE text"),
    ("image.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"image.jsonl: line 3: NUL byte"),
])
def test_undecodable_text_is_unusable_naming_file_and_line(tmp_path: Path, name: str, data: bytes,
                                                            match: str) -> None:
    (tmp_path / name).write_bytes(data)
    refused(tmp_path / name, match)


def test_large_csv_is_checked_the_same_way(tmp_path: Path) -> None:
    """Files above the small-file size take the mapped path: a NUL and bad UTF-8 are still found by line."""
    body = "".join(f"e{i},2025-09-23T12:00:00Z,P,5,earning\n" for i in range(4000))
    (tmp_path / "nul.csv").write_bytes((HEADER + body).encode() + b"x\x00,2025-09-23T12:00:00Z,P,5,earning\n")
    refused(tmp_path / "nul.csv", r"nul.csv: line 4002: NUL byte")
    (tmp_path / "bad.csv").write_bytes((HEADER + body).encode() + b"x\xff,2025-09-23T12:00:00Z,P,5,earning\n")
    refused(tmp_path / "bad.csv", r"bad.csv: line 4002: not UTF-8 text")
    (tmp_path / "bom.csv").write_bytes((HEADER + body).encode("utf-8-sig"))
    assert fold_both(tmp_path / "bom.csv").totals["events_kept"] == 4000


def test_bom_does_not_reject_the_first_jsonl_event(tmp_path: Path) -> None:
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + jsonl([ev(1), ev(2)]))
    r = fold_both(tmp_path / "bom.jsonl")
    assert r.rejects == [] and r.totals["events_kept"] == 2


@pytest.mark.parametrize("name,data", [("empty.jsonl", b""), ("blank.jsonl", b"\n\n  \n"), ("empty.csv", b""),
                                       ("bom.csv", b"\xef\xbb\xbf"), ("empty.json", b""), ("header.csv",
                                                                                          HEADER.encode())])
def test_empty_files_hold_no_records(tmp_path: Path, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    r = fold_both(tmp_path / name)
    assert r.totals["events_kept"] == 0 and r.rejects == []


# ------------------------------------------------------------------------------------- format-dependent digests


@pytest.mark.parametrize("ts", ["2025-09-23T12:00:00Z\n", "2025-09-23T12:00:00Z ", "\t2025-09-23T12:00:00Z",
                                "２０２５-09-23T12:00:00Z", "2025-09-23T12:00:00.\u0661Z",
                                "2025-09-23T12:00:00+0\u0665:00"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_timestamps_are_ascii_without_whitespace_on_every_path(tmp_path: Path, ts: str, fmt: str) -> None:
    recs = [ev(1, ts_occurred=ts), ev(2)]
    if fmt == "jsonl":
        (tmp_path / "ev.jsonl").write_bytes(jsonl(recs))
    elif fmt == "csv":
        import csv

        with open(tmp_path / "ev.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(HEADER.strip().split(","))
            for r in recs:
                w.writerow([r["event_id"], r["ts_occurred"], r["principal_id"], r["amount_minor"], r["source_type"]])
    else:
        pq.write_table(pa.Table.from_pylist(recs), tmp_path / "ev.parquet")
    r = fold_both(tmp_path / f"ev.{fmt}")
    assert [(x.event_id, x.reason, x.field) for x in r.rejects] == [("e1", "SCHEMA_INVALID", "ts_occurred")]


@pytest.mark.parametrize("value,field", [("12\n", "amount_minor"), ("\uff11\uff12", "amount_minor"),
                                         ("12 ", "amount_minor")])
def test_csv_integers_are_ascii_without_whitespace(tmp_path: Path, value: str, field: str) -> None:
    import csv

    with open(tmp_path / "ev.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*HEADER.strip().split(","), "currency"])
        w.writerow(["e1", "2025-09-23T12:00:00Z", "P", value, "earning", ""])
        w.writerow(["e2", "2025-09-23T12:00:00Z", "P", "5", "earning", "USD\n"])
        w.writerow(["e3", "2025-09-23T12:00:00Z", "P", "5", "earning", "USD"])
    r = fold_both(tmp_path / "ev.csv")
    assert [(x.event_id, x.field) for x in r.rejects] == [("e1", field), ("e2", "currency")]


@pytest.mark.parametrize("line,field", [
    (b'{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":5,'
     b'"amount_minor":500,"source_type":"earning"}', "amount_minor"),
    (b'{"event_id":"a","event_id":"b","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":5,'
     b'"source_type":"earning"}', "event_id"),
    (b'{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":5,'
     b'"source_type":"earning","note":1,"note":2}', "note"),
    (b'{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":5,'
     b'"source_type":"earning","meta":{"k":1,"k":2}}', "meta"),
    (b'{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":5,'
     b'"source_type":"earning","meta":[{"k":1},{"k":":","k":"\\u003a"}]}', "meta"),
    (b'{"event_id":"a","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"P","amount_minor":5,'
     b'"source_type":"earning","x\\u003a":1,"x:":2}', "x:"),
])
def test_duplicated_json_keys_make_the_record_schema_invalid(tmp_path: Path, line: bytes, field: str) -> None:
    (tmp_path / "dup.jsonl").write_bytes(line + b"\n" + orjson.dumps(ev(2)) + b"\n")
    r = fold_both(tmp_path / "dup.jsonl")
    assert [(x.reason, x.field, x.source.rsplit(":", 1)[1]) for x in r.rejects] == [("SCHEMA_INVALID", field, "1")]
    assert r.rejects[0].event_id == (None if field == "event_id" else "a")
    (tmp_path / "dup.json").write_bytes(b"[" + orjson.dumps(ev(2)) + b",\n" + line + b"]")
    r = fold_both(tmp_path / "dup.json")
    assert [(x.reason, x.field, x.source.rsplit(":", 1)[1]) for x in r.rejects] == [("SCHEMA_INVALID", field, "2")]


def test_colons_inside_strings_and_escapes_are_not_duplicates(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_bytes(
        b'{"event_id":"a:b\\u003a","ts_occurred":"2025-09-23T12:00:00+00:00","principal_id":"P:","amount_minor":5,'
        b'"source_type":"earning","m":{"k:":[1,{"z":"::"}]}}\n')
    r = fold_both(tmp_path / "ok.jsonl")
    assert r.rejects == [] and r.kept["event_id"].to_list() == ["a:b:"]


@pytest.mark.parametrize("header", ["event_id,ts_occurred,principal_id,amount_minor,source_type,event_id",
                                    "event_id,ts_occurred,principal_id,amount_minor,source_type,x,x",
                                    "\ufeffevent_id,ts_occurred,principal_id,amount_minor,amount_minor,source_type"])
def test_duplicated_csv_header_is_refused(tmp_path: Path, header: str) -> None:
    cells = header.lstrip("\ufeff").split(",")
    row = {"event_id": "e1", "ts_occurred": "2025-09-23T12:00:00Z", "principal_id": "P", "amount_minor": "5",
           "source_type": "earning"}
    dup = next(c for i, c in enumerate(cells) if c in cells[:i])
    line = ",".join(row.get(c, "z") for c in cells)
    for name, n in (("small.csv", 1), ("large.csv", 5000)):  # polars reads both; the large one by path
        (tmp_path / name).write_text(header + "\n" + (line + "\n") * n, encoding="utf-8")
        refused(tmp_path / name, rf"{name}: line 1: the header names column '{dup}' more than once")


# ------------------------------------------------------------------------------------- crashes


def test_deep_nesting_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "deep.jsonl").write_bytes(b"[" * 2048 + b"\n" + b"{\"a\":" * 70 + b"1" + b"}" * 70 + b"\n"
                                          + orjson.dumps(ev(1, meta={"a": [[[]]]})) + b"\n")
    r = fold_both(tmp_path / "deep.jsonl")
    assert [(x.reason, x.field, x.detail) for x in r.rejects] == \
        [("SCHEMA_INVALID", None, "nested deeper than 64 levels")] * 2
    assert r.totals["events_kept"] == 1
    (tmp_path / "deep.json").write_bytes(b"[" * 2048)
    refused(tmp_path / "deep.json", r"deep.json: line 1: JSON nested deeper than 64 levels")
    (tmp_path / "deep2.json").write_bytes(b"[\n" + orjson.dumps(ev(1)) + b",\n" + b"[" * 80 + b"]" * 80 + b"]")
    refused(tmp_path / "deep2.json", r"deep2.json: line 3: JSON nested deeper than 64 levels")


@pytest.mark.parametrize("bad", ["\x00", "\x1f", "\x7f", "\x85", "\t", "\n", "\x1b[31m"])
@pytest.mark.parametrize("field", ["event_id", "principal_id"])
def test_control_characters_in_identifiers_are_schema_invalid(tmp_path: Path, field: str, bad: str) -> None:
    recs = [ev(1, **{field: f"x{bad}y"}), ev(2)]
    (tmp_path / "ev.jsonl").write_bytes(jsonl(recs))
    pq.write_table(pa.Table.from_pylist(recs), tmp_path / "ev.parquet")
    for path in (tmp_path / "ev.jsonl", tmp_path / "ev.parquet"):
        r = fold_both(path)
        assert [(x.reason, x.field) for x in r.rejects] == [("SCHEMA_INVALID", field)], path
        assert r.kept["event_id"].to_list() == ["e2"]


def test_window_id_is_a_real_ascii_calendar_date() -> None:
    for bad in ("2025-02-30", "2025-9-23", "2025-09-23\n", "２０２５-09-23", "2025-09-23T00:00:00Z", "../x"):
        with pytest.raises(InputError, match="window_id"):
            window_bounds(bad, POLICY)
    assert window_bounds("2024-02-29", POLICY).window_id == "2024-02-29"


def test_tenant_and_window_validators() -> None:
    from vgos.config import validate_tenant, validate_window_id

    for good in ("default", "acme", "t", "A.b_c-9", "x" * 64):
        assert validate_tenant(good) == good
    for bad in ("../../x", "", ".hidden", "-x", "a/b", "x" * 65, "a\x00", "tenant\n", "ünï", None):
        with pytest.raises(InputError, match="tenant"):
            validate_tenant(bad)
    assert validate_window_id("2025-09-23") == "2025-09-23"
    with pytest.raises(InputError, match="not a calendar date"):
        validate_window_id("2025-02-30")
