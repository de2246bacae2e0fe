"""Replay a window from its transcript alone and verify a transcript offline (CLI and the blocking Dagster check).

Verification order (the first failure is reported, with the segment it concerns):
CHECKPOINT_MISSING / CHECKPOINT_MALFORMED → UNTRUSTED_KEY (no signature by a trusted key: vgos.trust) /
BAD_SIGNATURE → KEY_INVALID / KEY_MISMATCH (key.pem, only a hint, must be the trusted key that signed) →
INDEX_MISSING / INDEX_HASH_MISMATCH / INDEX_MALFORMED → ORIGIN_MISMATCH → EXPECTED_WINDOW_MISMATCH /
EXPECTED_DIGEST_MISMATCH (`--expect-window`, `--expect-digest`) → SEGMENT_MISSING / SEGMENT_HASH_MISMATCH /
SEGMENT_SIZE_MISMATCH (v2 Parquet input segments also SEGMENT_MALFORMED / SEGMENT_SCHEMA_MISMATCH, and
SEGMENT_HASH_MISMATCH / SEGMENT_SIZE_MISMATCH when the rebuilt RFC 8785 rows are not the leaf) → ROOT_MISMATCH →
SEAL_DIGEST_MISMATCH / SEAL_MALFORMED → KEY_NOT_VALID (the trusted key's
validity period must hold the checkpoint's `signed_at` time when recorded, else the window's close) →
POLICY_HASH_MISMATCH / POLICY_MALFORMED → ALLOCATIONS_MISMATCH → INPUT_DIGEST_MISMATCH → REJECTS_MALFORMED /
REJECTS_COUNT_MISMATCH → PRIOR_WINDOWS_MISMATCH → DIGEST_MISMATCH (replay of the fold). Anything else the
transcript's bytes provoke is TRANSCRIPT_MALFORMED; unusable input (not a transcript, unreadable storage, a
malformed trust file or --pubkey) raises vgos.errors.InputError (exit 2).

A `prior_windows` segment (SPEC §3 step 2) is a recorded input: the replay re-applies it to the normalized input,
and verification checks that it names exactly the ids of the DUPLICATE_PRIOR_WINDOW rejects.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.exceptions import UnsupportedAlgorithm

from vgos.canonical import jcs_bytes, sha256_hex
from vgos.errors import InputError
from vgos.events import DUPLICATE_PRIOR_WINDOW
from vgos.progress import Progress, silent
from vgos.signing import verify_signature
from vgos.storage import BlobNotFound, BlobStore, open_store
from vgos.transcript import (
    CHECKPOINT,
    INDEX,
    KEY,
    OPTIONAL_SEGMENTS,
    SCHEMA_V1,
    SCHEMA_V2,
    SEGMENT_ORDER,
    STORED_FIELDS,
    TranscriptRef,
    merkle_root,
    note_key_hash,
    parse_checkpoint,
    prior_windows_bytes,
    read_segment,
    stored_key,
)

if TYPE_CHECKING:
    from vgos.trust import TrustedKey

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
    key_id: str | None = None  # the trusted key that matched
    key_source: str | None = None  # where that key is trusted from ("--pubkey", "VGOS_TRUSTED_KEYS:<path>", ...)
    window_id: str | None = None

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
    """Every segment's stored bytes by kind; normalized_input chunks are left unread (b"") and read one at a time
    by `_input_frames`."""
    by_kind: dict[str, list[tuple[dict, bytes]]] = {}
    for e in index["segments"]:
        data = b"" if e["kind"] == "normalized_input" else read_segment(store, e)
        by_kind.setdefault(e["kind"], []).append((e, data))
    return by_kind


def _input_frames(segs: dict[str, list[tuple[dict, bytes]]], store: BlobStore | None = None) -> list[Any]:
    """The normalized input chunks as frames: a v1 chunk checked to be the exact canonical form of its events, a v2
    Parquet chunk decoded under its strict schema (its stored bytes read from `store` when not loaded)."""
    from vgos import segment_parquet
    from vgos.fold import events_from_canonical_bytes

    frames = []
    for e, data in segs.get("normalized_input", []):
        if not data and store is not None:
            data = store.get(stored_key(e))
        if e.get("encoding") == segment_parquet.ENCODING:
            frames.append(segment_parquet.decode(data, int(e["rows"])))
        else:
            frames.append(events_from_canonical_bytes(data))
        del data
    return frames


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


class _InputStream:
    """The normalized input chunks as they are read: hashed in order into the one array they split (`_array_digest`)
    and parsed (`events_from_canonical_bytes`) by worker threads, so no chunk's bytes outlive its parse.

    A chunk that does not parse is remembered and raised by `frames()`, at the point of verification where the
    whole-list parse raised it before."""

    _AHEAD = 3  # chunks read ahead of the parsers at most
    _PARSERS = 2  # parser threads (polars parses one chunk on one thread, without the GIL)

    def __init__(self, progress: Progress = silent, index: dict[str, Any] | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        inputs = [e for e in (index or {}).get("segments", []) if e.get("kind") == "normalized_input"]
        self._progress = progress
        self._total = sum(int(e.get("rows") or 0) for e in inputs) if inputs and all(
            type(e.get("rows")) is int for e in inputs) else None
        self._n_segments = len(inputs)
        self._seen = 0  # events (v2) or segments (v1) settled
        self._h = hashlib.sha256(b"[")
        self._first = True
        self._pool = ThreadPoolExecutor(max_workers=self._PARSERS)
        self._pending: list[Any] = []
        self._done: list[tuple[Any, BaseException | None]] = []
        # Streamed replay (v2 chunks, once the policy is known): per chunk, what the fold needs of it (whether the
        # intake keeps it as given, per-principal sums); the decoded frame is dropped and only the stored bytes are
        # kept, decoded again only if the replay has to fold the events themselves (`frames`).
        self._context: tuple[str, Any] | None = None
        self._facts: list[Any] = []
        self._sums: list[Any] = []
        self._max_abs = 0
        self._rows = 0
        self._blobs: dict[int, tuple[dict[str, Any], bytes]] = {}  # position in `_done` → (entry, stored bytes)

    def set_context(self, window_id: str, policy: Any) -> None:
        """The window and policy the chunks will be replayed with (from the index and the policy manifest)."""
        if not self._pending and not self._done:
            self._context = (window_id, policy)

    def add(self, data: bytes) -> None:
        """Hash one chunk into the array digest and queue its parse."""
        from vgos.fold import events_from_canonical_bytes

        inner = memoryview(data)[1:-1]
        if len(inner):
            if not self._first:
                self._h.update(b",")
            self._h.update(inner)
            self._first = False
        self._context = None  # v1 chunks are kept as frames: no streamed replay
        self._pending.append((None, self._pool.submit(events_from_canonical_bytes, data), b""))
        while len(self._pending) > self._AHEAD:
            self._settle()

    def add_stored(self, entry: dict[str, Any], data: bytes) -> None:
        """Queue a v2 Parquet chunk: decoded under the strict schema and rebuilt into its RFC 8785 rows on a worker;
        `_settle` checks them against the leaf (`sha256`, `size`) and hashes them into the array, in order.
        A chunk that fails is a segment failure, raised here or by `drain` (before the Merkle root is checked)."""
        self._pending.append((entry, self._pool.submit(_decode_stored, entry, data, self._context), data))
        while len(self._pending) > self._AHEAD:
            self._settle()

    def drain(self) -> None:
        """Settle every queued chunk (raising the first v2 segment failure)."""
        while self._pending:
            self._settle()

    def _settle(self) -> None:
        entry, fut, data = self._pending.pop(0)
        exc = fut.exception()
        if entry is None:
            self._done.append((None if exc is not None else fut.result(), exc))
            self._seen += 1
            self._progress("verifying input segments", self._seen, self._n_segments, "segments")
            return
        from vgos.canonical_rows import rows_pieces
        from vgos.segment_parquet import SegmentError

        name = f"{entry['name']} ({stored_key(entry)})"
        if isinstance(exc, SegmentError):
            raise _Fail(exc.reason, name, str(exc))
        if exc is not None:
            raise _Fail("SEGMENT_MALFORMED", name, f"{type(exc).__name__}: {_one_line(exc)}")
        frame, bufs, sha, size, streamed = fut.result()
        if sha != entry["sha256"]:
            raise _Fail("SEGMENT_HASH_MISMATCH", name,
                        f"its rows' RFC 8785 array hashes to {sha}, index (the Merkle leaf) says {entry['sha256']}")
        if size != entry["size"]:
            raise _Fail("SEGMENT_SIZE_MISMATCH", name, f"its rows' RFC 8785 array is {size} bytes, index says "
                        f"{entry['size']}")
        if bufs:
            if not self._first:
                self._h.update(b",")
            for b in rows_pieces(bufs):
                self._h.update(b)
            self._first = False
        del bufs
        if streamed is not None and self._context is not None:
            facts, sums, top = streamed
            self._facts.append(facts)
            self._sums.append(sums)
            if len(self._sums) >= 16:  # merged every 16 chunks (one row per event until then): they stay small
                from vgos.fold import merge_sums

                self._sums = [merge_sums(self._sums, ordered=False)]
            self._max_abs = max(self._max_abs, top)
            self._rows += frame.height
            self._blobs[len(self._done)] = (entry, data)
            self._done.append((None, None))
        else:
            self._context = None
            self._done.append((frame, None))
        del frame
        self._seen += int(entry["rows"])
        self._progress("verifying input segments", self._seen, self._total)

    def digest(self) -> str:
        """`_array_digest` of every chunk added."""
        h = self._h.copy()
        h.update(b"]")
        return h.hexdigest()

    def check_parsed(self) -> None:
        """Raise the first v1 chunk's parse error, at the point of verification where the whole-list parse did."""
        self.drain()
        for _frame, exc in self._done:
            if exc is not None:
                raise exc

    def frames(self) -> list[Any]:
        """Every chunk's frame in order (streamed chunks decoded again from their verified stored bytes)."""
        from vgos import segment_parquet

        self.check_parsed()
        return [f if i not in self._blobs else segment_parquet.decode(self._blobs[i][1], int(self._blobs[i][0]["rows"]))
                for i, (f, _exc) in enumerate(self._done)]

    def fold_from_sums(self, window_id: str, tenant_id: str, events_rejected: int, input_digest: str) -> Any:
        """The replay from the streamed chunks' partial sums when every chunk is kept as given (see
        vgos.fold.kept_facts_hold) for this window; None when the events themselves must be folded."""
        from vgos.fold import fold_from_sums, kept_facts_hold, merge_sums

        self.drain()
        if self._context is None or self._context[0] != window_id or not self._blobs or \
                len(self._blobs) != len(self._done) or len(self._facts) != len(self._done) or \
                not kept_facts_hold(self._facts):
            return None
        return fold_from_sums(merge_sums(self._sums), self._max_abs, self._rows, window_id, self._context[1],
                              tenant_id, events_rejected, input_digest)

    def close(self) -> None:
        """Stop the parser thread (queued parses are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()


def _stream_context(inputs: _InputStream, index: dict[str, Any], manifest: bytes) -> None:
    """Let the input stream prepare a streamed replay when the policy manifest is usable (else the replay folds the
    events themselves, and verification reports the manifest where it always did)."""
    from vgos.policy import policy_from_manifest

    try:
        policy = policy_from_manifest(orjson.loads(manifest), "transcript:policy_manifest")
    except Exception:  # noqa: BLE001 - an unusable manifest is reported by its own check later
        return
    inputs.set_context(index["window_id"], policy)


def _decode_stored(entry: dict[str, Any], data: bytes, context: tuple[str, Any] | None = None
                   ) -> tuple[Any, list[Any], str, int, Any]:
    """A v2 chunk's frame and its rebuilt RFC 8785 rows (buffers, SHA-256, size); SegmentError when not strict.
    With a (window_id, policy) context also what a streamed replay keeps of it: (whether the intake keeps it as given
    (`_chunk_kept_as_given`), its per-principal sums, its largest abs(amount)), or None."""
    from vgos import segment_parquet

    frame = segment_parquet.decode(data, int(entry["rows"]))
    bufs, sha, size = segment_parquet.canonical_chunk(frame)
    streamed = None
    if context is not None and frame.height:
        from vgos.fold import _chunk_kept_as_given, chunk_sums
        from vgos.policy import window_bounds

        window_id, policy = context
        facts = _chunk_kept_as_given(frame, window_bounds(window_id, policy), policy, "<normalized>")
        if facts is not None:
            sums, top = chunk_sums(frame)
            streamed = (facts, sums, top)
    return frame, bufs, sha, size, streamed


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
                 frames: list[Any] | None = None, *, seal: dict[str, Any] | None = None,
                 n_rejects: int | None = None, input_digest: str | None = None, store: BlobStore | None = None,
                 streamed: _InputStream | None = None) -> tuple[ReplayResult, bytes]:
    """The replay and the replayed seal bytes (b"" when it failed).

    A caller that already parsed the seal or the rejects passes them (`seal`, `n_rejects`), and `input_digest`
    when it hashed the chunks of `frames` itself, so nothing is parsed or serialized twice.
    """
    import polars as pl

    from vgos.fold import fold_canonical
    from vgos.policy import policy_from_manifest

    seal_bytes = segs["seal"][0][1]
    seal = orjson.loads(seal_bytes) if seal is None else seal
    sealed_digest = sha256_hex(seal_bytes)
    policy = policy_from_manifest(orjson.loads(segs["policy_manifest"][0][1]), "transcript:policy_manifest")
    if n_rejects is None:
        n_rejects = len(orjson.loads(segs["rejects"][0][1]))
    window = seal["window"]
    try:
        prior = _prior_windows(segs, window["window_id"])
        result = None
        if streamed is not None and not prior and input_digest is not None:
            result = streamed.fold_from_sums(window["window_id"], window["tenant_id"], n_rejects, input_digest)
        if result is None:
            if streamed is not None:
                frames = streamed.frames()
            frames = _input_frames(segs, store) if frames is None else frames
            events: Any = list(frames) if frames else pl.DataFrame()  # the chunks: checked one at a time
            del frames
            result = fold_canonical(events, window["window_id"], policy, window["tenant_id"], n_rejects,
                                    prior=prior or None, input_digest=input_digest, allocation_objects=False)
            del events
    except Exception as exc:  # noqa: BLE001 - any failure to recompute is a mismatch, reported with its cause
        return ReplayResult(False, sealed_digest, "", [], window["window_id"], window["tenant_id"],
                            f"REPLAY_FAILED: {type(exc).__name__}: {exc}"), b""
    ok = result.output_digest == sealed_digest
    sealed_allocations = seal["allocations"] if "allocations" in seal else None
    diff = [] if ok else diff_allocations(
        orjson.loads(seal_bytes)["allocations"] if sealed_allocations is None else sealed_allocations,
        orjson.loads(result.seal_bytes)["allocations"])
    return ReplayResult(ok, sealed_digest, result.output_digest, diff, window["window_id"],
                        window["tenant_id"], None if ok else "DIGEST_MISMATCH"), bytes(result.seal_bytes)


def replay_transcript(ref: TranscriptRef | str, *, progress: Progress | None = None) -> ReplayResult:
    """Recompute the fold from the transcript's normalized input and manifest; compare with the sealed digest."""
    url = ref.url if isinstance(ref, TranscriptRef) else ref
    store = open_store(url)
    index = orjson.loads(store.get(INDEX))
    segs = _load_segments(store, index)
    chunks = [e for e in index["segments"] if e["kind"] == "normalized_input"]
    if not chunks or not all(e.get("encoding") for e in chunks) or "policy_manifest" not in segs:
        (progress or silent)("replaying the fold")
        return _replay_from(index, segs, store=store)[0]
    # v2: the chunks are read, checked against their leaves and summed one at a time (see _InputStream)
    stream = _InputStream(progress or silent, index)
    try:
        try:
            _stream_context(stream, index, segs["policy_manifest"][0][1])
            for e in chunks:
                stream.add_stored(e, store.get(stored_key(e)))
            stream.drain()
        except _Fail as f:
            seal_bytes = segs["seal"][0][1]
            window = orjson.loads(seal_bytes)["window"]
            return ReplayResult(False, sha256_hex(seal_bytes), "", [], window["window_id"], window["tenant_id"],
                                f"REPLAY_FAILED: {f.reason} [{f.segment}]: {f.message}")
        (progress or silent)("replaying the fold")
        return _replay_from(index, segs, None, input_digest=stream.digest(), store=store, streamed=stream)[0]
    finally:
        stream.close()


