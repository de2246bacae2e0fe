"""Exactly-once across windows end to end: the idempotency index filled at publish, `vgos fold` consulting it, the
`prior_windows` transcript segment, `vgos verify` replaying from the transcript alone, re-seal releases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from tests.transcript.conftest import SEED_EVENTS, SEED_WINDOW
from vgos.events import DUPLICATE_PRIOR_WINDOW
from vgos.fold import fold_files
from vgos.policy import load_policy

VGOS = Path(sys.executable).with_name("vgos")
NEXT = "2025-09-24"
POLICY = load_policy(None)


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def _next_day_events(tmp: Path) -> Path:
    """e1 again (inside 2025-09-24's window), e4 (rejected AFTER_CUTOFF in 2025-09-23, so never kept) and a new e9."""
    return _jsonl(tmp / "next.jsonl", [
        {"event_id": "e1", "ts_occurred": "2025-09-24T10:00:00Z", "principal_id": "CRE-0001", "amount_minor": 345,
         "source_type": "earning"},
        {"event_id": "e4", "ts_occurred": "2025-09-24T00:05:00Z", "principal_id": "CRE-0001", "amount_minor": 90,
         "source_type": "earning"},
        {"event_id": "e9", "ts_occurred": "2025-09-24T12:00:00Z", "principal_id": "CRE-0002", "amount_minor": 70,
         "source_type": "earning"},
    ])


def _seed_without_e1(tmp: Path) -> Path:
    lines = [line for line in SEED_EVENTS.read_bytes().splitlines() if b'"e1"' not in line]
    path = tmp / "seed_without_e1.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VGOS_")}
    env["VGOS_HOME"] = str(home)
    return subprocess.run([str(VGOS), *args], capture_output=True, text=True, env=env, timeout=300)


def _segments(transcript: Path) -> list[str]:
    return [s["kind"] for s in orjson.loads((transcript / "index.json").read_bytes())["segments"]]


def _publish(paths: list[Path], window_id: str, db_url: str | None = None, prior: bool = True):
    from vgos.store.idempotency import prior_lookup
    from vgos.transcript import publish_transcript

    lookup = prior_lookup("default", window_id, db_url) if prior else None
    result = fold_files(paths, window_id, POLICY, prior=lookup)
    return result, publish_transcript(result, db_url=db_url)


# ---------------------------------------------------------------------------------------------- vgos fold (CLI)


def test_cli_fold_rejects_an_id_kept_by_the_published_prior_window_and_verify_replays_it(vgos_home: Path,
                                                                                        tmp_path: Path) -> None:
    _publish([SEED_EVENTS], SEED_WINDOW)
    out = tmp_path / "out"
    run = _cli("fold", "--events", str(_next_day_events(tmp_path)), "--window-id", NEXT, "--tenant", "default",
               "--out", str(out), home=vgos_home)
    assert run.returncode == 0, run.stderr
    rejects = [orjson.loads(line) for line in (out / "rejects.jsonl").read_bytes().splitlines()]
    assert [(r["event_id"], r["reason"], r["detail"]) for r in rejects] == [
        ("e1", DUPLICATE_PRIOR_WINDOW, f"kept in window {SEED_WINDOW}")]
    seal = orjson.loads((out / "seal.json").read_bytes())
    assert (seal["totals"]["events_kept"], seal["totals"]["events_rejected"]) == (2, 1)
    transcript = out / "transcript"
    assert _segments(transcript)[:4] == ["policy_manifest", "input_files", "prior_windows", "normalized_input"]
    prior = [s for s in orjson.loads((transcript / "index.json").read_bytes())["segments"]
             if s["kind"] == "prior_windows"][0]
    assert (transcript / "segments" / prior["sha256"]).read_bytes() == \
        b'[{"event_id":"e1","window_id":"2025-09-23"}]'
    verify = _cli("verify", str(out), home=vgos_home)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("VERIFIED window 2025-09-24")
    # another tenant shares nothing
    other = _cli("fold", "--events", str(_next_day_events(tmp_path)), "--window-id", NEXT, "--tenant", "acme",
                 "--out", str(tmp_path / "acme"), home=vgos_home)
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "acme" / "rejects.jsonl").read_bytes() == b""


