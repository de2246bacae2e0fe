"""The implementations that `vgos verify`, the replay, the transcript writer and allocations.csv had before they
streamed (git 22c1a15), kept verbatim as oracles for the byte-equality tests; they import only helpers that did not
change."""

# ruff: noqa
from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import orjson
import polars as pl

from vgos.canonical import jcs_bytes, sha256_hex
from vgos.errors import InputError
from vgos.events import DUPLICATE_PRIOR_WINDOW, FIELDS, normalize_frame
from vgos.replay import (
    CHECKPOINT, INDEX, KEY, OPTIONAL_SEGMENTS, SEGMENT_ORDER, ReplayResult, VerifyReport, _Fail, _check_index,
    _check_seal, _get, _one_line, _prior_windows, _signed_at, _trusted_signers, diff_allocations, merkle_root,
    parse_checkpoint,
)
from vgos.storage import BlobStore


def old_fold_canonical(events, window_id, policy, tenant_id="default", events_rejected=0, *, source="<normalized>",
                       policy_hash=None, prior=None):
    from vgos.fold import _make_intake, _noop, fold_intake
    from vgos.policy import window_bounds
    from vgos.seal import output_digest, seal_bytes

    df = events if isinstance(events, pl.DataFrame) else pl.DataFrame(
        {f: [e.get(f) for e in events] for f in FIELDS},
        schema={"event_id": pl.String, "ts_occurred": pl.String, "principal_id": pl.String,
                "amount_minor": pl.Int64, "source_type": pl.String, "currency": pl.String},
    )
    df = df.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))
    window = window_bounds(window_id, policy)
    frame, rej = normalize_frame(df, source=source, mode="parquet", default_currency=policy.currency)
    intake = _make_intake([frame], [(0, line, r) for line, r in rej], [source], window, policy, _noop, [], prior)
    result = fold_intake(intake, tenant_id, policy_hash=policy_hash)
    if events_rejected:
        seal = dict(result.seal)
        seal["totals"] = {**seal["totals"], "events_rejected": seal["totals"]["events_rejected"] + events_rejected}
        result.seal, result.seal_bytes = seal, seal_bytes(seal)
        result.output_digest = output_digest(seal)
    return result


def old_allocations_csv(result) -> bytes:
    columns = ["principal_id", "events", "net_minor", "bonus_floor_minor", "remainder_micro", "carry_minor",
               "payout_minor"]
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for a in result.allocations:
        w.writerow([getattr(a, c) for c in columns])
    return buf.getvalue().encode("utf-8")


def old_build_segments(result: Any, chunk_events: int = 100_000) -> list[tuple[str, str, bytes]]:
    from vgos.fold import canonical_events_bytes
    from vgos.transcript import _reject_entry, allocations_segment_bytes, prior_windows_bytes, rejects_segment_bytes

    kept = result.kept
    chunks = [canonical_events_bytes(kept.slice(i, chunk_events)) for i in range(0, kept.height, chunk_events)] \
        or [b"[]"]
    segs = [
        ("policy_manifest", "policy_manifest", jcs_bytes(result.policy.manifest())),
        ("input_files", "input_files",
         jcs_bytes([{"name": n, "sha256": h} for n, h in getattr(result, "input_files", [])])),
    ]
    prior = getattr(result, "prior", None)
    if prior:
        segs.append(("prior_windows", "prior_windows", prior_windows_bytes(prior)))
    segs += [(f"normalized_input/{i:05d}", "normalized_input", c) for i, c in enumerate(chunks)]
    segs += [
        ("rejects", "rejects", rejects_segment_bytes([_reject_entry(r) for r in result.rejects])),
        ("allocations", "allocations", allocations_segment_bytes(result.seal_bytes)),
        ("seal", "seal", bytes(result.seal_bytes)),
    ]
    return segs


def _old_input_frames(segs: dict[str, list[tuple[dict, bytes]]]) -> list[Any]:
    """The normalized input chunks as frames (each checked to be the exact canonical form of its events)."""
    from vgos.fold import events_from_canonical_bytes

    return [events_from_canonical_bytes(data) for _e, data in segs.get("normalized_input", [])]


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


