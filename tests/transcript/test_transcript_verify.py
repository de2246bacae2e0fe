"""Signed transcript: write, verify offline, tamper detection, write-once, no PII, S3, replay mismatch."""

from __future__ import annotations

import dataclasses
import os
import stat

import orjson
import pytest

from vgos.canonical import jcs_bytes, sha256_hex
from vgos.replay import replay_transcript, verify_transcript
from vgos.signing import load_signer
from vgos.storage import WriteOnceViolation, open_store
from vgos.transcript import write_transcript


def _write(result, root):
    return write_transcript(result, open_store(str(root)), "transcript", load_signer())


def test_seed_transcript_verifies_and_replays(vgos_home, tmp_path, seed_result):
    ref = _write(seed_result, tmp_path / "out")
    report = verify_transcript(ref.url)
    assert report.ok, report.line()
    assert report.output_digest == seed_result.output_digest
    assert report.replay.replay_digest == seed_result.output_digest
    ck = (tmp_path / "out" / "transcript" / "checkpoint").read_text()
    assert ck.startswith("vgos.transcript/default/2025-09-23\n6\n")
    assert "\n\n\u2014 vgos.signer/" in ck
    # a single normalized chunk is exactly the RFC 8785 input array, so its leaf hash is the seal's input_digest;
    # v2 stores it as Parquet under the stored object's own hash, v1 under the leaf hash
    index = orjson.loads((tmp_path / "out/transcript/index.json").read_bytes())
    assert index["schema"] == "vgos.transcript/2"
    (chunk,) = [e for e in index["segments"] if e["kind"] == "normalized_input"]
    assert chunk["sha256"] == seed_result.input_digest and chunk["encoding"] == "parquet" and chunk["rows"] == 3
    assert (tmp_path / "out/transcript/segments" / chunk["stored_sha256"]).exists()
    v1 = write_transcript(seed_result, open_store(str(tmp_path / "v1")), "transcript", load_signer(), version=1)
    assert (tmp_path / "v1/transcript/segments" / seed_result.input_digest).exists()
    assert v1.transcript_root == ref.transcript_root and verify_transcript(v1.url).ok


def _flip(path, pos):
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))
    data[pos] ^= 0x01
    return bytes(data)