def test_cli_fold_without_a_match_is_byte_identical_to_the_plain_fold(vgos_home: Path, tmp_path: Path) -> None:
    _publish([SEED_EVENTS], SEED_WINDOW)
    out = tmp_path / "out"
    run = _cli("fold", "--events", str(SEED_EVENTS), "--window-id", SEED_WINDOW, "--out", str(out), home=vgos_home)
    assert run.returncode == 0, run.stderr
    plain = fold_files([SEED_EVENTS], SEED_WINDOW, POLICY)
    assert (out / "output_digest").read_text().strip() == plain.output_digest
    assert "prior_windows" not in _segments(out / "transcript")  # a window never matches its own ids


# ---------------------------------------------------------------------------------------------- publish path


def test_publish_replay_and_verify_from_the_transcript_alone(vgos_home: Path, tmp_path: Path) -> None:
    from vgos.replay import replay_window, verify_transcript

    first, first_ref = _publish([SEED_EVENTS], SEED_WINDOW)
    assert first.prior == {} and first_ref.output_digest == first.output_digest
    result, ref = _publish([_next_day_events(tmp_path)], NEXT)
    assert result.prior == {"e1": SEED_WINDOW}
    assert [(r.event_id, r.reason, r.detail) for r in result.rejects] == [
        ("e1", DUPLICATE_PRIOR_WINDOW, "kept in window 2025-09-23")]
    assert sorted(result.kept["event_id"].to_list()) == ["e4", "e9"]
    report = verify_transcript(ref.url)
    assert report.ok, report.line()
    assert replay_window(NEXT).ok
    # e4 and e9 are now kept by 2025-09-24: a later window sees them there, and e1 still in 2025-09-23
    from vgos.store.idempotency import prior_matches

    assert prior_matches("default", "2025-09-25", ["e1", "e2", "e4", "e9", "zz"]) == {
        "e1": SEED_WINDOW, "e2": SEED_WINDOW, "e4": NEXT, "e9": NEXT}
    assert prior_matches("default", NEXT, ["e1", "e4", "e9"]) == {"e1": SEED_WINDOW}


def test_reseal_that_drops_an_id_releases_it(vgos_home: Path, tmp_path: Path) -> None:
    from vgos.store.idempotency import prior_matches

    _publish([SEED_EVENTS], SEED_WINDOW)
    assert prior_matches("default", NEXT, ["e1"]) == {"e1": SEED_WINDOW}
    _publish([_seed_without_e1(tmp_path)], SEED_WINDOW)  # re-seal of 2025-09-23 without e1
    assert prior_matches("default", NEXT, ["e1", "e2"]) == {"e2": SEED_WINDOW}
    result, _ = _publish([_next_day_events(tmp_path)], NEXT)
    assert result.prior == {} and sorted(result.kept["event_id"].to_list()) == ["e1", "e4", "e9"]
    # re-sealing 2025-09-23 with e1 again now finds it kept by 2025-09-24's current seal (and e4, step 2 comes
    # before the window bounds)
    again, _ = _publish([SEED_EVENTS], SEED_WINDOW)
    assert again.prior == {"e1": NEXT, "e4": NEXT}


def test_replay_reapplies_the_recorded_matches_and_verify_checks_them(vgos_home: Path, tmp_path: Path) -> None:
    import dataclasses

    from vgos.replay import replay_transcript, verify_transcript
    from vgos.signing import load_signer
    from vgos.storage import open_store
    from vgos.transcript import write_transcript

    _publish([SEED_EVENTS], SEED_WINDOW)
    result, _ = _publish([_next_day_events(tmp_path)], NEXT)
    signer = load_signer()

    def written(name: str, res) -> str:
        write_transcript(res, open_store(str(tmp_path / name)), "", signer)
        return str(tmp_path / name)

    # the matches dropped from the transcript while the rejects keep them: refused
    missing = written("missing", dataclasses.replace(result, prior={}))
    report = verify_transcript(missing)
    assert (report.ok, report.reason, report.segment) == (False, "PRIOR_WINDOWS_MISMATCH", "prior_windows")
    # a recorded match that names an id the window kept: the replay rejects it again and the digest differs
    kept_named = written("kept_named", dataclasses.replace(result, prior={"e1": SEED_WINDOW, "e9": SEED_WINDOW}))
    assert verify_transcript(kept_named).reason == "PRIOR_WINDOWS_MISMATCH"
    rep = replay_transcript(kept_named)
    assert (rep.ok, rep.reason) == (False, "DIGEST_MISMATCH")
    # a match naming the window itself is malformed
    itself = written("itself", dataclasses.replace(result, prior={"e1": NEXT}))
    assert verify_transcript(itself).reason == "PRIOR_WINDOWS_MISMATCH"
    assert verify_transcript(written("honest", result)).ok


