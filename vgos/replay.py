"""Replay a window from its transcript alone and verify a transcript offline (CLI and the blocking Dagster check).

Verification order (the first failure is reported, with the segment it concerns):
CHECKPOINT_MISSING / CHECKPOINT_MALFORMED → KEY_INVALID → UNKNOWN_KEY → BAD_SIGNATURE → INDEX_MISSING /
INDEX_HASH_MISMATCH / INDEX_MALFORMED → ORIGIN_MISMATCH → SEGMENT_MISSING / SEGMENT_HASH_MISMATCH /
SEGMENT_SIZE_MISMATCH → ROOT_MISMATCH → SEAL_DIGEST_MISMATCH → POLICY_HASH_MISMATCH → ALLOCATIONS_MISMATCH →
INPUT_DIGEST_MISMATCH → REJECTS_COUNT_MISMATCH → PRIOR_WINDOWS_MISMATCH → DIGEST_MISMATCH (replay of the fold).

A `prior_windows` segment (SPEC §3 step 2) is a recorded input: the replay re-applies it to the normalized input,
and verification checks that it names exactly the ids of the DUPLICATE_PRIOR_WINDOW rejects.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from vgos.canonical import jcs_bytes, sha256_hex
from vgos.events import DUPLICATE_PRIOR_WINDOW
from vgos.signing import verify_signature
from vgos.storage import BlobNotFound, BlobStore, open_store
from vgos.transcript import (
    CHECKPOINT,
    INDEX,
    KEY,
    OPTIONAL_SEGMENTS,
    SEGMENT_ORDER,
    TranscriptRef,
    algorithm_of,
    merkle_root,
    note_key_hash,
    parse_checkpoint,
    prior_windows_bytes,
    read_segment,
)

ALLOCATION_FIELDS = ("events", "net_minor", "bonus_floor_minor", "remainder_micro", "carry_minor", "payout_minor")


@dataclass
class ReplayResult:
    """Outcome of a replay: digest equality and the allocations that differ."""

    ok: bool
    sealed_digest: str
    replay_digest: str
    diff: list[dict[str, Any]] = field(default_factory=list)
    window_id: str = ""
    tenant_id: str = "default"
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form stored with gate decisions."""
        return {"ok": self.ok, "sealed_digest": self.sealed_digest, "replay_digest": self.replay_digest,
                "reason": self.reason, "diff": self.diff}


@dataclass
class VerifyReport:
    """Outcome of `vgos verify`: VERIFIED, or the first failure with its reason code and segment."""

    ok: bool
    reason: str | None = None
    segment: str | None = None
    message: str = ""
    output_digest: str | None = None
    replay: ReplayResult | None = None

    def line(self) -> str:
        """One line for the terminal."""
        if self.ok:
            return f"VERIFIED {self.message}"
        where = f" [{self.segment}]" if self.segment else ""
        return f"FAILED {self.reason}{where}: {self.message}"


class _Fail(Exception):
    def __init__(self, reason: str, segment: str | None, message: str) -> None:
        super().__init__(message)
        self.reason, self.segment, self.message = reason, segment, message


