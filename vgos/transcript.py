"""Signed transcript of a window: content-addressed segments, an RFC 6962 Merkle root, a C2SP signed checkpoint.

Layout under a prefix of a blob store (folder or S3):

    segments/<sha256>   segment bytes (policy manifest, input file digests, prior-window matches when there are
                        any, normalized input chunks, rejects, allocations, seal), each named by its SHA-256;
                        in v2 a normalized input chunk is stored as a strict Parquet file named by the SHA-256 of
                        that file (`stored_sha256`), while its leaf stays the SHA-256 of its RFC 8785 array
    index.json          RFC 8785 bytes: ordered segment list (name, kind, sha256, size; v2 inputs also encoding,
                        stored_sha256, stored_size, rows) and the window facts
    key.pem             public key of the signer
    checkpoint          C2SP signed note: origin, tree size, base64 root, `index <sha256 of index.json>`

`transcript_root` is the RFC 6962 Merkle tree hash over the 32-byte segment hashes in index order, the same in v1 and
v2 for the same window. The contract is docs/transcript.md. Nothing in the transcript names a person: events carry
principal ids and amounts only.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from vgos.canonical import jcs_bytes, sha256_hex
from vgos.early_files import ALLOCATIONS_SEGMENT, REJECTS_SEGMENT, EarlyFiles
from vgos.signing import ECDSA_P256, ED25519, Signer, verify_signature
from vgos.storage import BlobNotFound, BlobStore, WriteOnceViolation, open_store

SCHEMA_V1 = "vgos.transcript/1"
SCHEMA_V2 = "vgos.transcript/2"
SCHEMA = SCHEMA_V2  # what write_transcript writes unless told `version=1`
SCHEMAS = {1: SCHEMA_V1, 2: SCHEMA_V2}
STORED_FIELDS = ("encoding", "stored_sha256", "stored_size", "rows")  # v2 normalized_input entries only
CHUNK_EVENTS = 100_000
INDEX = "index.json"
CHECKPOINT = "checkpoint"
KEY = "key.pem"
SEGMENT_ORDER = ("policy_manifest", "input_files", "prior_windows", "normalized_input", "rejects", "allocations",
                 "seal")
# Present only when the window has DUPLICATE_PRIOR_WINDOW matches, so every other transcript keeps its exact bytes.
OPTIONAL_SEGMENTS = ("prior_windows",)


# ---------------------------------------------------------------- RFC 6962 Merkle tree


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash: split at the largest power of two smaller than n; empty tree = SHA-256("")."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


# ---------------------------------------------------------------- C2SP signed note


def note_key_name(key_id: str) -> str:
    """Key name used in signature lines (no spaces, no '+')."""
    return f"vgos.signer/{key_id}"


def note_key_hash(name: str, algorithm: str, public_key_pem: bytes) -> bytes:
    """C2SP key ID: 0x01 Ed25519 = SHA-256(name || 0x0A || 0x01 || raw key)[:4]; 0x02 ECDSA = SHA-256(SPKI DER)[:4]."""
    key = serialization.load_pem_public_key(public_key_pem)
    if algorithm == ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]
    if algorithm == ECDSA_P256 and isinstance(key, ec.EllipticCurvePublicKey):
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).digest()[:4]
    raise ValueError(f"unsupported key for algorithm {algorithm}")


def algorithm_of(public_key_pem: bytes) -> str:
    """The signing algorithm a PEM public key implies."""
    key = serialization.load_pem_public_key(public_key_pem)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return ECDSA_P256
    raise ValueError("public key is neither Ed25519 nor ECDSA P-256")


def sign_note(text: str, signer: Signer) -> bytes:
    """A C2SP signed note: the text (ending in newline), a blank line, one signature line."""
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    name = note_key_name(signer.key_id)
    sig = signer.sign(text.encode())
    kh = note_key_hash(name, signer.algorithm, signer.public_key_pem())
    return (text + "\n" + f"\u2014 {name} {base64.b64encode(kh + sig).decode()}\n").encode()


@dataclass(frozen=True)
class Checkpoint:
    """Parsed checkpoint note."""

    origin: str
    size: int
    root: bytes
    extensions: list[str]
    text: str
    signatures: list[tuple[str, bytes, bytes]]  # (key name, 4-byte key hash, signature)


_B64 = re.compile(r"^[A-Za-z0-9+/]+=*$")


def _b64_strict(text: str, what: str) -> bytes:
    """Decode base64 and insist on the canonical encoding (no ignored trailing bits)."""
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"checkpoint {what} is not base64") from None
    if base64.b64encode(data).decode() != text:
        raise ValueError(f"checkpoint {what} is not canonical base64")
    return data


def parse_checkpoint(data: bytes) -> Checkpoint:
    """Parse a C2SP checkpoint note; raises ValueError naming what is malformed."""
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("checkpoint is not valid UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise ValueError("checkpoint contains control characters")
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        raise ValueError("checkpoint has no blank line before its signatures")
    text += "\n"
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise ValueError("checkpoint text needs origin, size and root lines")
    origin, size_s, root_s, *ext = lines
    if not origin or not re.fullmatch(r"[1-9][0-9]*|0", size_s):
        raise ValueError("checkpoint origin or tree size is malformed")
    if not _B64.match(root_s):
        raise ValueError("checkpoint root hash is not base64")
    root = _b64_strict(root_s, "root hash")
    if len(root) != 32:
        raise ValueError("checkpoint root hash is not 32 bytes")
    signatures = []
    if not sigs.endswith("\n"):
        raise ValueError("checkpoint signature block does not end with a newline")
    for line in sigs[:-1].split("\n"):
        m = re.fullmatch(r"\u2014 (\S+) ([A-Za-z0-9+/]+=*)", line)
        if not m:
            raise ValueError(f"malformed signature line {line[:60]!r}")
        blob = _b64_strict(m.group(2), "signature")
        if len(blob) < 5:
            raise ValueError("signature line too short")
        signatures.append((m.group(1), blob[:4], blob[4:]))
    return Checkpoint(origin, int(size_s), root, ext, text, signatures)


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class TranscriptRef:
    """Where a transcript lives and what it seals."""

    url: str
    window_id: str
    tenant_id: str
    output_digest: str
    transcript_root: str
    key_id: str

    def open(self) -> BlobStore:
        """The blob store rooted at this transcript."""
        return open_store(self.url)


def _to_dict(x: Any) -> dict[str, Any]:
    if isinstance(x, dict):
        return dict(x)
    if hasattr(x, "to_dict"):
        return x.to_dict()
    import dataclasses

    return dataclasses.asdict(x)


def _reject_entry(r: Any) -> dict[str, Any]:
    """A reject as the transcript keeps it: id, reason code, field and file:line, never the raw values."""
    d = _to_dict(r)
    src = str(d.get("source") or "")
    name, _, line = src.rpartition(":")
    source = f"{name.replace(chr(92), '/').rsplit('/', 1)[-1]}:{line}" if name and line.isdigit() else src
    return {"event_id": d.get("event_id"), "reason": d.get("reason"), "field": d.get("field"), "source": source}


def _reject_entries(rejects: list[Any]) -> list[dict[str, Any]]:
    """`[_reject_entry(r) for r in rejects]`, reading a Reject's fields directly and shortening each distinct file
    name once (a window has few files and many rejects)."""
    from vgos.events import Reject

    short: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    append = out.append
    for r in rejects:
        src = r.source if type(r) is Reject else None
        if type(src) is not str or not src:
            append(_reject_entry(r))
            continue
        name, _, line = src.rpartition(":")
        if name and line.isdigit():
            base = short.get(name)
            if base is None:
                base = short[name] = name.replace(chr(92), "/").rsplit("/", 1)[-1]
            src = f"{base}:{line}"
        append({"event_id": r.event_id, "reason": r.reason, "field": r.field, "source": src})
    return out


def rejects_segment_bytes(entries: list[dict[str, Any]]) -> bytes:
    """The `rejects` segment: `jcs_bytes(entries)`, without its generic walk when every value is a string or null
    (member names are the four ASCII constants of `_reject_entry`, so sorted-key orjson output is RFC 8785)."""
    if all(type(v) is str or v is None for e in entries for v in e.values()):
        return orjson.dumps(entries, option=orjson.OPT_SORT_KEYS)
    return jcs_bytes(entries)


def rejects_bytes(rejects: Any) -> bytes:
    """The `rejects` segment of a fold's rejects: column-wise from a RejectLog, else through the objects."""
    return b"".join(rejects_parts(rejects))