def replay_window(window_id: str, tenant_id: str = "default", db_url: str | None = None, *,
                  progress: Progress | None = None) -> ReplayResult:
    """Replay the window's current transcript (the one indexed last)."""
    from vgos.errors import InputError
    from vgos.transcript import current_transcript

    ref = current_transcript(window_id, tenant_id, db_url)
    if ref is None:
        raise InputError(f"window {window_id} (tenant {tenant_id}): no published transcript")
    return replay_transcript(ref, progress=progress)


def verify_transcript(path_or_url: str, pubkey_pem: bytes | Sequence[bytes] | None = None, *,
                      expect_digest: str | None = None, expect_window: str | None = None,
                      trusted: Sequence[TrustedKey] | None = None, progress: Progress | None = None
                      ) -> VerifyReport:
    """Check the signature against trusted keys, every segment hash, the Merkle root, the seal digest and a replay.

    Trusted keys: `trusted` when given, else vgos.trust.trusted_keys(pubkey PEMs) — only the `--pubkey` PEMs when
    any are given, else the trust file and the local signer. The key shipped inside the transcript (key.pem) never
    makes it VERIFIED. Unusable input (not a transcript, unreadable storage, a malformed trust file) raises
    InputError; everything the transcript itself gets wrong is a failed report.
    """
    from vgos.trust import trusted_keys

    if trusted is None:
        pems = [pubkey_pem] if isinstance(pubkey_pem, bytes | bytearray) else list(pubkey_pem or ())
        trusted = trusted_keys(pems)
    target = str(path_or_url)
    if not target.startswith("s3://"):
        p = Path(target)
        if not p.exists():
            raise InputError(f"{target}: no such transcript folder")
        if not p.is_dir():
            raise InputError(f"{target}: is a file, not a transcript folder (give the folder holding checkpoint "
                             "and index.json)")
    try:
        store = open_store(target)
    except Exception as exc:  # noqa: BLE001 - boto3 client creation (region, endpoint) fails in several ways
        raise InputError(f"{target}: cannot open: {_one_line(exc)}") from None
    try:
        return _verify(store, list(trusted), expect_digest, expect_window, progress or silent)
    except _Fail as f:
        return VerifyReport(False, f.reason, f.segment, f.message)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the transcript's bytes provoke is a failure, never a crash
        return VerifyReport(False, "TRANSCRIPT_MALFORMED", None, f"{type(exc).__name__}: {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _get(store: BlobStore, key: str, missing: str | None) -> bytes | None:
    """The object's bytes; a missing one fails with reason `missing` (None: returns None); unreadable storage
    (permissions, a folder in place of a file, S3 credentials or endpoint) is unusable input."""
    try:
        return store.get(key)
    except BlobNotFound:
        if missing is None:
            return None
        raise _Fail(missing, key, f"{store.root}/{key} does not exist") from None
    except OSError as exc:
        raise InputError(f"{store.root}/{key}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # an object key the store refuses (`..`, empty parts)
        raise _Fail("INDEX_MALFORMED", INDEX, f"object key {key!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - botocore: NoCredentialsError, EndpointConnectionError, ClientError
        raise InputError(f"{store.root}/{key}: cannot read: {_one_line(exc)}") from None


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _check_index(index: Any) -> None:
    """The index's structure: the fields verification reads, with their types (INDEX_MALFORMED naming the field)."""
    def bad(field_: str, what: str) -> _Fail:
        return _Fail("INDEX_MALFORMED", INDEX, f"field '{field_}': {what}")

    if not isinstance(index, dict):
        raise bad("", "index.json is not a JSON object")
    for f in ("origin", "window_id", "tenant_id"):
        if not isinstance(index.get(f), str) or not index[f]:
            raise bad(f, "expected a non-empty string")
    for f in ("output_digest", "input_digest", "policy_hash", "transcript_root"):
        if not isinstance(index.get(f), str) or not _HEX64.fullmatch(index[f]):
            raise bad(f, "expected 64 lowercase hex digits")
    key = index.get("key")
    if not isinstance(key, dict) or not isinstance(key.get("key_id"), str) or \
            not isinstance(key.get("algorithm"), str):
        raise bad("key", "expected {key_id, algorithm} strings")
    schema = index.get("schema", SCHEMA_V1)
    if schema not in (SCHEMA_V1, SCHEMA_V2):
        raise bad("schema", f"expected {SCHEMA_V1} or {SCHEMA_V2}")
    segs = index.get("segments")
    if not isinstance(segs, list) or not segs:
        raise bad("segments", "expected a non-empty array")
    for i, e in enumerate(segs):
        if not isinstance(e, dict):
            raise bad(f"segments[{i}]", "expected an object")
        if not isinstance(e.get("name"), str) or not isinstance(e.get("kind"), str):
            raise bad(f"segments[{i}]", "name and kind must be strings")
        if not isinstance(e.get("sha256"), str) or not _HEX64.fullmatch(e["sha256"]):
            raise bad(f"segments[{i}].sha256", "expected 64 lowercase hex digits")
        if type(e.get("size")) is not int or e["size"] < 0:
            raise bad(f"segments[{i}].size", "expected a non-negative integer")
        _check_stored_fields(e, i, schema == SCHEMA_V2, bad)


def _check_stored_fields(e: dict[str, Any], i: int, v2: bool, bad: Any) -> None:
    """v2: every normalized_input entry is a Parquet chunk (encoding, stored_sha256, stored_size, rows); no other
    entry, and nothing in v1, carries those fields."""
    from vgos.segment_parquet import ENCODING

    if not (v2 and e["kind"] == "normalized_input"):
        extra = [f for f in STORED_FIELDS if f in e]
        if extra:
            raise bad(f"segments[{i}].{extra[0]}", "only a v2 normalized_input entry is stored encoded")
        return
    if e.get("encoding") != ENCODING:
        raise bad(f"segments[{i}].encoding", f"expected {ENCODING!r}")
    if not isinstance(e.get("stored_sha256"), str) or not _HEX64.fullmatch(e["stored_sha256"]):
        raise bad(f"segments[{i}].stored_sha256", "expected 64 lowercase hex digits")
    for f in ("stored_size", "rows"):
        if type(e.get(f)) is not int or e[f] < 0:
            raise bad(f"segments[{i}].{f}", "expected a non-negative integer")


def _check_seal(seal: Any) -> None:
    """The seal's structure as verification reads it (SEAL_MALFORMED naming the field)."""
    def bad(field_: str, what: str) -> _Fail:
        return _Fail("SEAL_MALFORMED", "seal", f"field '{field_}': {what}")

    if not isinstance(seal, dict):
        raise bad("", "the seal is not a JSON object")
    w = seal.get("window")
    if not isinstance(w, dict):
        raise bad("window", "expected an object")
    for f in ("window_id", "tenant_id", "policy_hash", "close_ts"):
        if not isinstance(w.get(f), str):
            raise bad(f"window.{f}", "expected a string")
    if not isinstance(seal.get("allocations"), list):
        raise bad("allocations", "expected an array")
    totals, trailer = seal.get("totals"), seal.get("trailer")
    if not isinstance(totals, dict) or type(totals.get("events_rejected")) is not int:
        raise bad("totals.events_rejected", "expected an integer")
    if not isinstance(trailer, dict) or not isinstance(trailer.get("input_digest"), str):
        raise bad("trailer.input_digest", "expected a string")


def _signed_at(ck: Any) -> str | None:
    """The checkpoint's signing time when it records one (extension line `signed_at <RFC 3339>`), else None."""
    from vgos.trust import canonical_time

    found = [line.split(" ", 1)[1] for line in ck.extensions if line.startswith("signed_at ")]
    if not found:
        return None
    if len(found) > 1:
        raise _Fail("CHECKPOINT_MALFORMED", CHECKPOINT, "more than one signed_at line")
    try:
        return canonical_time(found[0], "signed_at")
    except ValueError as exc:
        raise _Fail("CHECKPOINT_MALFORMED", CHECKPOINT, str(exc)) from None


def _trusted_signers(ck: Any, trusted: list[TrustedKey], shipped: bytes | None) -> list[TrustedKey]:
    """The trusted keys whose checkpoint signature verifies (in trust order); UNTRUSTED_KEY when no signature
    line is by a trusted key, BAD_SIGNATURE when one by a trusted key does not verify."""
    from vgos.signing import key_id_for_public_key
    from vgos.transcript import note_key_name

    ok: list[TrustedKey] = []
    for tk in trusted:
        name = note_key_name(tk.key_id)
        kh = note_key_hash(name, tk.algorithm, tk.public_key_pem)
        sigs = [sig for n, h, sig in ck.signatures if n == name and h == kh]
        if not sigs:
            continue
        if not all(verify_signature(tk.algorithm, tk.public_key_pem, ck.text.encode(), s) for s in sigs):
            raise _Fail("BAD_SIGNATURE", CHECKPOINT,
                        f"checkpoint signature by trusted key {tk.key_id} ({tk.source}) does not verify")
        ok.append(tk)
    if ok:
        return ok
    claimed = sorted({n.removeprefix("vgos.signer/") for n, _h, _s in ck.signatures})
    shipped_id = None
    if shipped is not None:
        try:
            shipped_id = key_id_for_public_key(shipped)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            shipped_id = None
    ids = ([shipped_id] if shipped_id else []) + [c for c in claimed if c != shipped_id]
    where = "the --pubkey keys" if trusted and all(t.source == "--pubkey" for t in trusted) else \
        "the trust file or the local signer" if trusted else "no key at all (no trust file, no local signing key)"
    known = ", ".join(sorted({t.key_id for t in trusted})) or "none"
    raise _Fail("UNTRUSTED_KEY", CHECKPOINT,
                f"signed by key {', '.join(ids) or '?'}{' (key.pem shipped in the transcript)' if shipped_id else ''}"
                f", which is not among {where} (trusted: {known}); a key found only inside the transcript is never "
                "trusted")


def _verify(store: BlobStore, trusted: list[TrustedKey], expect_digest: str | None = None,
            expect_window: str | None = None, progress: Progress = silent) -> VerifyReport:
    from vgos.signing import canonical_public_pem, key_id_for_public_key

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

    # First the fast pass (the seal's allocations never parsed: a replay that gives the sealed bytes proves them);
    # whatever it cannot prove, or any failure, is decided by the exact pass, which reports as it always did.
    for fast in (True, False):
        inputs = _InputStream(progress, index)
        try:
            return _verify_segments(store, index, ck, signers, signed_at, inputs, fast)
        except Exception:
            if not fast:
                raise
        finally:
            inputs.close()
    raise AssertionError("unreachable")


class _NotFast(Exception):
    """The fast pass cannot prove this transcript: the exact pass decides."""


def _seal_without_allocations(seal_bytes: bytes) -> dict[str, Any]:
    """The seal's other members, parsed from the bytes after its `allocations` array (an empty list stands in for
    it); _NotFast when the bytes are not laid out as RFC 8785 puts a seal."""
    from vgos.transcript import _ALLOC_HEAD

    sliced = _alloc_slice(seal_bytes)
    if sliced is None:
        raise _NotFast
    rest = orjson.loads(b"{" + seal_bytes[len(_ALLOC_HEAD) + len(sliced) + 1:])
    if not isinstance(rest, dict) or "allocations" in rest:
        raise _NotFast
    return {"allocations": [], **rest}


def _seal_canonical_check(seal: Any, seal_bytes: bytes) -> None:
    if jcs_bytes(seal) != seal_bytes:
        raise _Fail("SEAL_DIGEST_MISMATCH", "seal", "seal segment is not in RFC 8785 canonical form")


def _allocations_check(seal: dict[str, Any], segment: bytes) -> None:
    if jcs_bytes(seal["allocations"]) != segment:
        raise _Fail("ALLOCATIONS_MISMATCH", "allocations", "allocations segment differs from the seal")


def _sorted_dumps_equal(obj: Any, data: bytes) -> bool:
    """True when sorted-key orjson output of `obj` is `data` (RFC 8785 unless a float, an unsafe integer or a
    non-ASCII member name hides in `obj`: what the exact check, run later when still needed, rules out)."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) == data
    except (TypeError, orjson.JSONEncodeError):
        return False


def _alloc_slice(seal_bytes: bytes) -> bytes | None:
    """The bytes of the seal's first member `allocations` when the seal is laid out as RFC 8785 puts it."""
    from vgos.transcript import _ALLOC_HEAD, _ALLOC_TAIL

    if seal_bytes.startswith(_ALLOC_HEAD + b"["):
        end = seal_bytes.find(b"]" + _ALLOC_TAIL)
        if end > 0:
            return seal_bytes[len(_ALLOC_HEAD):end + 1]
    return None


def _verify_segments(store: BlobStore, index: dict[str, Any], ck: Any, signers: list[TrustedKey],
                     signed_at: str | None, inputs: _InputStream, fast: bool = False) -> VerifyReport:
    """Segments, root, seal, policy, input, rejects, prior windows and the replay, in the documented order.

    Normalized input chunks are hashed and parsed as they are read and never kept as bytes. The two whole-seal
    RFC 8785 walks (seal canonical form, allocations segment) are first tried as byte comparisons; when those hold,
    the exact walk is left `deferred` and runs only if something later fails (before that failure is reported, so
    the first failure in the documented order is still the one reported) or the replayed seal bytes differ from
    the sealed ones; equal replayed bytes prove both (they are the RFC 8785 form of a fold's own seal).
    `fast` skips both walks and the parse of the allocations, and raises _NotFast unless the replay gives the
    sealed bytes exactly (the caller then runs the exact pass).
    """
    segments = index["segments"]
    by_kind: dict[str, list[tuple[dict, bytes]]] = {}
    for e in segments:
        key = stored_key(e)
        stored = bool(e.get("encoding"))  # a v2 input chunk: the stored object's own hash and size
        want_sha, want_size = (e["stored_sha256"], e["stored_size"]) if stored else (e["sha256"], e["size"])
        data = _get(store, key, "SEGMENT_MISSING")
        if sha256_hex(data) != want_sha:
            raise _Fail("SEGMENT_HASH_MISMATCH", f"{e['name']} ({key})",
                        f"content hashes to {sha256_hex(data)}, index says {want_sha}")
        if len(data) != want_size:
            raise _Fail("SEGMENT_SIZE_MISMATCH", e["name"], f"{len(data)} bytes, index says {want_size}")
        if e["kind"] == "policy_manifest":
            _stream_context(inputs, index, data)
        if e["kind"] == "normalized_input":
            if stored:
                inputs.add_stored(e, data)
            else:
                inputs.add(data)
            data = b""
        by_kind.setdefault(e["kind"], []).append((e, data))
        del data
    # The rejects segment is parsed (in batches when large: few of its objects live at once) while the last input
    # chunks are verified; its result or failure is taken where the documented order checks it.
    rejects_facts = None
    if len(by_kind.get("rejects", ())) == 1:
        facts_pool = ThreadPoolExecutor(max_workers=1)
        rejects_facts = facts_pool.submit(_rejects_facts, by_kind["rejects"][0][1])
        facts_pool.shutdown(wait=False)
    inputs.drain()

    if len(segments) != ck.size:
        raise _Fail("ROOT_MISMATCH", CHECKPOINT, f"tree size {ck.size} but {len(segments)} segments")
    root = merkle_root([bytes.fromhex(e["sha256"]) for e in segments])
    if root != ck.root or root.hex() != index["transcript_root"]:
        raise _Fail("ROOT_MISMATCH", CHECKPOINT,
                    f"Merkle root {root.hex()} vs checkpoint {ck.root.hex()} / index {index['transcript_root']}")

    seal_bytes = by_kind["seal"][0][1]
    if sha256_hex(seal_bytes) != index["output_digest"]:
        raise _Fail("SEAL_DIGEST_MISMATCH", "seal", "seal bytes do not hash to the index output_digest")
    if fast:
        return _verify_rest(index, ck, signers, signed_at, inputs, by_kind, root,
                            _seal_without_allocations(seal_bytes), seal_bytes, [], fast=True,
                            rejects_facts=rejects_facts)
    try:
        seal = orjson.loads(seal_bytes)
    except orjson.JSONDecodeError as exc:
        raise _Fail("SEAL_MALFORMED", "seal", f"not JSON: {exc}") from None
    deferred: list[Any] = []
    if _sorted_dumps_equal(seal, seal_bytes):  # the exact check, when still needed, parses the bytes again
        deferred.append(lambda: _seal_canonical_check(orjson.loads(seal_bytes), seal_bytes))
    else:
        _seal_canonical_check(seal, seal_bytes)
    try:
        return _verify_rest(index, ck, signers, signed_at, inputs, by_kind, root, seal, seal_bytes, deferred,
                            rejects_facts=rejects_facts)
    except Exception:
        for check in deferred:  # the earlier exact checks first: their failure is the one to report
            check()
        raise


def _rejects_facts(data: bytes) -> tuple[int, set[Any]]:
    """(number of rejects, ids rejected DUPLICATE_PRIOR_WINDOW) of the rejects segment; REJECTS_MALFORMED when it
    is not an array of objects. Pure, so it may run on a thread while the input chunks are still being verified.

    A large segment is parsed in batches cut where an element ends and the next begins (`},{"`, which cannot occur
    inside a JSON string, whose quotes are escaped), so only one batch's objects live at a time. A cut inside a
    nested value leaves a batch that is not valid JSON; any batch that does not parse to objects sends the whole
    segment through the one-piece parse, which then decides exactly as before."""
    if len(data) > 2 * _REJECT_BATCH_BYTES and data[:1] == b"[" and data[-1:] == b"]":
        batched = _rejects_facts_batched(data)
        if batched is not None:
            return batched
    try:
        reject_entries = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _Fail("REJECTS_MALFORMED", "rejects", f"not JSON: {exc}") from None
    if not isinstance(reject_entries, list) or not all(isinstance(r, dict) for r in reject_entries):
        raise _Fail("REJECTS_MALFORMED", "rejects", "expected an array of objects")
    return len(reject_entries), {r.get("event_id") for r in reject_entries
                                 if r.get("reason") == DUPLICATE_PRIOR_WINDOW}


_REJECT_BATCH_BYTES = 8 << 20


def _rejects_facts_batched(data: bytes) -> tuple[int, set[Any]] | None:
    """`_rejects_facts` batch by batch; None when some batch is not an array of objects (see there)."""
    count, prior = 0, set()
    pos, end = 1, len(data) - 1
    while pos < end:
        cut = data.find(b'},{"', pos + _REJECT_BATCH_BYTES, end)
        stop = end if cut < 0 else cut + 1
        try:
            items = orjson.loads(b"[" + data[pos:stop] + b"]")
        except orjson.JSONDecodeError:
            return None
        if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
            return None
        count += len(items)
        prior.update(r.get("event_id") for r in items if r.get("reason") == DUPLICATE_PRIOR_WINDOW)
        del items
        pos = stop + 1  # past the comma between two elements
    return count, prior


def _verify_rest(index: dict[str, Any], ck: Any, signers: list[TrustedKey], signed_at: str | None,
                 inputs: _InputStream, by_kind: dict[str, list[tuple[dict, bytes]]], root: bytes,
                 seal: dict[str, Any], seal_bytes: bytes, deferred: list[Any], fast: bool = False,
                 rejects_facts: Future[tuple[int, set[Any]]] | None = None) -> VerifyReport:
    """Everything after the seal's canonical form, in the documented order (see `_verify_segments`);
    `rejects_facts`: `_rejects_facts` of the rejects segment, already under way on another thread."""
    from vgos.trust import parse_time

    _check_seal(seal)
    # The allocations are read again only when a check needs them (orjson parses the same bytes to the same
    # values), so the replay does not run beside 200k parsed allocation objects.
    seal_allocations: list[Any] | None = seal["allocations"]
    seal = {k: v for k, v in seal.items() if k != "allocations"}
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
    alloc_segment = by_kind["allocations"][0][1]
    if fast:
        if _alloc_slice(seal_bytes) != alloc_segment:
            raise _NotFast
    elif _alloc_slice(seal_bytes) == alloc_segment:
        deferred.append(lambda: _allocations_check(orjson.loads(seal_bytes), alloc_segment))
    else:
        _allocations_check({"allocations": seal_allocations}, alloc_segment)
    del seal_allocations
    if fast:
        del alloc_segment
    try:
        inputs.check_parsed()
    except ValueError as exc:
        raise _Fail("INPUT_DIGEST_MISMATCH", "normalized_input", str(exc)) from None
    input_digest = inputs.digest()
    if input_digest != seal["trailer"]["input_digest"]:
        raise _Fail("INPUT_DIGEST_MISMATCH", "normalized_input", "normalized input does not hash to input_digest")
    if seal["trailer"]["input_digest"] != index["input_digest"]:
        raise _Fail("INPUT_DIGEST_MISMATCH", INDEX, "index input_digest differs from the seal's")
    n_rejects, prior_rejected = (rejects_facts.result() if rejects_facts is not None
                                 else _rejects_facts(by_kind["rejects"][0][1]))
    if n_rejects != seal["totals"]["events_rejected"]:
        raise _Fail("REJECTS_COUNT_MISMATCH", "rejects",
                    f"{n_rejects} rejects, seal says {seal['totals']['events_rejected']}")
    try:
        prior = _prior_windows(by_kind, index["window_id"])
    except ValueError as exc:
        raise _Fail("PRIOR_WINDOWS_MISMATCH", "prior_windows", str(exc)) from None
    if prior_rejected != set(prior):
        raise _Fail("PRIOR_WINDOWS_MISMATCH", "prior_windows",
                    f"{len(prior)} recorded match(es) but {len(prior_rejected)} id(s) rejected "
                    f"{DUPLICATE_PRIOR_WINDOW}; they must be the same ids")

    for kind in ("allocations", "rejects"):  # checked and counted: their bytes are not needed by the replay
        by_kind[kind] = [(e, b"") for e, _data in by_kind[kind]]
    inputs._progress("replaying the fold")
    rep, replayed = _replay_from(index, by_kind, None, seal=seal, n_rejects=n_rejects, input_digest=input_digest,
                                 streamed=inputs)
    if fast and (replayed != seal_bytes or not rep.ok):
        raise _NotFast
    if replayed == seal_bytes:
        deferred.clear()  # the fold's own RFC 8785 bytes: the seal and its allocations slice are canonical
    else:
        checks, deferred[:] = list(deferred), []
        for check in checks:
            check()
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