def diff_allocations(sealed: list[dict[str, Any]], replayed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per principal and field, the sealed and replayed values that differ (missing principals included)."""
    a = {x["principal_id"]: x for x in sealed}
    b = {x["principal_id"]: x for x in replayed}
    out = []
    for pid in sorted(set(a) | set(b)):
        for f in ALLOCATION_FIELDS:
            va = a.get(pid, {}).get(f) if pid in a else None
            vb = b.get(pid, {}).get(f) if pid in b else None
            if va != vb:
                out.append({"principal_id": pid, "field": f, "sealed": va, "replayed": vb})
    return out


def _load_segments(store: BlobStore, index: dict[str, Any]) -> dict[str, list[tuple[dict, bytes]]]:
    by_kind: dict[str, list[tuple[dict, bytes]]] = {}
    for e in index["segments"]:
        by_kind.setdefault(e["kind"], []).append((e, read_segment(store, e)))
    return by_kind


def _input_frames(segs: dict[str, list[tuple[dict, bytes]]]) -> list[Any]:
    """The normalized input chunks as frames (each checked to be the exact canonical form of its events)."""
    from vgos.fold import events_from_canonical_bytes

    return [events_from_canonical_bytes(data) for _e, data in segs.get("normalized_input", [])]


def _prior_windows(segs: dict[str, list[tuple[dict, bytes]]], window_id: str) -> dict[str, str]:
    """The recorded prior-window matches (event_id → window_id); {} without the segment.

    Raises ValueError unless the segment is exactly the canonical form its matches give (a non-empty RFC 8785
    array of {event_id, window_id} strings, sorted by event_id, each id once) and names only other windows.
    """
    entries = segs.get("prior_windows", [])
    if not entries:
        return {}
    if len(entries) != 1:
        raise ValueError("more than one prior_windows segment")
    data = entries[0][1]
    try:
        items = orjson.loads(data)
        prior = {x["event_id"]: x["window_id"] for x in items}
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise ValueError(f"prior_windows is not an array of {{event_id, window_id}}: {exc}") from None
    if not prior or not all(isinstance(k, str) and isinstance(v, str) for k, v in prior.items()):
        raise ValueError("prior_windows must be a non-empty array of {event_id, window_id} strings")
    if prior_windows_bytes(prior) != data:
        raise ValueError("prior_windows is not the RFC 8785 form of its matches sorted by event_id")
    if window_id in prior.values():
        raise ValueError(f"prior_windows names the window {window_id} itself")
    return prior


def _array_digest(chunks: list[bytes]) -> str:
    """SHA-256 of the one array the canonical chunks split: `[` + their members joined by `,` + `]`."""
    h = hashlib.sha256(b"[")
    first = True
    for data in chunks:
        inner = data[1:-1]
        if inner:
            h.update(inner if first else b"," + inner)
            first = False
    h.update(b"]")
    return h.hexdigest()


def _replay_from(index: dict[str, Any], segs: dict[str, list[tuple[dict, bytes]]],
                 frames: list[Any] | None = None) -> ReplayResult:
    import polars as pl

    from vgos.fold import fold_canonical
    from vgos.policy import policy_from_manifest

    seal_bytes = segs["seal"][0][1]
    seal = orjson.loads(seal_bytes)
    sealed_digest = sha256_hex(seal_bytes)
    policy = policy_from_manifest(orjson.loads(segs["policy_manifest"][0][1]), "transcript:policy_manifest")
    rejects = orjson.loads(segs["rejects"][0][1])
    window = seal["window"]
    try:
        prior = _prior_windows(segs, window["window_id"])
        frames = _input_frames(segs) if frames is None else frames
        events = pl.concat(frames) if frames else pl.DataFrame()
        result = fold_canonical(events, window["window_id"], policy, window["tenant_id"], len(rejects),
                                prior=prior or None)
    except Exception as exc:  # noqa: BLE001 - any failure to recompute is a mismatch, reported with its cause
        return ReplayResult(False, sealed_digest, "", [], window["window_id"], window["tenant_id"],
                            f"REPLAY_FAILED: {type(exc).__name__}: {exc}")
    replayed = orjson.loads(result.seal_bytes)
    ok = result.output_digest == sealed_digest
    diff = [] if ok else diff_allocations(seal["allocations"], replayed["allocations"])
    return ReplayResult(ok, sealed_digest, result.output_digest, diff, window["window_id"],
                        window["tenant_id"], None if ok else "DIGEST_MISMATCH")


def replay_transcript(ref: TranscriptRef | str) -> ReplayResult:
    """Recompute the fold from the transcript's normalized input and manifest; compare with the sealed digest."""
    url = ref.url if isinstance(ref, TranscriptRef) else ref
    store = open_store(url)
    index = orjson.loads(store.get(INDEX))
    return _replay_from(index, _load_segments(store, index))


def replay_window(window_id: str, tenant_id: str = "default", db_url: str | None = None) -> ReplayResult:
    """Replay the window's current transcript (the one indexed last)."""
    from vgos.errors import InputError
    from vgos.transcript import current_transcript

    ref = current_transcript(window_id, tenant_id, db_url)
    if ref is None:
        raise InputError(f"window {window_id} (tenant {tenant_id}): no published transcript")
    return replay_transcript(ref)


def verify_transcript(path_or_url: str, pubkey_pem: bytes | None = None) -> VerifyReport:
    """Check every segment hash, the Merkle root, the signature, the seal digest and a replay of the fold."""
    store = open_store(str(path_or_url))
    try:
        return _verify(store, pubkey_pem)
    except _Fail as f:
        return VerifyReport(False, f.reason, f.segment, f.message)


def _get(store: BlobStore, key: str, missing: str) -> bytes:
    try:
        return store.get(key)
    except BlobNotFound:
        raise _Fail(missing, key, f"{store.root}/{key} does not exist") from None


def _verify(store: BlobStore, pubkey_pem: bytes | None) -> VerifyReport:
    ck_bytes = _get(store, CHECKPOINT, "CHECKPOINT_MISSING")
    try:
        ck = parse_checkpoint(ck_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Fail("CHECKPOINT_MALFORMED", CHECKPOINT, str(exc)) from None

    key_pem = pubkey_pem if pubkey_pem is not None else _get(store, KEY, "KEY_MISSING")
    key_src = "--pubkey" if pubkey_pem is not None else KEY
    try:
        algorithm = algorithm_of(key_pem)
        canonical = serialization.load_pem_public_key(key_pem).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _Fail("KEY_INVALID", key_src, f"public key unusable: {exc}") from None
    if pubkey_pem is None and canonical != key_pem:
        raise _Fail("KEY_INVALID", key_src, "key.pem is not the canonical PEM of its key")
    from vgos.signing import key_id_for_public_key
    from vgos.transcript import note_key_name

    name = note_key_name(key_id_for_public_key(key_pem))
    kh = note_key_hash(name, algorithm, key_pem)
    mine = [sig for n, h, sig in ck.signatures if n == name and h == kh]
    if not mine:
        raise _Fail("UNKNOWN_KEY", CHECKPOINT if pubkey_pem is not None else KEY,
                    f"no checkpoint signature by key {name}")
    if not all(verify_signature(algorithm, key_pem, ck.text.encode(), s) for s in mine):
        raise _Fail("BAD_SIGNATURE", CHECKPOINT, f"checkpoint signature by {name} does not verify")

    idx_bytes = _get(store, INDEX, "INDEX_MISSING")
    ext = dict(line.split(" ", 1) for line in ck.extensions if " " in line)
    if ext.get("index") != sha256_hex(idx_bytes):
        raise _Fail("INDEX_HASH_MISMATCH", INDEX, "index.json does not match the hash in the signed checkpoint")
    try:
        index = orjson.loads(idx_bytes)
        segments = index["segments"]
        origin = index["origin"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise _Fail("INDEX_MALFORMED", INDEX, str(exc)) from None
    if origin != ck.origin or origin != f"vgos.transcript/{index['tenant_id']}/{index['window_id']}":
        raise _Fail("ORIGIN_MISMATCH", CHECKPOINT, f"checkpoint origin {ck.origin!r} vs index {origin!r}")
    kinds = [e["kind"] for e in segments]
    if [k for k in SEGMENT_ORDER if k in kinds] != list(dict.fromkeys(kinds)) or \
            set(SEGMENT_ORDER) - set(OPTIONAL_SEGMENTS) - set(kinds) or not set(kinds) <= set(SEGMENT_ORDER):
        raise _Fail("INDEX_MALFORMED", INDEX, f"segment kinds out of the fixed order: {kinds}")

    by_kind: dict[str, list[tuple[dict, bytes]]] = {}
    for e in segments:
        key = f"segments/{e['sha256']}"
        data = _get(store, key, "SEGMENT_MISSING")
        if sha256_hex(data) != e["sha256"]:
            raise _Fail("SEGMENT_HASH_MISMATCH", f"{e['name']} ({key})",
                        f"content hashes to {sha256_hex(data)}, index says {e['sha256']}")
        if len(data) != e["size"]:
            raise _Fail("SEGMENT_SIZE_MISMATCH", e["name"], f"{len(data)} bytes, index says {e['size']}")
        by_kind.setdefault(e["kind"], []).append((e, data))

    if len(segments) != ck.size:
        raise _Fail("ROOT_MISMATCH", CHECKPOINT, f"tree size {ck.size} but {len(segments)} segments")
    root = merkle_root([bytes.fromhex(e["sha256"]) for e in segments])
    if root != ck.root or root.hex() != index["transcript_root"]:
        raise _Fail("ROOT_MISMATCH", CHECKPOINT,
                    f"Merkle root {root.hex()} vs checkpoint {ck.root.hex()} / index {index['transcript_root']}")

    seal_bytes = by_kind["seal"][0][1]
    seal = orjson.loads(seal_bytes)
    if sha256_hex(seal_bytes) != index["output_digest"]:
        raise _Fail("SEAL_DIGEST_MISMATCH", "seal", "seal bytes do not hash to the index output_digest")
    if jcs_bytes(seal) != seal_bytes:
        raise _Fail("SEAL_DIGEST_MISMATCH", "seal", "seal segment is not in RFC 8785 canonical form")
    w = seal["window"]
    if (w["window_id"], w["tenant_id"]) != (index["window_id"], index["tenant_id"]):
        raise _Fail("ORIGIN_MISMATCH", "seal", "seal window/tenant differ from the index")
    if sha256_hex(by_kind["policy_manifest"][0][1]) != w["policy_hash"]:
        raise _Fail("POLICY_HASH_MISMATCH", "policy_manifest", "manifest does not hash to the seal's policy_hash")
    if jcs_bytes(seal["allocations"]) != by_kind["allocations"][0][1]:
        raise _Fail("ALLOCATIONS_MISMATCH", "allocations", "allocations segment differs from the seal")
    try:
        frames = _input_frames(by_kind)
    except ValueError as exc:
        raise _Fail("INPUT_DIGEST_MISMATCH", "normalized_input", str(exc)) from None
    if _array_digest([d for _e, d in by_kind["normalized_input"]]) != seal["trailer"]["input_digest"]:
        raise _Fail("INPUT_DIGEST_MISMATCH", "normalized_input", "normalized input does not hash to input_digest")
    reject_entries = orjson.loads(by_kind["rejects"][0][1])
    n_rejects = len(reject_entries)
    if n_rejects != seal["totals"]["events_rejected"]:
        raise _Fail("REJECTS_COUNT_MISMATCH", "rejects",
                    f"{n_rejects} rejects, seal says {seal['totals']['events_rejected']}")
    try:
        prior = _prior_windows(by_kind, index["window_id"])
    except ValueError as exc:
        raise _Fail("PRIOR_WINDOWS_MISMATCH", "prior_windows", str(exc)) from None
    prior_rejected = {r.get("event_id") for r in reject_entries if r.get("reason") == DUPLICATE_PRIOR_WINDOW}
    if prior_rejected != set(prior):
        raise _Fail("PRIOR_WINDOWS_MISMATCH", "prior_windows",
                    f"{len(prior)} recorded match(es) but {len(prior_rejected)} id(s) rejected "
                    f"{DUPLICATE_PRIOR_WINDOW}; they must be the same ids")

    rep = _replay_from(index, by_kind, frames)
    if not rep.ok:
        detail = rep.reason if rep.reason and rep.reason != "DIGEST_MISMATCH" else (
            f"replay digest {rep.replay_digest} != sealed {rep.sealed_digest}; {len(rep.diff)} allocation "
            "field(s) differ")
        raise _Fail("DIGEST_MISMATCH", "seal", detail)
    msg = (f"window {index['window_id']} tenant {index['tenant_id']} output_digest {index['output_digest']} "
           f"root {root.hex()} key {name} ({base64.b64encode(kh).decode()})")
    return VerifyReport(True, None, None, msg, index["output_digest"], rep)