def old_replay_from(index: dict[str, Any], segs: dict[str, list[tuple[dict, bytes]]],
                 frames: list[Any] | None = None) -> ReplayResult:
    import polars as pl

    fold_canonical = old_fold_canonical
    from vgos.policy import policy_from_manifest

    seal_bytes = segs["seal"][0][1]
    seal = orjson.loads(seal_bytes)
    sealed_digest = sha256_hex(seal_bytes)
    policy = policy_from_manifest(orjson.loads(segs["policy_manifest"][0][1]), "transcript:policy_manifest")
    rejects = orjson.loads(segs["rejects"][0][1])
    window = seal["window"]
    try:
        prior = _prior_windows(segs, window["window_id"])
        frames = _old_input_frames(segs) if frames is None else frames
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


def old_verify(store: BlobStore, trusted: list[TrustedKey], expect_digest: str | None = None,
            expect_window: str | None = None) -> VerifyReport:
    from vgos.signing import canonical_public_pem, key_id_for_public_key
    from vgos.trust import parse_time

    ck_bytes = _get(store, CHECKPOINT, None)
    if ck_bytes is None:
        if _get(store, INDEX, None) is None:
            raise InputError(f"{store.root}: not a transcript (no {CHECKPOINT} and no {INDEX})")
        raise _Fail("CHECKPOINT_MISSING", CHECKPOINT, f"{store.root}/{CHECKPOINT} does not exist")
    try:
        ck = parse_checkpoint(ck_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Fail("CHECKPOINT_MALFORMED", CHECKPOINT, str(exc)) from None
    signed_at = _signed_at(ck)

    shipped = _get(store, KEY, None)  # only to name the signer; never trusted for being here
    signers = _trusted_signers(ck, trusted, shipped)
    signer_ids = {tk.key_id for tk in signers}
    if shipped is not None:
        try:
            canonical = canonical_public_pem(shipped)
        except ValueError as exc:
            raise _Fail("KEY_INVALID", KEY, f"public key unusable: {exc}") from None
        if canonical != shipped:
            raise _Fail("KEY_INVALID", KEY, "key.pem is not the canonical PEM of its key")
        if key_id_for_public_key(shipped) not in signer_ids:
            raise _Fail("KEY_MISMATCH", KEY, f"key.pem is key {key_id_for_public_key(shipped)}, but the checkpoint "
                        f"was signed by trusted key {', '.join(sorted(signer_ids))}")

    idx_bytes = _get(store, INDEX, "INDEX_MISSING")
    ext = dict(line.split(" ", 1) for line in ck.extensions if " " in line)
    if ext.get("index") != sha256_hex(idx_bytes):
        raise _Fail("INDEX_HASH_MISMATCH", INDEX, "index.json does not match the hash in the signed checkpoint")
    try:
        index = orjson.loads(idx_bytes)
    except orjson.JSONDecodeError as exc:
        raise _Fail("INDEX_MALFORMED", INDEX, f"not JSON: {exc}") from None
    _check_index(index)
    segments, origin = index["segments"], index["origin"]
    if index["key"]["key_id"] not in signer_ids:
        raise _Fail("KEY_MISMATCH", INDEX, f"index names signer {index['key']['key_id']}, but the checkpoint was "
                    f"signed by trusted key {', '.join(sorted(signer_ids))}")
    if origin != ck.origin or origin != f"vgos.transcript/{index['tenant_id']}/{index['window_id']}":
        raise _Fail("ORIGIN_MISMATCH", CHECKPOINT, f"checkpoint origin {ck.origin!r} vs index {origin!r}")
    if expect_window is not None and index["window_id"] != expect_window:
        raise _Fail("EXPECTED_WINDOW_MISMATCH", INDEX,
                    f"transcript is for window {index['window_id']}, expected {expect_window}")
    if expect_digest is not None and index["output_digest"] != expect_digest.lower():
        raise _Fail("EXPECTED_DIGEST_MISMATCH", INDEX,
                    f"transcript seals output_digest {index['output_digest']}, expected {expect_digest.lower()}")
    kinds = [e["kind"] for e in segments]
    if [k for k in SEGMENT_ORDER if k in kinds] != list(dict.fromkeys(kinds)) or \
            set(SEGMENT_ORDER) - set(OPTIONAL_SEGMENTS) - set(kinds) or not set(kinds) <= set(SEGMENT_ORDER):
        raise _Fail("INDEX_MALFORMED", INDEX, f"segment kinds out of the fixed order: {kinds}")
    singles = [k for k in SEGMENT_ORDER if k != "normalized_input" and kinds.count(k) > 1]
    if singles:
        raise _Fail("INDEX_MALFORMED", INDEX, f"more than one {singles[0]} segment")

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
    if sha256_hex(seal_bytes) != index["output_digest"]:
        raise _Fail("SEAL_DIGEST_MISMATCH", "seal", "seal bytes do not hash to the index output_digest")
    try:
        seal = orjson.loads(seal_bytes)
    except orjson.JSONDecodeError as exc:
        raise _Fail("SEAL_MALFORMED", "seal", f"not JSON: {exc}") from None
    if jcs_bytes(seal) != seal_bytes:
        raise _Fail("SEAL_DIGEST_MISMATCH", "seal", "seal segment is not in RFC 8785 canonical form")
    _check_seal(seal)
    w = seal["window"]
    if (w["window_id"], w["tenant_id"]) != (index["window_id"], index["tenant_id"]):
        raise _Fail("ORIGIN_MISMATCH", "seal", "seal window/tenant differ from the index")

    # The key must be valid when it signed. A window is sealed after it closes, so the signing time is the later of
    # the checkpoint's own `signed_at` (the signer's claim) and the window's close: a retired key cannot vouch for
    # a window that closed after its retirement by claiming an early signing time.
    try:
        close = parse_time(w["close_ts"], "window close")
        claimed = parse_time(signed_at, "signed_at") if signed_at else None
    except ValueError as exc:
        raise _Fail("SEAL_MALFORMED", "seal", str(exc)) from None
    use_claim = claimed is not None and claimed > close
    at, at_label = (claimed, "signed_at") if use_claim else (close, "window close")
    signed_at = signed_at if use_claim else None
    valid = [tk for tk in signers if tk.valid_at(at)]
    if not valid:
        raise _Fail("KEY_NOT_VALID", CHECKPOINT,
                    f"trusted key {'; '.join(tk.describe() for tk in signers)} is not valid at the {at_label} "
                    f"{signed_at or w['close_ts']}")
    matched = valid[0]

    if sha256_hex(by_kind["policy_manifest"][0][1]) != w["policy_hash"]:
        raise _Fail("POLICY_HASH_MISMATCH", "policy_manifest", "manifest does not hash to the seal's policy_hash")
    if w["policy_hash"] != index["policy_hash"]:
        raise _Fail("POLICY_HASH_MISMATCH", INDEX, "index policy_hash differs from the seal's")
    try:
        from vgos.policy import policy_from_manifest

        policy_from_manifest(orjson.loads(by_kind["policy_manifest"][0][1]), "transcript:policy_manifest")
    except (InputError, ValueError, TypeError, KeyError) as exc:
        raise _Fail("POLICY_MALFORMED", "policy_manifest", _one_line(exc)) from None
    if jcs_bytes(seal["allocations"]) != by_kind["allocations"][0][1]:
        raise _Fail("ALLOCATIONS_MISMATCH", "allocations", "allocations segment differs from the seal")
    try:
        frames = _old_input_frames(by_kind)
    except ValueError as exc:
        raise _Fail("INPUT_DIGEST_MISMATCH", "normalized_input", str(exc)) from None
    if _array_digest([d for _e, d in by_kind["normalized_input"]]) != seal["trailer"]["input_digest"]:
        raise _Fail("INPUT_DIGEST_MISMATCH", "normalized_input", "normalized input does not hash to input_digest")
    if seal["trailer"]["input_digest"] != index["input_digest"]:
        raise _Fail("INPUT_DIGEST_MISMATCH", INDEX, "index input_digest differs from the seal's")
    try:
        reject_entries = orjson.loads(by_kind["rejects"][0][1])
    except orjson.JSONDecodeError as exc:
        raise _Fail("REJECTS_MALFORMED", "rejects", f"not JSON: {exc}") from None
    if not isinstance(reject_entries, list) or not all(isinstance(r, dict) for r in reject_entries):
        raise _Fail("REJECTS_MALFORMED", "rejects", "expected an array of objects")
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

    rep = old_replay_from(index, by_kind, frames)
    if not rep.ok:
        detail = rep.reason if rep.reason and rep.reason != "DIGEST_MISMATCH" else (
            f"replay digest {rep.replay_digest} != sealed {rep.sealed_digest}; {len(rep.diff)} allocation "
            "field(s) differ")
        raise _Fail("DIGEST_MISMATCH", "seal", detail)
    msg = (f"window {index['window_id']} tenant {index['tenant_id']} output_digest {index['output_digest']} "
           f"root {root.hex()} signed by trusted key {matched.describe()}, {at_label} "
           f"{signed_at or w['close_ts']}")
    return VerifyReport(True, None, None, msg, index["output_digest"], rep, key_id=matched.key_id,
                        key_source=matched.source, window_id=index["window_id"])
