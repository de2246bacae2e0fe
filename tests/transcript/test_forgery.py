"""Forgery suite (issue #11): every forged or tampered transcript is refused by `vgos verify` with its reason and
exit 1; the key shipped inside a transcript never makes it VERIFIED; a legitimate one names the trusted key."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.transcript.conftest import SEED_EVENTS, SEED_WINDOW
from vgos.canonical import jcs_bytes, sha256_hex
from vgos.fold import fold_files
from vgos.policy import load_policy
from vgos.replay import verify_transcript
from vgos.signing import Ed25519FileSigner, load_signer
from vgos.storage import open_store
from vgos.transcript import merkle_root, sign_note, write_transcript
from vgos_app.cli import main

VGOS = str(Path(sys.executable).parent / "vgos")
WINDOW_B = "2025-09-24"
ATTACKER_PAYOUT = 100_000_000


@pytest.fixture(autouse=True)
def _no_trust_file_from_the_environment(monkeypatch):
    monkeypatch.delenv("VGOS_TRUSTED_KEYS", raising=False)


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    """The installed `vgos` command with only VGOS_HOME set (its local signing key is the trusted one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VGOS_", "AWS_"))}
    env["VGOS_HOME"] = str(home)
    return subprocess.run([VGOS, *args], capture_output=True, text=True, env=env, timeout=300)


def _verify(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["verify", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------------------------------------------- building


def _transcript(result, root: Path, signer=None) -> Path:
    """A v1 transcript (its segments are the leaves' bytes, which this suite forges directly; the v2 forgeries of
    the Parquet input segments are in test_transcript_v2.py)."""
    write_transcript(result, open_store(str(root)), "transcript", signer or load_signer(), version=1)
    return root / "transcript"


def _window_b_events(tmp: Path) -> Path:
    text = SEED_EVENTS.read_text().replace("2025-09-24T", "2025-09-25T").replace("2025-09-23T", "2025-09-24T")
    path = tmp / "window_b.jsonl"
    path.write_text(text.replace('"amount_minor":345', '"amount_minor":999'))
    return path


def _segments(root: Path) -> list[list]:
    """[name, kind, bytes] of every segment in index order (mutable, for forging)."""
    index = orjson.loads((root / "index.json").read_bytes())
    return [[e["name"], e["kind"], (root / "segments" / e["sha256"]).read_bytes()] for e in index["segments"]]


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()  # files are written 0444; replace, do not edit in place
    path.write_bytes(data)


def _reforge(src: Path, dst: Path, edit: Callable[[list[list]], None] | None = None, *, sign=None,
             index_edit: Callable[[dict], None] | None = None) -> Path:
    """Copy the transcript, apply `edit` to its segments, recompute the index, the Merkle root and the checkpoint
    consistently; sign with `sign` (a Signer, whose key.pem is shipped) or keep the original signature lines."""
    shutil.copytree(src, dst)
    index = orjson.loads((src / "index.json").read_bytes())
    segs = _segments(src)
    if edit:
        edit(segs)
    entries = []
    for name, kind, data in segs:
        _put(dst / "segments" / sha256_hex(data), data)
        entries.append({"name": name, "kind": kind, "sha256": sha256_hex(data), "size": len(data)})
    seal_bytes = [d for _n, k, d in segs if k == "seal"][0]
    root = merkle_root([bytes.fromhex(e["sha256"]) for e in entries])
    index.update(segments=entries, transcript_root=root.hex(), output_digest=sha256_hex(seal_bytes))
    try:
        index["policy_hash"] = orjson.loads(seal_bytes)["window"]["policy_hash"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass  # a malformed seal keeps the index's policy_hash
    if sign is not None:
        index["key"] = {"key_id": sign.key_id, "algorithm": sign.algorithm}
    if index_edit:
        index_edit(index)
    index_bytes = jcs_bytes(index)
    _put(dst / "index.json", index_bytes)
    text = f"{index['origin']}\n{len(entries)}\n{base64.b64encode(root).decode()}\nindex {sha256_hex(index_bytes)}\n"
    if sign is not None:
        _put(dst / "checkpoint", sign_note(text, sign))
        _put(dst / "key.pem", sign.public_key_pem())
    else:
        old_sigs = (src / "checkpoint").read_text().rpartition("\n\n")[2]
        _put(dst / "checkpoint", (text + "\n" + old_sigs).encode())
    return dst


def _replace_kind(segs: list[list], kind: str, data: bytes) -> None:
    for s in segs:
        if s[1] == kind:
            s[2] = data


def _pay_attacker(segs: list[list]) -> None:
    """Seal (and its allocations segment) edited to pay ATTACKER 100000000 minor units."""
    seal = orjson.loads([d for _n, k, d in segs if k == "seal"][0])
    seal["allocations"].insert(0, {"bonus_floor_minor": 0, "carry_minor": 0, "events": 1,
                                   "net_minor": ATTACKER_PAYOUT, "payout_minor": ATTACKER_PAYOUT,
                                   "principal_id": "ATTACKER", "remainder_micro": 0})
    for k in ("net_minor", "payout_minor"):
        seal["totals"][k] += ATTACKER_PAYOUT
    seal["totals"]["principals"] += 1
    _replace_kind(segs, "seal", jcs_bytes(seal))
    _replace_kind(segs, "allocations", jcs_bytes(seal["allocations"]))


def _bigger_bonus(segs: list[list]) -> None:
    manifest = orjson.loads([d for _n, k, d in segs if k == "policy_manifest"][0])
    manifest["bonus_ppm"] = 900_000
    _replace_kind(segs, "policy_manifest", jcs_bytes(manifest))


@pytest.fixture
def legit(vgos_home, tmp_path):
    """Window A (the seed window) signed by the local signer, which is trusted by default."""
    result = fold_files([SEED_EVENTS], SEED_WINDOW, load_policy(None))
    return result, _transcript(result, tmp_path / "a")


@pytest.fixture
def window_b(vgos_home, tmp_path):
    result = fold_files([_window_b_events(tmp_path)], WINDOW_B, load_policy(None))
    return result, _transcript(result, tmp_path / "b")


@pytest.fixture
def attacker(tmp_path):
    return Ed25519FileSigner(tmp_path / "attacker" / "ed25519.pem")


# ---------------------------------------------------------------------------------- through the installed command


def test_resigned_by_another_key_is_untrusted_and_legit_names_the_trusted_key(vgos_home, tmp_path, legit,
                                                                            attacker):
    result, a = legit
    forged = _reforge(a, tmp_path / "forged", _pay_attacker, sign=attacker)
    assert (forged / "key.pem").read_bytes() == attacker.public_key_pem()
    assert verify_transcript(str(forged)).reason == "UNTRUSTED_KEY"  # before issue #11: VERIFIED

    run = _cli("verify", str(forged), home=vgos_home)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.startswith("FAILED UNTRUSTED_KEY [checkpoint]: ")
    assert attacker.key_id in run.stdout and "Traceback" not in run.stderr

    own = load_signer()
    run = _cli("verify", str(a), home=vgos_home)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith(f"VERIFIED window {SEED_WINDOW} ")
    assert f"signed by trusted key {own.key_id} (ed25519, local signer)" in run.stdout
    assert result.output_digest in run.stdout

    # the forgery is otherwise consistent: only when the attacker's own key is pinned do deeper checks run
    (tmp_path / "attacker.pub").write_bytes(attacker.public_key_pem())
    code = main(["verify", str(forged), "--pubkey", str(tmp_path / "attacker.pub")])
    assert code == 1  # DIGEST_MISMATCH: the replay does not pay ATTACKER


# ---------------------------------------------------------------------------------------------- in process


def test_forged_transcripts_are_refused_with_their_reason(vgos_home, tmp_path, legit, window_b, attacker, capsys):
    _result, a = legit
    _result_b, b = window_b
    own = load_signer()
    b_input = [d for _n, k, d in _segments(b) if k == "normalized_input"][0]

    def swap_input(segs):
        _replace_kind(segs, "normalized_input", b_input)

    def truncate_seal(segs):
        _replace_kind(segs, "seal", [d for _n, k, d in segs if k == "seal"][0][:-1])

    def extend_input(segs):
        at = max(i for i, s in enumerate(segs) if s[1] == "normalized_input")
        extra = jcs_bytes([{"amount_minor": ATTACKER_PAYOUT, "currency": "USD", "event_id": "zz-attacker",
                            "principal_id": "ATTACKER", "source_type": "earning",
                            "ts_occurred": "2025-09-23T12:00:00Z"}])
        segs.insert(at + 1, ["normalized_input/00001", "normalized_input", extra])

    cases = {
        # everything recomputed except the signature
        "edited seal, consistent digest": (_reforge(a, tmp_path / "f1", _pay_attacker), "BAD_SIGNATURE"),
        "changed policy manifest": (_reforge(a, tmp_path / "f2", _bigger_bonus), "BAD_SIGNATURE"),
        "segment swapped from window B": (_reforge(a, tmp_path / "f3", swap_input), "BAD_SIGNATURE"),
        "truncated segment, index recomputed": (_reforge(a, tmp_path / "f4", truncate_seal), "BAD_SIGNATURE"),
        # an insider holding the trusted key still cannot make a lie verify
        "changed manifest, signed by the trusted key": (_reforge(a, tmp_path / "f5", _bigger_bonus, sign=own),
                                                        "POLICY_HASH_MISMATCH"),
        "swapped segment, signed by the trusted key": (_reforge(a, tmp_path / "f6", swap_input, sign=own),
                                                       "INPUT_DIGEST_MISMATCH"),
        "extended input, signed by the trusted key": (_reforge(a, tmp_path / "f7", extend_input, sign=own),
                                                      "INPUT_DIGEST_MISMATCH"),
        "edited seal, signed by the trusted key": (_reforge(a, tmp_path / "f8", _pay_attacker, sign=own),
                                                   "DIGEST_MISMATCH"),
        # the legitimate signature with the attacker's key.pem shipped beside it
        "attacker key.pem shipped": (_reforge(a, tmp_path / "f9"), "KEY_MISMATCH"),
    }
    _put(tmp_path / "f9" / "key.pem", attacker.public_key_pem())

    # segments swapped, truncated or extended in place (same names, other bytes)
    idx_a = orjson.loads((a / "index.json").read_bytes())
    by_kind = {e["kind"]: e["sha256"] for e in idx_a["segments"]}
    for name, change in (("swapped in place", lambda d: b_input), ("truncated in place", lambda d: d[:-7]),
                         ("extended in place", lambda d: d + b" ")):
        dst = tmp_path / name.replace(" ", "_")
        shutil.copytree(a, dst)
        seg = dst / "segments" / by_kind["normalized_input" if "swapped" in name else "seal"]
        _put(seg, change(seg.read_bytes()))
        cases[name] = (dst, "SEGMENT_HASH_MISMATCH")
    # window B's signed index and checkpoint moved onto window A's segments
    dst = tmp_path / "b_head_on_a"
    shutil.copytree(a, dst)
    for f in ("index.json", "checkpoint"):
        _put(dst / f, (b / f).read_bytes())
    cases["B's checkpoint and index over A's segments"] = (dst, "SEGMENT_MISSING")

    for name, (path, reason) in cases.items():
        code, out, err = _verify(capsys, str(path))
        assert (code, out.split(" ")[:2]) == (1, ["FAILED", reason]), f"{name}: {out}{err}"
        assert err == ""
    # and the untouched transcripts still verify
    assert _verify(capsys, str(a))[0] == 0 and _verify(capsys, str(b))[0] == 0


def test_expect_digest_and_expect_window(vgos_home, legit, window_b, capsys):
    result, a = legit
    result_b, b = window_b
    code, out, _ = _verify(capsys, str(a), "--expect-digest", result.output_digest.upper(), "--expect-window",
                           SEED_WINDOW)
    assert code == 0 and out.startswith("VERIFIED")
    # window B's (valid, trusted) transcript presented as window A
    code, out, _ = _verify(capsys, str(b), "--expect-window", SEED_WINDOW)
    assert code == 1 and out.startswith(f"FAILED EXPECTED_WINDOW_MISMATCH [index.json]: transcript is for window "
                                        f"{WINDOW_B}, expected {SEED_WINDOW}")
    code, out, _ = _verify(capsys, str(b), "--expect-digest", result.output_digest)
    assert code == 1 and out.startswith("FAILED EXPECTED_DIGEST_MISMATCH") and result_b.output_digest in out
    for bad in (["--expect-digest", "abc"], ["--expect-window", "2025-02-30"], ["--expect-window", "23.09.2025"]):
        code, out, err = _verify(capsys, str(a), *bad)
        assert code == 2 and out == "" and err.count("\n") == 1 and bad[1] in err


def test_signed_but_malformed_index_seal_or_manifest_fail_without_a_traceback(vgos_home, tmp_path, legit, capsys):
    _result, a = legit
    own = load_signer()

    def size_text(index):
        index["segments"][0]["size"] = "364"

    def traversal(index):
        index["segments"][0]["sha256"] = "../../../etc/passwd"

    def no_segments(index):
        del index["segments"]

    cases = [
        (_reforge(a, tmp_path / "i1", sign=own, index_edit=size_text), "INDEX_MALFORMED"),
        (_reforge(a, tmp_path / "i2", sign=own, index_edit=traversal), "INDEX_MALFORMED"),
        (_reforge(a, tmp_path / "i3", sign=own, index_edit=no_segments), "INDEX_MALFORMED"),
        (_reforge(a, tmp_path / "s1", lambda s: _replace_kind(s, "seal", b"not json"), sign=own), "SEAL_MALFORMED"),
        (_reforge(a, tmp_path / "s2", lambda s: _replace_kind(s, "seal", b"{}"), sign=own), "SEAL_MALFORMED"),
        (_reforge(a, tmp_path / "s3", lambda s: _replace_kind(s, "seal", b'{"window":[]}'), sign=own),
         "SEAL_MALFORMED"),
        (_reforge(a, tmp_path / "r1", lambda s: _replace_kind(s, "rejects", b'{"a":1}'), sign=own),
         "REJECTS_MALFORMED"),
    ]
    # a manifest that hashes to the seal's policy_hash but is not a valid policy
    bad_manifest = b'{"bonus_ppm":"lots"}'

    def bad_policy(segs):
        _replace_kind(segs, "policy_manifest", bad_manifest)
        seal = orjson.loads([d for _n, k, d in segs if k == "seal"][0])
        seal["window"]["policy_hash"] = sha256_hex(bad_manifest)
        _replace_kind(segs, "seal", jcs_bytes(seal))

    cases.append((_reforge(a, tmp_path / "p1", bad_policy, sign=own), "POLICY_MALFORMED"))
    for path, reason in cases:
        code, out, err = _verify(capsys, str(path))
        assert (code, out.split(" ")[:2]) == (1, ["FAILED", reason]), f"{path.name}: {out}{err}"


def test_unusable_inputs_are_one_line_exit_2(vgos_home, tmp_path, legit, capsys, monkeypatch):
    _result, a = legit
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbage.pem").write_text("not a key\n")
    cases = [
        [str(a / "index.json")],  # a file instead of a folder
        [str(tmp_path / "empty")],  # a folder that holds no transcript
        [str(tmp_path / "missing")],
        [str(a), "--pubkey", str(tmp_path / "garbage.pem")],
        [str(a), "--pubkey", str(tmp_path / "missing.pem")],
        [str(a), "--pubkey", str(tmp_path)],
    ]
    for args in cases:
        code, out, err = _verify(capsys, *args)
        assert (code, out) == (2, ""), args
        assert err.startswith("vgos: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    # a transcript folder with an index but no checkpoint is an unsigned transcript: a failed verification
    dst = tmp_path / "unsigned"
    shutil.copytree(a, dst)
    (dst / "checkpoint").unlink()
    code, out, _ = _verify(capsys, str(dst))
    assert code == 1 and out.startswith("FAILED CHECKPOINT_MISSING")

    # s3:// without credentials, and with an unreachable endpoint
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # loopback only: never a request off this machine
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # boto3 caches credentials an earlier test supplied
    code, out, err = _verify(capsys, "s3://vgos-nowhere/transcripts/w")
    assert code == 2 and out == "" and err.count("\n") == 1 and "credentials" in err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    code, out, err = _verify(capsys, "s3://vgos-nowhere/transcripts/w")
    assert code == 2 and out == "" and err.count("\n") == 1 and "127.0.0.1:9" in err
