"""The sealed half of a window: transcript, seal, policy, rejects and the offline verification with its signer."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from vgos.errors import InputError


def _segments(ref: Any) -> dict[str, list[bytes]]:
    """Bytes of the transcript's policy_manifest and rejects segments, by kind."""
    from vgos.transcript import read_index, read_segment

    store = ref.open()
    out: dict[str, list[bytes]] = {}
    for entry in read_index(store)["segments"]:
        if entry["kind"] in ("policy_manifest", "rejects", "input_files"):
            out.setdefault(entry["kind"], []).append(read_segment(store, entry))
    return out


def key_fingerprint(public_key_pem: bytes) -> str:
    """SHA-256 over the DER SubjectPublicKeyInfo: the full fingerprint whose first 16 hex digits are the key id."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(public_key_pem)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def signer_of(key_id: str, at: str | None) -> dict[str, Any] | None:
    """The trusted key (trust file or local signer) with that id valid at `at`, so the page names who signed."""
    from vgos.trust import find_trusted

    tk = find_trusted(key_id=key_id, at=at) or find_trusted(key_id=key_id)
    if tk is None:
        return None
    return {"key_id": tk.key_id, "algorithm": tk.algorithm, "source": tk.source, "period": tk.period(),
            "fingerprint": key_fingerprint(tk.public_key_pem), "valid_at_close": tk.valid_at(at)}


def verify_command(url: str, window_id: str, digest: str) -> str:
    """The exact command an auditor runs to re-verify the window offline against the keys they trust."""
    import shlex

    return f"vgos verify {shlex.quote(url)} --expect-digest {digest} --expect-window {window_id}"


def load_settlement(window_id: str, tenant_id: str, *, verify: bool = True) -> dict[str, Any]:
    """Transcript, seal, policy, rejects and (unless told not to) the offline verification of the window."""
    from vgos.replay import verify_transcript
    from vgos.transcript import current_transcript, read_seal

    ref = current_transcript(window_id, tenant_id)
    if ref is None:
        raise InputError(f"window {window_id} (tenant {tenant_id}): no published transcript (nothing to report; "
                         "fold and publish the window first)")
    seal = read_seal(ref)
    try:
        segs = _segments(ref)
    except Exception as exc:  # noqa: BLE001 - a damaged transcript is reported on the page, never a traceback
        segs = {}
        damaged = f"{type(exc).__name__}: {exc}".splitlines()[0]
    else:
        damaged = None
    policy = orjson.loads(segs["policy_manifest"][0]) if segs.get("policy_manifest") else None
    rejects = orjson.loads(segs["rejects"][0]) if segs.get("rejects") else []
    inputs = orjson.loads(segs["input_files"][0]) if segs.get("input_files") else []
    report = None
    if verify:
        rep = verify_transcript(ref.url, expect_digest=ref.output_digest, expect_window=window_id)
        report = {"ok": rep.ok, "line": rep.line(), "reason": rep.reason, "key_id": rep.key_id,
                  "key_source": rep.key_source}
    close = seal["window"].get("close_ts")
    return {"window_id": window_id, "tenant_id": tenant_id, "url": ref.url, "output_digest": ref.output_digest,
            "transcript_root": ref.transcript_root, "key_id": ref.key_id, "seal": seal, "policy": policy,
            "rejects": rejects, "input_files": inputs, "verification": report, "damaged": damaged,
            "signer": signer_of((report or {}).get("key_id") or ref.key_id, close),
            "verify_command": verify_command(ref.url, window_id, ref.output_digest)}
