"""One clear line, never a traceback: the gate on a damaged transcript, S3 stores that cannot be reached."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import orjson
import pytest

from vgos.errors import InputError

WINDOW = "2025-09-23"


@pytest.fixture(scope="module")
def seed_fold():
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.demo import seed_events_path

    return fold_files([seed_events_path()], WINDOW, load_policy())


@pytest.fixture
def transcript(vgos_home: Path, seed_fold) -> Path:
    """The seed window published with fresh evidence; returns its transcript folder."""
    from vgos.acceptance import submit_proof
    from vgos.transcript import publish_transcript
    from vgos_app.cli_acceptance import demo_proofs

    ref = publish_transcript(seed_fold)
    issued = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=60)
    for p in demo_proofs(WINDOW, "default", ref.output_digest, issued=issued):
        assert submit_proof(p).accepted
    return Path(ref.url)


def _segment(folder: Path, kind: str) -> Path:
    index = orjson.loads((folder / "index.json").read_bytes())
    entry = next(e for e in index["segments"] if e["kind"] == kind)
    return folder / "segments" / (entry.get("stored_sha256") or entry["sha256"])  # v2 input: the stored object


def _remove(path: Path) -> None:
    path.chmod(0o644)
    path.unlink()


def _authorize(capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    from vgos_app.cli import main

    capsys.readouterr()
    code = main(["authorize", WINDOW])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


@pytest.mark.parametrize("kind", ["normalized_input", "policy_manifest", "allocations"])
def test_gate_holds_digest_mismatch_when_a_segment_is_missing(transcript: Path, kind: str,
                                                              capsys: pytest.CaptureFixture) -> None:
    from vgos.gate import latest_decisions

    _remove(_segment(transcript, kind))
    code, out, err = _authorize(capsys)
    assert code == 1, (out, err)
    decisions = latest_decisions(WINDOW)
    assert decisions and {(d["decision"], d["reason_code"]) for d in decisions} == {("HOLD", "DIGEST_MISMATCH")}


def _damage_seal(folder: Path) -> None:
    _remove(_segment(folder, "seal"))


def _seal_is_a_folder(folder: Path) -> None:
    seal = _segment(folder, "seal")
    _remove(seal)
    seal.mkdir()


def _index_garbage(folder: Path) -> None:
    _remove(folder / "index.json")
    (folder / "index.json").write_bytes(b"{not json")


def _no_transcript(folder: Path) -> None:
    for p in folder.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(folder)


@pytest.mark.parametrize("damage", [_damage_seal, _seal_is_a_folder, _index_garbage, _no_transcript],
                         ids=["seal-missing", "seal-is-a-folder", "index-not-json", "transcript-gone"])
def test_gate_refuses_in_one_line_when_the_seal_cannot_be_read(transcript: Path, damage,  # noqa: ANN001
                                                               capsys: pytest.CaptureFixture) -> None:
    from vgos.gate import latest_decisions

    damage(transcript)
    code, out, err = _authorize(capsys)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("vgos: error: "), err
    assert str(transcript) in err, err
    assert latest_decisions(WINDOW) is None  # nothing decided, nothing recorded


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with no AWS credentials anywhere (no instance metadata lookups either)."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # whatever happens, no request leaves loopback
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # boto3 caches the credentials it found first
    return monkeypatch


def test_s3_store_without_credentials_is_one_input_error(no_aws: pytest.MonkeyPatch) -> None:
    from vgos.storage import open_store

    store = open_store("s3://vgos-bucket/drop")
    for call in (lambda: store.list("proofs"), lambda: store.get("proofs/a.json"), lambda: store.exists("x"),
                 lambda: store.put("x", b"1")):
        with pytest.raises(InputError, match=r"^s3://vgos-bucket/drop/\S*: no AWS credentials") as info:
            call()
        assert "\n" not in str(info.value)


def test_s3_store_with_an_unreachable_endpoint_is_one_input_error(no_aws: pytest.MonkeyPatch) -> None:
    from vgos.storage import open_store

    no_aws.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_aws.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    no_aws.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(InputError) as info:
        open_store("s3://vgos-bucket/x").get("a")
    assert str(info.value) == ("s3://vgos-bucket/x/a: cannot reach the S3 endpoint http://127.0.0.1:9 "
                               "(EndpointConnectionError)")
    no_aws.setenv("AWS_ENDPOINT_URL", "not a url")
    with pytest.raises(InputError, match=r"^s3://vgos-bucket/x: cannot open S3"):
        open_store("s3://vgos-bucket/x")
    with pytest.raises(InputError, match="no bucket name"):
        open_store("s3:///x")


def test_cli_with_an_s3_drop_zone_and_no_credentials(vgos_home: Path, no_aws: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    from vgos_app.cli import main

    no_aws.setenv("VGOS_DROP_ZONE", "s3://vgos-bucket/drop")
    assert main(["proof", "ingest"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "vgos: error: s3://vgos-bucket/drop/proofs/: no AWS credentials (set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role)"]