def test_flipping_any_byte_of_any_file_fails_verify_and_names_it(vgos_home, tmp_path, seed_result):
    ref = _write(seed_result, tmp_path / "out")
    root = tmp_path / "out" / "transcript"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"checkpoint", "index.json", "key.pem"}
    checked = 0
    for path in files:
        size = path.stat().st_size
        rel = path.relative_to(root).as_posix()
        # every byte of the signed metadata; segments (plain SHA-256 content addresses) at 40 spread positions
        positions = range(size) if not rel.startswith("segments/") else sorted(
            {*range(0, size, max(1, size // 40)), size - 1})
        for pos in positions:
            original = _flip(path, pos)
            report = verify_transcript(ref.url)
            path.write_bytes(original)
            assert not report.ok, f"flip at {path.name}[{pos}] went unnoticed"
            assert report.reason and report.segment, report
            if rel.startswith("segments/"):
                assert report.reason == "SEGMENT_HASH_MISMATCH" and path.name in report.segment
            elif rel == "index.json":
                assert report.reason == "INDEX_HASH_MISMATCH" and report.segment == "index.json"
            elif rel == "key.pem":
                assert report.reason in ("KEY_INVALID", "KEY_MISMATCH")
            else:
                assert report.reason in ("CHECKPOINT_MALFORMED", "BAD_SIGNATURE", "UNTRUSTED_KEY")
            checked += 1
    assert checked > 500
    assert verify_transcript(ref.url).ok  # restored


def test_cli_verify_prints_first_failure_and_exit_code(vgos_home, tmp_path, seed_result, capsys):
    from vgos_app.cli import main

    ref = _write(seed_result, tmp_path / "out")
    assert main(["verify", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.startswith("VERIFIED")
    seal = tmp_path / "out/transcript/segments" / seed_result.output_digest
    _flip(seal, 10)
    assert main(["verify", ref.url]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED SEGMENT_HASH_MISMATCH [seal (segments/")


def test_pubkey_option_pins_the_signer(vgos_home, tmp_path, seed_result, monkeypatch):
    ref = _write(seed_result, tmp_path / "out")
    own = load_signer().public_key_pem()
    assert verify_transcript(ref.url, own).ok
    assert verify_transcript(ref.url).key_source == "local signer"
    monkeypatch.setenv("VGOS_SIGNING_KEY", str(tmp_path / "other.pem"))
    other = load_signer().public_key_pem()
    report = verify_transcript(ref.url, other)  # --pubkey given: ONLY that key is trusted
    assert not report.ok and report.reason == "UNTRUSTED_KEY"
    # an attacker re-signing with their own key and shipping their key.pem is refused by default (issue #11)
    forged = write_transcript(seed_result, open_store(str(tmp_path / "forged")), "transcript", load_signer())
    monkeypatch.delenv("VGOS_SIGNING_KEY")
    report = verify_transcript(forged.url)
    assert report.reason == "UNTRUSTED_KEY" and forged.key_id in report.message
    assert verify_transcript(forged.url, own).reason == "UNTRUSTED_KEY"
    assert verify_transcript(forged.url, [own, other]).ok  # several --pubkey keys: any of them


def test_write_once_same_bytes_ok_different_bytes_refused(vgos_home, tmp_path, seed_result):
    from vgos.fold import fold_canonical

    first = _write(seed_result, tmp_path / "out")
    again = _write(seed_result, tmp_path / "out")
    assert again == first
    events = seed_result.kept.to_dicts()
    events[0] = {**events[0], "amount_minor": events[0]["amount_minor"] + 1}
    other = fold_canonical(events, "2025-09-23", seed_result.policy, "default", len(seed_result.rejects))
    with pytest.raises(WriteOnceViolation):
        _write(other, tmp_path / "out")


def _lying(result):
    """A result whose seal claims CRE-0001 is paid one cent more, internally consistent and properly signed."""
    seal = orjson.loads(result.seal_bytes)
    for a in seal["allocations"]:
        if a["principal_id"] == "CRE-0001":
            a["payout_minor"] += 1
    seal["totals"]["payout_minor"] += 1
    data = jcs_bytes(seal)
    return dataclasses.replace(result, seal=seal, seal_bytes=data, output_digest=sha256_hex(data))


def test_signed_but_lying_seal_is_digest_mismatch_with_diff(vgos_home, tmp_path, seed_result):
    ref = _write(_lying(seed_result), tmp_path / "out")
    rep = replay_transcript(ref)
    assert not rep.ok and rep.reason == "DIGEST_MISMATCH"
    assert rep.replay_digest == seed_result.output_digest
    assert rep.diff == [{"principal_id": "CRE-0001", "field": "payout_minor", "sealed": 381, "replayed": 380}]
    report = verify_transcript(ref.url)
    assert not report.ok and report.reason == "DIGEST_MISMATCH" and report.segment == "seal"


def test_no_pii_reaches_the_transcript(vgos_home, tmp_path):
    from vgos.fold import fold_files
    from vgos.policy import load_policy

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event_id":"a1","ts_occurred":"2025-09-23T10:00:00Z","principal_id":"CRE-0100","amount_minor":500,'
        '"source_type":"earning","email":"alice@example.com","name":"Alice Liddell","iban":"DE89370400440532013000"}\n'
        '{"event_id":"a2","ts_occurred":"2025-09-23T10:00:00Z","principal_id":"CRE-0101",'
        '"amount_minor":"alice@example.com","source_type":"earning"}\n'
    )
    result = fold_files([events], "2025-09-23", load_policy(None))
    assert len(result.rejects) == 1
    ref = _write(result, tmp_path / "out")
    assert verify_transcript(ref.url).ok
    blob = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())
    for secret in (b"alice", b"Alice", b"Liddell", b"DE89370400440532013000", str(tmp_path).encode()):
        assert secret not in blob
    assert b"CRE-0100" in blob and b"500" in blob


def test_transcript_on_s3_verifies_and_is_write_once(vgos_home, moto_server, seed_result, monkeypatch):
    import boto3

    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket="vgos-art")
    store = open_store("s3://vgos-art/prod")
    ref = write_transcript(seed_result, store, "transcripts/w1", load_signer())
    assert ref.url == "s3://vgos-art/prod/transcripts/w1"
    assert verify_transcript(ref.url).ok
    with pytest.raises(WriteOnceViolation):
        store.put("transcripts/w1/index.json", b"{}")
    key = f"prod/transcripts/w1/segments/{seed_result.output_digest}"
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.put_object(Bucket="vgos-art", Key=key, Body=b"tampered")
    report = verify_transcript(ref.url)
    assert report.reason == "SEGMENT_HASH_MISMATCH" and report.segment.startswith("seal")


def test_checkpoint_signed_with_kms(vgos_home, moto_server, tmp_path, seed_result, monkeypatch):
    import boto3

    kms = boto3.client("kms", endpoint_url=moto_server)
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("VGOS_KMS_KEY_ID", key)
    signer = load_signer()
    assert signer.algorithm == "ecdsa-p256-sha256"
    ref = write_transcript(seed_result, open_store(str(tmp_path / "out")), "t", signer)
    assert verify_transcript(ref.url).ok
    # ECDSA signatures differ per call: rewriting the same transcript keeps the first checkpoint
    again = write_transcript(seed_result, open_store(str(tmp_path / "out")), "t", signer)
    assert again == ref and verify_transcript(ref.url).ok


def test_fold_out_writes_a_verifiable_transcript(vgos_home, tmp_path, capsys):
    from tests.transcript.conftest import SEED_EVENTS
    from vgos_app.cli import main

    out = tmp_path / "w"
    assert main(["fold", "--events", str(SEED_EVENTS), "--window-id", "2025-09-23", "--out", str(out)]) == 0
    assert (out / "transcript" / "checkpoint").exists()
    capsys.readouterr()
    assert main(["verify", str(out / "transcript")]) == 0
    assert capsys.readouterr().out.startswith("VERIFIED window 2025-09-23")
    assert main(["verify", str(tmp_path / "nope")]) == 2