def test_transcripts_without_matches_keep_their_exact_segments(seed_result) -> None:
    from vgos.transcript import build_segments

    assert seed_result.prior == {}
    assert [k for _, k, _ in build_segments(seed_result)] == [
        "policy_manifest", "input_files", "normalized_input", "rejects", "allocations", "seal"]


# ---------------------------------------------------------------------------------------------- the store


def _index_flow(db_url: str, tmp_path: Path) -> None:
    from vgos.store.idempotency import prior_matches

    _publish([SEED_EVENTS], SEED_WINDOW, db_url)
    _publish([SEED_EVENTS], SEED_WINDOW, db_url)  # the same digest again: nothing new to index
    assert prior_matches("default", NEXT, ["e1", "e2", "e3", "e4"], db_url) == {
        "e1": SEED_WINDOW, "e2": SEED_WINDOW, "e3": SEED_WINDOW}
    assert prior_matches("default", SEED_WINDOW, ["e1"], db_url) == {}
    assert prior_matches("other", NEXT, ["e1"], db_url) == {}
    result, _ = _publish([_next_day_events(tmp_path)], NEXT, db_url)
    assert result.prior == {"e1": SEED_WINDOW}
    _publish([_seed_without_e1(tmp_path)], SEED_WINDOW, db_url)
    assert prior_matches("default", NEXT, ["e1", "e3"], db_url) == {"e3": SEED_WINDOW}
    _publish([SEED_EVENTS], SEED_WINDOW, db_url, prior=False)  # back to the first digest: e1 is held again
    assert prior_matches("default", NEXT, ["e1"], db_url) == {"e1": SEED_WINDOW}
    from vgos.store.db import get_engine

    with get_engine(db_url).connect() as conn:
        seals = conn.execute(sa.text("SELECT window_id, events FROM event_index_seals ORDER BY id")).all()
        assert [tuple(s) for s in seals] == [(SEED_WINDOW, 3), (NEXT, 2), (SEED_WINDOW, 2)]
        assert conn.execute(sa.text("SELECT count(*) FROM event_index")).scalar() == 7
    for stmt in ("DELETE FROM event_index", "UPDATE event_index_seals SET output_digest = 'x'"):
        with pytest.raises(sa.exc.DBAPIError), get_engine(db_url).begin() as conn:  # append-only
            conn.execute(sa.text(stmt))


def test_index_on_sqlite(vgos_home: Path, tmp_path: Path) -> None:
    _index_flow(f"sqlite:///{tmp_path / 'index.db'}", tmp_path)


def test_index_on_postgresql(vgos_home: Path, pg_url: str, tmp_path: Path) -> None:
    _index_flow(pg_url, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store on SQLite, then on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bulk.db'}"
    return request.getfixturevalue("pg_url")


def test_bulk_index_and_chunked_lookup(vgos_home: Path, any_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    from vgos.store import idempotency
    from vgos.store.acceptance import TranscriptIndex
    from vgos.store.db import session

    monkeypatch.setattr(idempotency, "LOOKUP_CHUNK", 7)
    monkeypatch.setattr(idempotency, "INSERT_CHUNK", 11)
    url = any_db
    ids = pl.Series([f"id-{i}" for i in range(100)] + ['q"', "b\\s", "t\tab", "n\nl", "c,omma", " lead", "trail ",
                                                        "日本", "😀", "NULL", "\\N"], dtype=pl.String)
    with session(url) as s, s.begin():
        row = TranscriptIndex(tenant_id="t", window_id="2025-09-01", output_digest="a" * 64, transcript_root="0" * 64,
                              url="u", key_id="k", created_at="2025-09-01T21:00:00Z")
        s.add(row)
        s.flush()
        assert idempotency.index_kept_events(s, row, ids)
        assert not idempotency.index_kept_events(s, row, ids)
    probe = pl.concat([ids.slice(50), pl.Series([f"new-{i}" for i in range(40)])])
    got = idempotency.prior_matches("t", "2025-09-02", probe, url)
    assert got == {i: "2025-09-01" for i in sorted(ids.slice(50).to_list())}


def test_models_match_migration(vgos_home: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import vgos.store.idempotency  # noqa: F401  (registers the models)
    from vgos.store.base import Base
    from vgos.store.db import get_engine

    with get_engine(None).connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diffs if "event_index" in repr(d)]
    assert mine == []