def rejects_parts(rejects: Any) -> list[Any]:
    """`rejects_bytes` as buffers whose concatenation is the segment, so a column-wise one is never joined."""
    from vgos.rejects import frame_rejects

    log = frame_rejects(rejects)
    if log is not None:
        parts = log.transcript_parts()
        if parts is not None:
            return parts
    return [rejects_segment_bytes(_reject_entries(list(rejects)))]


_ALLOC_HEAD = b'{"allocations":'
_ALLOC_TAIL = b',"schema":"vgos.seal/1",'


def allocations_segment_bytes(seal_bytes: bytes) -> bytes:
    """The `allocations` segment, `jcs_bytes(seal["allocations"])`, taken as the slice of the RFC 8785 seal bytes
    that holds it (it is their first member); other bytes are parsed and re-serialized as before.

    In RFC 8785 output every '"' inside a string is escaped, so the first `],"schema":` ends the array."""
    return bytes(allocations_part(seal_bytes))


def allocations_part(seal_bytes: bytes) -> bytes | memoryview:
    """`allocations_segment_bytes` as a view into the seal bytes when it is their slice (nothing copied)."""
    raw = bytes(seal_bytes)
    if raw.startswith(_ALLOC_HEAD + b"["):
        end = raw.find(b"]" + _ALLOC_TAIL)
        if end > 0:
            return memoryview(raw)[len(_ALLOC_HEAD):end + 1]
    return jcs_bytes(orjson.loads(raw)["allocations"])


