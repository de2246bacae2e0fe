"""Trust store (vgos/trust.py), `vgos keys rotate` / `vgos keys list`, and `vgos verify` against trusted keys only."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.transcript.conftest import SEED_EVENTS, SEED_WINDOW
from vgos.errors import InputError
from vgos.fold import fold_files
from vgos.policy import load_policy
from vgos.replay import verify_transcript
from vgos.signing import Ed25519FileSigner, key_id_for_public_key, load_signer
from vgos.storage import open_store
from vgos.transcript import write_transcript
from vgos.trust import TrustedKey, find_trusted, read_trust_file, trust_file_path, trusted_keys
from vgos_app.cli import main


@pytest.fixture(autouse=True)
def _no_trust_file_from_the_environment(monkeypatch):
    monkeypatch.delenv("VGOS_TRUSTED_KEYS", raising=False)


def _transcript(root: Path, signer=None) -> Path:
    result = fold_files([SEED_EVENTS], SEED_WINDOW, load_policy(None))
    write_transcript(result, open_store(str(root)), "transcript", signer or load_signer())
    return root / "transcript"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_trusted_keys_sources_and_find_trusted(vgos_home, tmp_path, monkeypatch):
    assert trusted_keys() == []  # nothing trusted, and verifying never creates a key
    assert not (vgos_home / "keys").exists()
    own = load_signer()  # creates the local key
    [local] = trusted_keys()
    assert local == TrustedKey(own.key_id, "ed25519", own.public_key_pem(), None, None, "local signer")

    other = Ed25519FileSigner(tmp_path / "other.pem")
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"keys": [{"public_key_pem": other.public_key_pem().decode(),
                                          "not_before": "2025-01-01T01:00:00+01:00",
                                          "not_after": "2025-12-31T23:59:59Z", "note": "partner"}]}))
    monkeypatch.setenv("VGOS_TRUSTED_KEYS", str(path))
    keys = trusted_keys()
    assert [(k.key_id, k.source) for k in keys] == [(other.key_id, f"VGOS_TRUSTED_KEYS:{path}"),
                                                    (own.key_id, "local signer")]
    assert keys[0].not_before == "2025-01-01T00:00:00Z"  # canonical UTC
    # a PEM with other line breaks is the same key (canonicalized); validity is inclusive
    pem = other.public_key_pem().replace(b"\n", b"\r\n")
    assert find_trusted(pem, at="2025-12-31T23:59:59Z").key_id == other.key_id
    assert find_trusted(pem, at="2026-01-01T00:00:00Z") is None
    assert find_trusted(key_id=other.key_id, at="2024-12-31T23:59:59Z") is None
    assert find_trusted(key_id=own.key_id, at="1999-01-01T00:00:00Z").source == "local signer"
    assert find_trusted(b"not a pem") is None
    # explicit --pubkey keys: then ONLY those
    third = Ed25519FileSigner(tmp_path / "third.pem")
    assert [k.source for k in trusted_keys([third.public_key_pem()])] == ["--pubkey"]
    assert find_trusted(key_id=own.key_id, pubkeys=[third.public_key_pem()]) is None
    with pytest.raises(InputError, match="--pubkey #1"):
        trusted_keys([b"garbage"])


@pytest.mark.parametrize(("doc", "field"), [
    ("not json", "not a JSON document"),
    ('{"keys": {}}', "field 'keys'"),
    ('{"keys": [], "extra": 1}', "field 'keys'"),
    ('{"keys": [{"public_key_pem": "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n"}]}',
     "field 'keys[0].public_key_pem'"),
    ('{"keys": [{"public_key_pem": "PEM", "not_after": "2025-13-01T00:00:00Z"}]}', "field 'keys[0].not_after'"),
    ('{"keys": [{"public_key_pem": "PEM", "not_before": "2025-09-23"}]}', "field 'keys[0].not_before'"),
    ('{"keys": [{"public_key_pem": "PEM", "not_before": "2026-01-01T00:00:00Z", '
     '"not_after": "2025-01-01T00:00:00Z"}]}', "field 'keys[0].not_after'"),
    ('{"keys": [{"public_key_pem": "PEM", "not_afer": "2025-01-01T00:00:00Z"}]}', "field 'keys[0].not_afer'"),
    ('{"keys": [{"public_key_pem": "PEM", "key_id": "0000000000000000"}]}', "field 'keys[0].key_id'"),
    ('{"keys": [{"public_key_pem": "PEM", "public_key_pem": "PEM"}]}', "duplicated field"),
    ('{"keys": ["PEM"]}', "field 'keys[0]'"),
])
def test_malformed_trust_file_names_file_and_field_exit_2(vgos_home, tmp_path, monkeypatch, capsys, doc, field):
    pem = json.dumps(load_signer().public_key_pem().decode())[1:-1]
    path = tmp_path / "trust.json"
    path.write_text(doc.replace("PEM", pem))
    with pytest.raises(InputError) as err:
        read_trust_file(path)
    assert str(path) in str(err.value) and field in str(err.value)
    monkeypatch.setenv("VGOS_TRUSTED_KEYS", str(path))
    capsys.readouterr()
    assert main(["verify", str(_transcript(tmp_path / "t"))]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and str(path) in out.err


def test_missing_explicit_trust_file_is_exit_2(vgos_home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VGOS_TRUSTED_KEYS", str(tmp_path / "absent.json"))
    assert main(["keys", "list"]) == 2
    assert "absent.json" in capsys.readouterr().err


def test_verify_trusts_only_trusted_keys_never_creates_one(vgos_home, tmp_path, monkeypatch, capsys):
    signer = Ed25519FileSigner(tmp_path / "elsewhere" / "ed25519.pem")
    t = _transcript(tmp_path / "t", signer)
    report = verify_transcript(str(t))
    assert report.reason == "UNTRUSTED_KEY" and signer.key_id in report.message
    assert not (vgos_home / "keys").exists()  # verifying made no key
    (tmp_path / "signer.pub").write_bytes(signer.public_key_pem())
    (tmp_path / "other.pub").write_bytes(load_signer().public_key_pem())
    capsys.readouterr()
    assert main(["verify", str(t), "--pubkey", str(tmp_path / "other.pub"), "--pubkey",
                 str(tmp_path / "signer.pub")]) == 0
    assert f"signed by trusted key {signer.key_id} (ed25519, --pubkey)" in capsys.readouterr().out
    # or through the trust file
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"keys": [{"public_key_pem": signer.public_key_pem().decode()}]}))
    monkeypatch.setenv("VGOS_TRUSTED_KEYS", str(path))
    report = verify_transcript(str(t))
    assert report.ok and (report.key_id, report.key_source) == (signer.key_id, f"VGOS_TRUSTED_KEYS:{path}")
    # outside its validity period (the window closed 2025-09-23T21:00:00Z) the key does not verify
    path.write_text(json.dumps({"keys": [{"public_key_pem": signer.public_key_pem().decode(),
                                          "not_after": "2025-09-23T20:59:59Z"}]}))
    report = verify_transcript(str(t))
    assert report.reason == "KEY_NOT_VALID" and "2025-09-23T21:00:00Z" in report.message


def test_keys_rotate_keeps_old_windows_verifiable_and_is_audited(vgos_home, tmp_path, capsys):
    from vgos.audit import query

    old = load_signer()
    old_t = _transcript(tmp_path / "old")
    key_path = vgos_home / "keys" / "ed25519.pem"
    old_private = key_path.read_bytes()
    capsys.readouterr()
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    new = load_signer()
    assert new.key_id != old.key_id and new.key_id in out and old.key_id in out

    retired = vgos_home / "keys" / f"ed25519.{old.key_id}.retired.pem"
    assert retired.read_bytes() == old_private and _mode(retired) == 0o600 and _mode(key_path) == 0o600
    tf = trust_file_path()
    assert tf == vgos_home / "trusted_keys.json" and _mode(tf) == 0o600 and _mode(vgos_home) == 0o700
    entries = json.loads(tf.read_text())["keys"]
    assert [(e["key_id"], e["not_before"] is None, e["not_after"] is None) for e in entries] == [
        (old.key_id, True, False), (new.key_id, True, True)]
    assert not [p for p in tf.parent.iterdir() if p.name.endswith(".tmp")]

    [row] = query(action="keys.rotate")
    assert row["diff_summary"]["old_key_id"] == old.key_id and row["diff_summary"]["new_key_id"] == new.key_id

    # the old window still verifies, through the old key's trust-file entry; a new transcript with the new key
    report = verify_transcript(str(old_t))
    assert report.ok and (report.key_id, report.key_source) == (old.key_id, f"VGOS_TRUSTED_KEYS:{tf}")
    new_t = _transcript(tmp_path / "new")
    report = verify_transcript(str(new_t))
    assert report.ok and report.key_id == new.key_id

    capsys.readouterr()
    assert main(["keys", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["KEY_ID", "ALGORITHM", "NOT_BEFORE", "NOT_AFTER", "SOURCE"]
    assert any(line.startswith(old.key_id) and entries[0]["not_after"] in line for line in lines)
    assert any(line.startswith(new.key_id) and line.endswith("local signer") for line in lines)

    # an auditor with only the trust file (no local key): both the old window and the old window re-signed by the
    # new key after the rotation verify
    import os

    os.environ["VGOS_SIGNING_KEY"] = str(tmp_path / "no-local-key.pem")
    try:
        for t in (old_t, new_t):
            report = verify_transcript(str(t))
            assert report.ok and report.key_source == f"VGOS_TRUSTED_KEYS:{tf}", report.line()
    finally:
        del os.environ["VGOS_SIGNING_KEY"]
    assert main(["keys", "rotate", "--not-after-old", "yesterday"]) == 2
    assert load_signer().key_id == new.key_id  # nothing changed


def test_rotation_with_an_old_key_retired_before_the_window(vgos_home, tmp_path, capsys):
    old = load_signer()
    t = _transcript(tmp_path / "t")
    assert main(["keys", "rotate", "--not-after-old", "2025-09-23T20:59:59Z"]) == 0
    report = verify_transcript(str(t))
    assert report.reason == "KEY_NOT_VALID" and old.key_id in report.message
    assert key_id_for_public_key(load_signer().public_key_pem()) != old.key_id


def test_keys_rotate_refuses_kms(vgos_home, monkeypatch, capsys):
    monkeypatch.setenv("VGOS_KMS_KEY_ID", "alias/vgos")
    assert main(["keys", "rotate"]) == 2
    assert "KMS" in capsys.readouterr().err


def test_a_retired_key_cannot_claim_an_early_signing_time(vgos_home, tmp_path):
    """A checkpoint's own `signed_at` never moves the key-validity time before the window's close."""
    import base64

    from cryptography.hazmat.primitives import serialization

    from vgos.transcript import note_key_hash, note_key_name

    old = load_signer()
    assert main(["keys", "rotate", "--not-after-old", "2025-09-24T00:00:00Z"]) == 0  # after the seed window
    retired = vgos_home / "keys" / f"ed25519.{old.key_id}.retired.pem"
    later = fold_files([SEED_EVENTS], "2025-09-30", load_policy(None))  # closes after the retirement
    from vgos.signing import Ed25519FileSigner

    write_transcript(later, open_store(str(tmp_path / "t")), "transcript", Ed25519FileSigner(retired))
    ck = tmp_path / "t" / "transcript" / "checkpoint"
    assert verify_transcript(str(ck.parent)).reason == "KEY_NOT_VALID"
    key = serialization.load_pem_private_key(retired.read_bytes(), None)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = ck.read_text().split("\n\n")[0] + "\nsigned_at 2025-09-01T00:00:00Z\n"
    name = note_key_name(key_id_for_public_key(pub))
    sig = base64.b64encode(note_key_hash(name, "ed25519", pub) + key.sign(text.encode())).decode()
    ck.chmod(0o644)
    ck.write_text(f"{text}\n\u2014 {name} {sig}\n")
    report = verify_transcript(str(ck.parent))
    assert not report.ok and report.reason == "KEY_NOT_VALID", report.line()