def prior_windows_bytes(prior: dict[str, str]) -> bytes:
    """The `prior_windows` segment: RFC 8785 array of {event_id, window_id}, sorted by event_id (code points)."""
    return jcs_bytes([{"event_id": e, "window_id": prior[e]} for e in sorted(prior)])


@dataclass(frozen=True)
class _Spooled:
    """A segment stored as a file: by the fold (`FoldResult.input_segments`) or, for a v2 chunk built here, as bytes
    (`data`). `sha256`/`size` are the canonical bytes' (the leaf); `stored_*` the stored object's when encoded."""

    path: Path | None
    sha256: str
    size: int
    encoding: str | None = None
    stored_sha256: str = ""
    stored_size: int = 0
    rows: int = 0
    data: bytes | None = None

    def read(self) -> bytes:
        """The stored object's bytes."""
        return self.data if self.data is not None else Path(self.path or "").read_bytes()

    def key(self) -> str:
        """Its content address under segments/."""
        return self.stored_sha256 if self.encoding else self.sha256

    def entry(self, name: str, kind: str) -> dict[str, Any]:
        """Its index entry."""
        e: dict[str, Any] = {"name": name, "kind": kind, "sha256": self.sha256, "size": self.size}
        if self.encoding:
            e.update(encoding=self.encoding, stored_sha256=self.stored_sha256, stored_size=self.stored_size,
                     rows=self.rows)
        return e


def _input_chunks(result: Any, chunk_events: int, encoding: str | None = None) -> Iterator[bytes | _Spooled]:
    """The normalized_input segments: the fold's spooled files when it wrote them with this chunk size and encoding,
    else built from `kept` one chunk at a time (canonical bytes, or for `encoding="parquet"` a stored chunk)."""
    from vgos.fold import canonical_events_bytes

    kept = result.kept
    held = getattr(result, "kept_held", True)
    n = kept.height if held else result.seal["totals"]["events_kept"]
    spooled = getattr(result, "input_segments", None) or []
    if spooled and getattr(result, "input_chunk_events", 0) == chunk_events \
            and len(spooled) == -(-n // chunk_events) and all(s.encoding == encoding for s in spooled):
        for s in spooled:
            yield _Spooled(Path(s.path), s.sha256, s.size, s.encoding, s.stored_sha256, s.stored_size, s.rows)
        return
    if not held:  # a bucketed fold keeps its events only in the spooled segments
        import polars as pl

        from vgos.events import FIELDS

        kept = pl.concat([pl.read_parquet(s.path) for s in spooled]).select(list(FIELDS)) if spooled else kept
    starts = range(0, kept.height, chunk_events) if kept.height else range(1)
    for i in starts:
        chunk = kept.slice(i, chunk_events)
        raw = canonical_events_bytes(chunk)
        if encoding is None:
            yield raw
            continue
        from vgos import segment_parquet

        data = segment_parquet.encode(chunk.select(list(segment_parquet.COLUMNS)))
        yield _Spooled(None, sha256_hex(raw), len(raw), encoding, sha256_hex(data), len(data), chunk.height, data)


def build_segments(result: Any, chunk_events: int | None = None) -> list[tuple[str, str, bytes]]:
    """(name, kind, bytes) of every segment in the fixed order of SEGMENT_ORDER (optional ones only when set);
    normalized_input chunks of `chunk_events` events (default CHUNK_EVENTS, read when called). These are the
    leaves' bytes, the same in v1 and v2 (a v2 transcript stores the input chunks encoded)."""
    return [(name, kind, data.read() if isinstance(data, _Spooled) else data)
            for name, kind, data in _iter_segments(result, chunk_events)]


def _head_segments(result: Any, chunk_events: int | None = None, encoding: str | None = None,
                   ) -> Iterator[tuple[str, str, bytes | _Spooled]]:
    """The segments before `rejects` (manifest, input files, prior windows, normalized input chunks), lazily."""
    chunk_events = CHUNK_EVENTS if chunk_events is None else chunk_events
    segs: list[tuple[str, str, bytes | _Spooled]] = [
        ("policy_manifest", "policy_manifest", jcs_bytes(result.policy.manifest())),
        ("input_files", "input_files",
         jcs_bytes([{"name": n, "sha256": h} for n, h in getattr(result, "input_files", [])])),
    ]
    prior = getattr(result, "prior", None)
    if prior:
        segs.append(("prior_windows", "prior_windows", prior_windows_bytes(prior)))
    yield from segs
    for i, chunk in enumerate(_input_chunks(result, chunk_events, encoding)):
        yield f"normalized_input/{i:05d}", "normalized_input", chunk


def _iter_segments(result: Any, chunk_events: int | None = None, encoding: str | None = None,
                   ) -> Iterator[tuple[str, str, bytes | _Spooled]]:
    """`build_segments` lazily: normalized_input chunks one at a time (spooled ones as files, not bytes); with
    `encoding="parquet"` the input chunks are stored chunks (`_Spooled`), as a v2 transcript holds them."""
    yield from _head_segments(result, chunk_events, encoding)
    for name, kind, make in _tail_segments(result):
        yield name, kind, b"".join(make())


def _tail_segments(result: Any) -> list[tuple[str, str, Callable[[], list[Any]]]]:
    """The last segments (rejects, allocations, seal), each as a function giving buffers whose concatenation is
    its bytes: they are built from the fold's columns and seal bytes without copying them into one object."""
    return [("rejects", "rejects", lambda: rejects_parts(result.rejects)),
            ("allocations", "allocations", lambda: [allocations_part(result.seal_bytes)]),
            ("seal", "seal", lambda: [result.seal_bytes])]


def _put_segment(store: BlobStore, prefix: str, name: str, kind: str, data: bytes | _Spooled) -> dict[str, Any]:
    """Store one segment under segments/<its content address>; its index entry."""
    if isinstance(data, _Spooled):
        _put_spooled(store, _join(prefix, f"segments/{data.key()}"), data)
        return data.entry(name, kind)
    h = sha256_hex(data)
    store.put(_join(prefix, f"segments/{h}"), data)
    return {"name": name, "kind": kind, "sha256": h, "size": len(data)}


def _put_parts(store: BlobStore, prefix: str, make: Callable[[], list[Any]]) -> tuple[str, int]:
    """Store the segment `make()` gives as buffers under segments/<its SHA-256>; (sha256, size). A local store
    hashes and writes the buffers in one pass, never joined (`LocalBlobStore.put_addressed`)."""
    from vgos.storage import LocalBlobStore

    parts = make()
    if isinstance(store, LocalBlobStore):
        return store.put_addressed(_join(prefix, "segments"), parts)
    data = b"".join(parts)
    h = sha256_hex(data)
    store.put(_join(prefix, f"segments/{h}"), data)
    return h, len(data)


_EARLY_SEGMENTS = {"rejects": REJECTS_SEGMENT, "allocations": ALLOCATIONS_SEGMENT}


def _put_tail(store: BlobStore, prefix: str, name: str, make: Callable[[], list[Any]],
              early: EarlyFiles | None) -> tuple[str, int]:
    """Store a tail segment: the fold's early file of it when there is one (`_put_spooled`), else `_put_parts`."""
    made = early.get(_EARLY_SEGMENTS[name]) if early is not None and name in _EARLY_SEGMENTS else None
    if made is not None:
        _put_spooled(store, _join(prefix, f"segments/{made.sha256}"), _Spooled(made.path, made.sha256, made.size))
        return made.sha256, made.size
    return _put_parts(store, prefix, make)


def _put_spooled(store: BlobStore, key: str, seg: _Spooled) -> None:
    """Put a spooled segment: hard-linked into a local store (the file is already written and synced), else put
    from its bytes; an existing object must hold the same bytes (write-once), as `put` requires."""
    from vgos.storage import LocalBlobStore

    if isinstance(store, LocalBlobStore) and seg.path is not None:
        try:
            os.chmod(seg.path, 0o444)
            store.link_in(key, seg.path, seg.read)
            return
        except OSError:
            pass  # another file system or no hard links: write a copy
    store.put(key, seg.read())


def _seal_window(result: Any) -> dict[str, Any]:
    """The seal's `window` object: the one the result carries when its seal is a dict, else parsed from the bytes
    (a FoldResult's `seal` is the object `seal_bytes` serializes, so both give the same values)."""
    seal = getattr(result, "seal", None)
    if isinstance(seal, dict) and isinstance(seal.get("window"), dict):
        return seal["window"]
    return orjson.loads(result.seal_bytes)["window"]


def _join(prefix: str, key: str) -> str:
    return f"{prefix.strip('/')}/{key}" if prefix.strip("/") else key


def write_transcript(result: Any, store: BlobStore, prefix: str, signer: Signer, *, version: int = 2,
                     early: EarlyFiles | None = None) -> TranscriptRef:
    """Write segments, index, key and (last) the signed checkpoint; write-once, idempotent for equal content.

    `version=2` (default) stores the normalized input as Parquet segments, `version=1` as RFC 8785 arrays; both
    give the same transcript_root (docs/transcript.md). `early`: the fold's `EarlyFiles` of this result, whose
    `rejects` and `allocations` segments are linked in (a local store) instead of built again."""
    if version not in SCHEMAS:
        raise ValueError(f"unknown transcript version {version}")
    from vgos.segment_parquet import ENCODING

    window = _seal_window(result)
    tenant_id, window_id = window["tenant_id"], window["window_id"]
    entries = []
    # The large last segments are built, hashed and written on worker threads (polars, hashlib and file writes
    # release the GIL) while this one stores the others; the index lists them all in SEGMENT_ORDER.
    with ThreadPoolExecutor(max_workers=3) as pool:
        tail = [(name, kind, pool.submit(_put_tail, store, prefix, name, make, early))
                for name, kind, make in _tail_segments(result)]
        for name, kind, data in _head_segments(result, encoding=ENCODING if version == 2 else None):
            entries.append(_put_segment(store, prefix, name, kind, data))
            del data
        for name, kind, done in tail:
            h, size = done.result()
            entries.append({"name": name, "kind": kind, "sha256": h, "size": size})
    root = merkle_root([bytes.fromhex(e["sha256"]) for e in entries])
    index = {
        "schema": SCHEMAS[version],
        "origin": f"vgos.transcript/{tenant_id}/{window_id}",
        "window_id": window_id,
        "tenant_id": tenant_id,
        "output_digest": result.output_digest,
        "input_digest": result.input_digest,
        "policy_hash": window["policy_hash"],
        "transcript_root": root.hex(),
        "key": {"key_id": signer.key_id, "algorithm": signer.algorithm},
        "segments": entries,
    }
    index_bytes = jcs_bytes(index)
    url = store.root.rstrip("/") + ("/" + prefix.strip("/") if prefix.strip("/") else "")
    kept = _kept_index(store, prefix, index_bytes, index)
    if kept is not None:  # the same transcript, stored earlier by another segment encoder: that one stands
        return TranscriptRef(url, window_id, tenant_id, result.output_digest, root.hex(), kept["key"]["key_id"])
    store.put(_join(prefix, KEY), signer.public_key_pem())
    text = (f"{index['origin']}\n{len(entries)}\n{base64.b64encode(root).decode()}\n"
            f"index {sha256_hex(index_bytes)}\n")
    ck_key = _join(prefix, CHECKPOINT)
    if store.exists(ck_key) and _same_checkpoint(store.get(ck_key), text, signer):
        pass  # already written by an earlier identical run (ECDSA signatures differ run to run)
    else:
        store.put(ck_key, sign_note(text, signer))
    return TranscriptRef(url, window_id, tenant_id, result.output_digest, root.hex(), signer.key_id)


# What two indexes of one window's transcript share whatever encoder stored its Parquet segments: everything but
# the segment entries' stored_* fields (and the signing key, when it was rotated since).
_ENCODER_FREE = ("schema", "origin", "window_id", "tenant_id", "output_digest", "input_digest", "policy_hash",
                 "transcript_root")


def _kept_index(store: BlobStore, prefix: str, index_bytes: bytes, index: dict[str, Any]) -> dict[str, Any] | None:
    """Store the index (write-once: the same bytes again are fine), None once stored. When the store already holds
    another index there for the same transcript (same window, digests and root; only the stored Parquet objects
    differ: written by an earlier VGOS, whose segment encoder had other settings) and its signed checkpoint, that
    index is returned and kept: re-publishing a window after an upgrade is idempotent. Anything else differing
    still raises WriteOnceViolation."""
    key = _join(prefix, INDEX)
    try:
        store.put(key, index_bytes)
        return None
    except WriteOnceViolation:
        try:
            existing = orjson.loads(store.get(key))
        except (orjson.JSONDecodeError, BlobNotFound):
            raise WriteOnceViolation(f"{key} exists with different bytes") from None
        if not (isinstance(existing, dict) and isinstance(existing.get("key"), dict)
                and isinstance(existing["key"].get("key_id"), str) and isinstance(existing.get("segments"), list)
                and all(existing.get(k) == index[k] for k in _ENCODER_FREE)
                and _leaves(existing) == _leaves(index) and store.exists(_join(prefix, CHECKPOINT))):
            raise
        return existing


def _leaves(index: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(name, kind, sha256, size) of each segment entry: the index without what the stored objects add."""
    return [tuple(e.get(k) for k in ("name", "kind", "sha256", "size")) if isinstance(e, dict) else (e,)
            for e in index["segments"]]


def _same_checkpoint(existing: bytes, text: str, signer: Signer) -> bool:
    try:
        ck = parse_checkpoint(existing)
    except ValueError as exc:
        raise WriteOnceViolation(f"existing checkpoint is malformed: {exc}") from None
    if ck.text != text:
        raise WriteOnceViolation("a checkpoint with different content already exists")
    return any(verify_signature(signer.algorithm, signer.public_key_pem(), text.encode(), sig)
               for _name, _kh, sig in ck.signatures)


# ---------------------------------------------------------------- reading


def read_index(store: BlobStore) -> dict[str, Any]:
    """The parsed index.json of a transcript rooted at `store`."""
    return orjson.loads(store.get(INDEX))


def stored_key(entry: dict[str, Any]) -> str:
    """Where an index entry's object lives: segments/<stored_sha256> when encoded (v2 input), else segments/<sha256>."""
    return f"segments/{entry['stored_sha256'] if entry.get('encoding') else entry['sha256']}"


def read_segment(store: BlobStore, entry: dict[str, Any]) -> bytes:
    """Bytes of one segment named in the index: the leaf's bytes (a v2 Parquet chunk decoded to its RFC 8785
    array, which `vgos verify` checks against the leaf hash; this reader does not)."""
    data = store.get(stored_key(entry))
    if not entry.get("encoding"):
        return data
    from vgos import segment_parquet
    from vgos.canonical_rows import leaf_pieces

    bufs, _sha, _size = segment_parquet.canonical_chunk(segment_parquet.decode(data, int(entry["rows"])))
    return b"".join(leaf_pieces(bufs))


def load_ref(url: str) -> TranscriptRef:
    """A TranscriptRef for a transcript folder or S3 prefix (reads its index)."""
    store = open_store(url)
    try:
        idx = read_index(store)
    except BlobNotFound:
        raise FileNotFoundError(f"{url}: no {INDEX} (not a transcript)") from None
    return TranscriptRef(store.root, idx["window_id"], idx["tenant_id"], idx["output_digest"],
                         idx["transcript_root"], idx["key"]["key_id"])


def read_seal(ref: TranscriptRef) -> dict[str, Any]:
    """The sealed seal object of a transcript.

    A transcript whose index or seal is missing, unreadable or not a seal raises InputError: one line naming the
    file (the CLI exits 2), never a traceback."""
    from vgos.errors import InputError

    where = f"the transcript of window {ref.window_id} (tenant {ref.tenant_id})"
    try:
        store = ref.open()
        entries = [e for e in read_index(store)["segments"] if e["kind"] == "seal"]
        if not entries:
            raise InputError(f"{ref.url}: {where} has no seal segment")
        seal = orjson.loads(read_segment(store, entries[0]))
    except InputError:
        raise
    except BlobNotFound as exc:
        raise InputError(f"{exc.args[0] if exc.args else ref.url}: missing from {where}; the sealed result "
                         "cannot be read") from None
    except OSError as exc:
        raise InputError(f"{exc.filename or ref.url}: cannot read {where}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = (str(exc).strip().splitlines() or [""])[0]
        raise InputError(f"{ref.url}: {where} has an unreadable index or seal ({type(exc).__name__}"
                         f"{': ' + detail if detail else ''})") from None
    if not (isinstance(seal, dict) and isinstance(seal.get("allocations"), list)
            and isinstance(seal.get("window"), dict) and isinstance(seal.get("totals"), dict)):
        raise InputError(f"{ref.url}: the seal segment of {where} is not a seal object")
    return seal


# ---------------------------------------------------------------- publishing and the transcript index


def _utc_now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_transcript(result: Any, *, artifacts_root: str | None = None, db_url: str | None = None,
                       signer: Signer | None = None) -> TranscriptRef:
    """Write the transcript under `transcripts/<tenant>/<window>/<output_digest>/` and index it in the store.

    The same transaction that adds the transcript_index row records the seal's kept event ids in the tenant's
    idempotency index (vgos.store.idempotency), which later windows consult (SPEC §3 step 2).
    """
    from vgos import config
    from vgos.signing import load_signer
    from vgos.store.acceptance import TranscriptIndex
    from vgos.store.db import session
    from vgos.store.idempotency import index_kept_events

    signer = signer or load_signer()
    store = open_store(artifacts_root or config.artifacts_root())
    window = _seal_window(result)
    prefix = f"transcripts/{window['tenant_id']}/{window['window_id']}/{result.output_digest}"
    ref = write_transcript(result, store, prefix, signer)
    with session(db_url) as s, s.begin():
        row = TranscriptIndex(tenant_id=ref.tenant_id, window_id=ref.window_id, output_digest=ref.output_digest,
                              transcript_root=ref.transcript_root, url=ref.url, key_id=ref.key_id,
                              created_at=_utc_now())
        s.add(row)
        s.flush()
        if getattr(result, "kept_held", True):
            index_kept_events(s, row, result.kept["event_id"])
        else:  # a bucketed fold: the kept ids are in its spooled segments
            import polars as pl

            index_kept_events(s, row, pl.concat([pl.read_parquet(seg.path, columns=["event_id"])
                                                 for seg in result.input_segments])["event_id"])
    from vgos.audit import note

    note("transcript.publish", f"window/{ref.tenant_id}/{ref.window_id}",
         {"output_digest": ref.output_digest, "transcript_url": ref.url}, window_id=ref.window_id, url=db_url)
    return ref


def current_transcript(window_id: str, tenant_id: str = "default", db_url: str | None = None
                       ) -> TranscriptRef | None:
    """The window's most recently published transcript (latest by insertion order), or None."""
    from sqlalchemy import select

    from vgos.store.acceptance import TranscriptIndex
    from vgos.store.db import session

    with session(db_url) as s:
        row = s.scalars(select(TranscriptIndex)
                        .where(TranscriptIndex.tenant_id == tenant_id, TranscriptIndex.window_id == window_id)
                        .order_by(TranscriptIndex.id.desc()).limit(1)).first()
    if row is None:
        return None
    return TranscriptRef(row.url, row.window_id, row.tenant_id, row.output_digest, row.transcript_root,
                         row.key_id)


def current_seal(window_id: str, tenant_id: str = "default", db_url: str | None = None) -> dict[str, Any] | None:
    """The seal of the window's current transcript, or None when nothing was published."""
    ref = current_transcript(window_id, tenant_id, db_url)
    return read_seal(ref) if ref else None


def verify_transcript(path_or_url: str, pubkey_pem: bytes | None = None) -> Any:
    """Offline verification of a transcript (see vgos.replay.verify_transcript)."""
    from vgos.replay import verify_transcript as _verify

    return _verify(path_or_url, pubkey_pem)
