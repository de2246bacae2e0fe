"""ACK/CT/SPV proofs: issuer registry, signature checks, quarantine, freshness F and quorum Q, acceptance matrix.

A proof is a JSON object `{window_id, kind, subject_id, status, issued_at, expires_at, output_digest, issuer,
signature}` (+ optional `tenant_id`, and `reason` for a CT HOLD). The signature covers the RFC 8785 bytes of the
proof without `signature`, base64-encoded. Issuers are registered with an Ed25519 public key (registry file at
`VGOS_ISSUERS` or `VGOS_HOME/issuers.json`) or as HMAC-SHA256 issuers whose secret comes only from the
environment variable `VGOS_ISSUER_SECRET_<ISSUER>` (upper case, non-alphanumerics as `_`).

Intake (`submit_proof`) refuses a proof with a quarantine reason, never applying it:

    MALFORMED_PROOF, UNSIGNED_PROOF   shape, types, timestamps, signature encoding
    UNKNOWN_ISSUER, ISSUER_NOT_ALLOWED   issuer not registered (or no HMAC secret), or not allowed for the kind
    BAD_SIGNATURE        the signature does not verify under the issuer's key
    WEAK_SECRET          the HMAC issuer's secret in the environment is shorter than 32 bytes
    FUTURE_PROOF         `issued_at` is later than the real clock plus `VGOS_PROOF_MAX_FUTURE_SKEW_S` (default 300 s)

Accepted proofs record the real clock as `received_at` (a caller-supplied `as_of` never moves intake time).

Evaluation (`evaluate_matrix`, pure: no clock, no store). Only proofs with `issued_at <= as_of` count, and each
issuer's newest proof (by issued_at, ties by submission order) supersedes its older ones.

- ACK and SPV accept one sealed result: they are bound to the window's `output_digest`. A current proof is the
  issuer's newest one, fresh (`as_of` before expires_at and issued_at + freshness_s). Any current REJECTED ACK
  vetoes: the ACK row is `ACK_REJECTED` whatever the quorum.
- SPV is per provider batch (subject_id = provider_batch_id): each batch the window must account for (released
  under the digest, not cancelled) is judged on its own proofs, and a MISMATCH in force vetoes it
  (`SPV_MISMATCH`). The SPV summary row (subject `*`) is OK only when every such batch is OK.
- CT is about the payee, not the digest: the newest CT per (issuer, principal) stands, whatever digest or window it
  was filed for, until a newer one replaces it. A HOLD in force (newest, not expired) holds regardless of
  freshness_s (`CT_HOLD`); freshness applies to CLEAR.
- Quorum counts distinct keys, never issuer names: the key fingerprint is the SHA-256 of the Ed25519 public key's
  DER SubjectPublicKeyInfo, or the SHA-256 of an HMAC issuer's secret. The row's `fresh` is that count.

Row statuses: OK, MISSING_ACK / MISSING_SPV / MISSING_CT, STALE_PROOF, INSUFFICIENT_QUORUM, ACK_REJECTED, CT_HOLD,
SPV_MISMATCH.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ed25519

from vgos import config
from vgos.canonical import CanonicalError, jcs_bytes, sha256_hex
from vgos.errors import InputError
from vgos.signing import ED25519, verify_signature

KINDS = ("ACK", "CT", "SPV")
STATUSES = {"ACK": ("ACCEPTED", "REJECTED"), "CT": ("CLEAR", "HOLD"), "SPV": ("CONFIRMED", "MISMATCH")}
HMAC = "hmac-sha256"
REQUIRED_FIELDS = ("window_id", "kind", "subject_id", "status", "issued_at", "expires_at", "output_digest",
                   "issuer", "signature")
OPTIONAL_FIELDS = ("tenant_id", "reason")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_WINDOW = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MIN_HMAC_SECRET_BYTES = 32
FUTURE_SKEW_ENV = "VGOS_PROOF_MAX_FUTURE_SKEW_S"
DEFAULT_FUTURE_SKEW_S = 300
_IN_CHUNK = 900  # subject ids per IN (...) query: under SQLite's and PostgreSQL's bind-parameter limits


class ProofRefused(Exception):
    """A proof that cannot be applied; `reason` is its quarantine reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


# ---------------------------------------------------------------- time


def parse_ts(value: Any, fld: str = "timestamp") -> dt.datetime:
    """Parse an RFC 3339 timestamp with `Z` or an offset; naive times are refused."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}", value):
        raise ValueError(f"{fld}: expected an RFC 3339 timestamp, got {value!r}")
    try:
        t = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{fld}: expected an RFC 3339 timestamp, got {value!r}") from None
    if t.tzinfo is None:
        raise ValueError(f"{fld}: {value!r} has no time zone (use Z or +HH:MM)")
    return t.astimezone(dt.UTC)


def fmt_ts(t: dt.datetime) -> str:
    """Canonical UTC RFC 3339 form (seconds, microseconds when non-zero)."""
    t = t.astimezone(dt.UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{t.microsecond:06d}Z" if t.microsecond else f"{base}Z"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- issuers


@dataclass(frozen=True)
class Issuer:
    """A registered proof issuer: an Ed25519 public key, or an HMAC secret read from the environment."""

    issuer_id: str
    algorithm: str
    public_key_pem: bytes | None = None
    kinds: tuple[str, ...] = KINDS
    key_fingerprint: str | None = None  # SHA-256 of the DER SPKI (Ed25519) or of the secret (HMAC, when set)


def issuers_path() -> Path:
    """Registry location: `VGOS_ISSUERS`, else VGOS_HOME/issuers.json."""
    p = os.environ.get("VGOS_ISSUERS")
    return Path(p).absolute() if p else config.vgos_home() / "issuers.json"


def hmac_secret_env(issuer_id: str) -> str:
    """Name of the environment variable holding an HMAC issuer's secret."""
    return "VGOS_ISSUER_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", issuer_id).upper()


def hmac_secret(issuer_id: str) -> bytes | None:
    """An HMAC issuer's secret from the environment, or None when unset or empty."""
    secret = os.environ.get(hmac_secret_env(issuer_id))
    return secret.encode() if secret else None


def public_key_fingerprint(key: ed25519.Ed25519PublicKey) -> str:
    """Key identity for quorum: lowercase hex SHA-256 of the DER SubjectPublicKeyInfo."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def secret_fingerprint(secret: bytes) -> str:
    """Key identity of an HMAC issuer: lowercase hex SHA-256 of its secret."""
    return hashlib.sha256(secret).hexdigest()


def load_issuers(path: Path | None = None) -> dict[str, Issuer]:
    """Read the issuer registry (JSON or YAML): `{"issuers": {id: {algorithm, public_key_pem?, kinds?}}}`."""
    path = path or issuers_path()
    if not path.exists():
        return {}
    try:
        text = path.read_bytes()
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text) or {}
        else:
            raw = orjson.loads(text)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable issuer registry: {str(exc).splitlines()[0]}") from None
    issuers = raw.get("issuers") if isinstance(raw, dict) else None
    if not isinstance(issuers, dict):
        raise InputError(f"{path}: field 'issuers': expected a mapping of issuer id to key")
    out = {}
    for iid, spec in issuers.items():
        fld = f"issuers.{iid}"
        if not isinstance(spec, dict):
            raise InputError(f"{path}: field '{fld}': expected a mapping")
        alg = spec.get("algorithm", ED25519)
        kinds = tuple(spec.get("kinds", KINDS))
        if alg == ED25519:
            pem = spec.get("public_key_pem")
            if not isinstance(pem, str):
                raise InputError(f"{path}: field '{fld}.public_key_pem': Ed25519 issuers need a PEM public key")
            try:
                key = serialization.load_pem_public_key(pem.encode())
            except (ValueError, UnsupportedAlgorithm):
                raise InputError(f"{path}: field '{fld}.public_key_pem': not a PEM public key") from None
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise InputError(f"{path}: field '{fld}.public_key_pem': not an Ed25519 key")
            out[iid] = Issuer(iid, ED25519, pem.encode(), kinds, public_key_fingerprint(key))
        elif alg == HMAC:
            if "secret" in spec:
                raise InputError(f"{path}: field '{fld}.secret': HMAC secrets come only from "
                                 f"the environment ({hmac_secret_env(iid)})")
            secret = hmac_secret(iid)
            out[iid] = Issuer(iid, HMAC, None, kinds, secret_fingerprint(secret) if secret else None)
        else:
            raise InputError(f"{path}: field '{fld}.algorithm': {alg!r} (allowed: {ED25519}, {HMAC})")
    return out


def register_issuer(issuer_id: str, *, public_key_pem: bytes | None = None, algorithm: str = ED25519,
                    kinds: tuple[str, ...] = KINDS, path: Path | None = None) -> None:
    """Add or replace an issuer in the registry file (atomic write)."""
    from vgos.storage import atomic_write_bytes

    path = path or issuers_path()
    raw = orjson.loads(path.read_bytes()) if path.exists() else {"issuers": {}}
    spec: dict[str, Any] = {"algorithm": algorithm, "kinds": list(kinds)}
    if algorithm == ED25519:
        if public_key_pem is None:
            raise ValueError("Ed25519 issuers need a public key")
        spec["public_key_pem"] = public_key_pem.decode()
    raw["issuers"][issuer_id] = spec
    atomic_write_bytes(path, orjson.dumps(raw, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


# ---------------------------------------------------------------- signing and validating proofs


def proof_message(proof: dict[str, Any]) -> bytes:
    """Bytes a proof signature covers: RFC 8785 of the proof without `signature`."""
    return jcs_bytes({k: v for k, v in proof.items() if k != "signature"})


def sign_proof(body: dict[str, Any], issuer_key: ed25519.Ed25519PrivateKey | bytes) -> dict[str, Any]:
    """Return `body` with its signature: Ed25519 for a private key, HMAC-SHA256 for a bytes secret."""
    body = {k: v for k, v in body.items() if k != "signature"}
    msg = jcs_bytes(body)
    if isinstance(issuer_key, ed25519.Ed25519PrivateKey):
        sig = issuer_key.sign(msg)
    else:
        h = crypto_hmac.HMAC(bytes(issuer_key), hashes.SHA256())
        h.update(msg)
        sig = h.finalize()
    return {**body, "signature": base64.b64encode(sig).decode()}


def _verify_hmac(secret: bytes, msg: bytes, sig: bytes) -> bool:
    h = crypto_hmac.HMAC(secret, hashes.SHA256())
    h.update(msg)
    try:
        h.verify(sig)
        return True
    except InvalidSignature:
        return False


def validate_proof(proof: Any, issuers: dict[str, Issuer]) -> dict[str, Any]:
    """Check shape, types, timestamps, issuer and signature; return the proof or raise ProofRefused."""
    if not isinstance(proof, dict):
        raise ProofRefused("MALFORMED_PROOF", f"a proof must be a JSON object, got {type(proof).__name__}")
    if "signature" not in proof or proof.get("signature") in ("", None):
        raise ProofRefused("UNSIGNED_PROOF", "field 'signature' is missing or empty")
    missing = [f for f in REQUIRED_FIELDS if f not in proof]
    if missing:
        raise ProofRefused("MALFORMED_PROOF", f"field '{missing[0]}' is missing")
    extra = sorted(set(proof) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if extra:
        raise ProofRefused("MALFORMED_PROOF", f"field '{extra[0]}' is not part of a proof")
    for f in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
        if f in proof and not (isinstance(proof[f], str) and 0 < len(proof[f]) <= 1024):
            raise ProofRefused("MALFORMED_PROOF", f"field '{f}': expected a non-empty string")
    kind = proof["kind"]
    if kind not in KINDS:
        raise ProofRefused("MALFORMED_PROOF", f"field 'kind': {kind!r} (allowed: {', '.join(KINDS)})")
    if proof["status"] not in STATUSES[kind]:
        raise ProofRefused("MALFORMED_PROOF",
                           f"field 'status': {proof['status']!r} (allowed for {kind}: {', '.join(STATUSES[kind])})")
    if kind == "CT" and proof["status"] == "HOLD" and not proof.get("reason"):
        raise ProofRefused("MALFORMED_PROOF", "field 'reason': a CT HOLD needs a reason")
    if kind == "ACK" and proof["subject_id"] != proof["window_id"]:
        raise ProofRefused("MALFORMED_PROOF", "field 'subject_id': an ACK's subject is its window_id")
    if not _WINDOW.match(proof["window_id"]):
        raise ProofRefused("MALFORMED_PROOF", f"field 'window_id': {proof['window_id']!r} is not YYYY-MM-DD")
    if not _DIGEST.match(proof["output_digest"]):
        raise ProofRefused("MALFORMED_PROOF", "field 'output_digest': expected 64 lowercase hex characters")
    try:
        issued = parse_ts(proof["issued_at"], "issued_at")
        expires = parse_ts(proof["expires_at"], "expires_at")
    except ValueError as exc:
        raise ProofRefused("MALFORMED_PROOF", f"field {exc}") from None
    if expires <= issued:
        raise ProofRefused("MALFORMED_PROOF", "field 'expires_at': must be after issued_at")
    try:
        sig = base64.b64decode(proof["signature"], validate=True)
    except ValueError:
        raise ProofRefused("MALFORMED_PROOF", "field 'signature': not base64") from None
    issuer = issuers.get(proof["issuer"])
    if issuer is None:
        raise ProofRefused("UNKNOWN_ISSUER", f"field 'issuer': {proof['issuer']!r} is not registered")
    if kind not in issuer.kinds:
        raise ProofRefused("ISSUER_NOT_ALLOWED", f"issuer {issuer.issuer_id!r} may not issue {kind} proofs")
    try:
        msg = proof_message(proof)
    except CanonicalError as exc:
        raise ProofRefused("MALFORMED_PROOF", str(exc)) from None
    if issuer.algorithm == ED25519:
        ok = verify_signature(ED25519, issuer.public_key_pem or b"", msg, sig)
    else:
        secret = hmac_secret(issuer.issuer_id)
        if not secret:
            raise ProofRefused("UNKNOWN_ISSUER", f"no secret in {hmac_secret_env(issuer.issuer_id)}")
        if len(secret) < MIN_HMAC_SECRET_BYTES:
            raise ProofRefused("WEAK_SECRET", f"the secret in {hmac_secret_env(issuer.issuer_id)} is {len(secret)} "
                                              f"bytes; at least {MIN_HMAC_SECRET_BYTES} are required")
        ok = _verify_hmac(secret, msg, sig)
    if not ok:
        raise ProofRefused("BAD_SIGNATURE", f"signature does not verify under issuer {issuer.issuer_id!r}")
    return proof


@dataclass
class SubmitResult:
    """Outcome of a submission: accepted (stored) or quarantined with a reason code."""

    accepted: bool
    reason: str | None
    message: str
    source: str
    proof_sha256: str | None = None
    duplicate: bool = False
    warning: str | None = None


def _store_quarantine(source: str, reason: str, message: str, raw: bytes, db_url: str | None, now: dt.datetime
                      ) -> None:
    from vgos.store.acceptance import QuarantinedProof
    from vgos.store.db import session

    with session(db_url) as s, s.begin():
        s.add(QuarantinedProof(source=source[:512], reason_code=reason, message=message[:4000],
                               raw=raw.decode("utf-8", "replace"), raw_sha256=sha256_hex(raw),
                               received_at=fmt_ts(now)))


def max_future_skew_s() -> int:
    """How far in the future (seconds, real clock) a proof's issued_at may be: VGOS_PROOF_MAX_FUTURE_SKEW_S."""
    raw = os.environ.get(FUTURE_SKEW_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_FUTURE_SKEW_S
    if not re.fullmatch(r"\d{1,9}", raw.strip()):
        raise InputError(f"{FUTURE_SKEW_ENV}: expected a whole number of seconds >= 0, got {raw!r}")
    return int(raw.strip())


def submit_proof(path_or_dict: str | Path | dict[str, Any] | bytes, *, db_url: str | None = None,
                 as_of: dt.datetime | None = None, source: str | None = None,
                 issuers: dict[str, Issuer] | None = None) -> SubmitResult:
    """Validate and store one proof; a refused proof goes to the quarantine list with its reason, never applied.

    Intake reads the real clock: it is the recorded `received_at` and the reference for FUTURE_PROOF. `as_of` is
    accepted for compatibility and ignored (a caller must not be able to move the boundary's clock).
    """
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from vgos.store.acceptance import ProofRecord
    from vgos.store.db import session

    del as_of
    skew = max_future_skew_s()
    now = _now()
    if isinstance(path_or_dict, dict):
        raw = orjson.dumps(path_or_dict)
        src = source or "<dict>"
    elif isinstance(path_or_dict, bytes):
        raw, src = path_or_dict, source or "<bytes>"
    else:
        p = Path(path_or_dict)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise InputError(f"{p}: cannot read proof: {exc.strerror or exc}") from None
        src = source or str(p)
    try:
        try:
            proof = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ProofRefused("MALFORMED_PROOF", f"not JSON: {exc}") from None
        registry = issuers if issuers is not None else load_issuers()
        proof = validate_proof(proof, registry)
        fingerprint = registry[proof["issuer"]].key_fingerprint  # known here: the key just verified it
        limit = now + dt.timedelta(seconds=skew)
        if parse_ts(proof["issued_at"]) > limit:
            raise ProofRefused("FUTURE_PROOF", f"field 'issued_at': {proof['issued_at']} is later than the clock "
                                               f"{fmt_ts(now)} plus {skew} s ({FUTURE_SKEW_ENV})")
    except ProofRefused as refused:
        _store_quarantine(src, refused.reason, refused.message, raw, db_url, now)
        from vgos.audit import note

        note("proof.quarantine", f"proof/{Path(src).name}", {"reason": refused.reason}, url=db_url)
        return SubmitResult(False, refused.reason, refused.message, src)

    canon = jcs_bytes(proof)
    digest = sha256_hex(canon)
    tenant = proof.get("tenant_id", "default")
    warning = None
    from vgos.transcript import current_transcript

    ref = current_transcript(proof["window_id"], tenant, db_url)
    if proof["kind"] != "CT" and ref is not None and ref.output_digest != proof["output_digest"]:
        warning = (f"STALE_PROOF: bound to {proof['output_digest'][:12]}…, the window's current output_digest "
                   f"is {ref.output_digest[:12]}…; it will not count")
    already = SubmitResult(True, None, "already recorded", src, digest, duplicate=True, warning=warning)
    try:
        with session(db_url) as s, s.begin():
            if s.scalars(select(ProofRecord.id).where(ProofRecord.proof_sha256 == digest)).first() is not None:
                return already
            s.add(ProofRecord(
                tenant_id=tenant, window_id=proof["window_id"], kind=proof["kind"], subject_id=proof["subject_id"],
                status=proof["status"], reason=proof.get("reason"),
                issued_at=fmt_ts(parse_ts(proof["issued_at"])), expires_at=fmt_ts(parse_ts(proof["expires_at"])),
                output_digest=proof["output_digest"], issuer=proof["issuer"], signature=proof["signature"],
                proof_json=canon.decode(), proof_sha256=digest, source=src[:512], received_at=fmt_ts(now),
                key_fingerprint=fingerprint))
    except IntegrityError:  # a concurrent submission (e.g. a second `proof ingest`) recorded it first
        with session(db_url) as s:
            if s.scalars(select(ProofRecord.id).where(ProofRecord.proof_sha256 == digest)).first() is None:
                raise
        return already
    from vgos.audit import note

    note("proof.submit", f"window/{tenant}/{proof['window_id']}",
         {"kind": proof["kind"], "subject_id": proof["subject_id"], "status": proof["status"],
          "issuer": proof["issuer"], "proof_sha256": digest}, window_id=proof["window_id"], url=db_url)
    return SubmitResult(True, None, "accepted", src, digest, warning=warning)


def ingest_proof_drops(store: Any = None, *, db_url: str | None = None, as_of: dt.datetime | None = None
                       ) -> list[SubmitResult]:
    """Submit every `*.json` under `<drop zone>/proofs/` (idempotent: recorded proofs are skipped by hash)."""
    from vgos.storage import open_store

    store = store or open_store(config.drop_zone_root())
    out = []
    for key in store.list("proofs"):
        if key.endswith(".json"):
            out.append(submit_proof(store.get(key), db_url=db_url, as_of=as_of, source=store.url(key)))
    return out


def proof_window(raw: bytes, db_url: str | None = None) -> tuple[str | None, bool]:
    """(window_id the proof names or None, whether the store already holds it): read-only, for drop-zone sensors.

    A file that does not parse or validate names no window and is not recorded; submitting it quarantines it."""
    from sqlalchemy import select

    from vgos.store.acceptance import ProofRecord
    from vgos.store.db import session

    try:
        proof = validate_proof(orjson.loads(raw), load_issuers())
    except (orjson.JSONDecodeError, ProofRefused, InputError):
        return None, False
    digest = sha256_hex(jcs_bytes(proof))
    with session(db_url) as s:
        known = s.scalars(select(ProofRecord.id).where(ProofRecord.proof_sha256 == digest)).first() is not None
    return proof["window_id"], known


def quarantine_list(db_url: str | None = None) -> list[dict[str, Any]]:
    """Refused proofs with their reason codes, oldest first."""
    from sqlalchemy import select

    from vgos.store.acceptance import QuarantinedProof
    from vgos.store.db import session

    with session(db_url) as s:
        rows = s.scalars(select(QuarantinedProof).order_by(QuarantinedProof.id)).all()
        return [{"source": r.source, "reason_code": r.reason_code, "message": r.message,
                 "raw_sha256": r.raw_sha256, "received_at": r.received_at} for r in rows]


def _key_fingerprints() -> dict[str, str]:
    """issuer id → key fingerprint from the registry ({} when it is unreadable)."""
    try:
        return {iid: i.key_fingerprint for iid, i in load_issuers().items() if i.key_fingerprint}
    except InputError:
        return {}


def load_proofs(window_id: str, tenant_id: str = "default", db_url: str | None = None,
                principals: list[str] | None = None) -> list[dict[str, Any]]:
    """Every accepted proof of a window (any digest), plus the tenant's CT proofs for its principals filed under
    other windows (CT is about the payee), in submission order.

    `principals` defaults to the allocations of the window's current seal. Each proof carries the fingerprint of
    the key that verified it at intake (older rows: the registry's; None when unknown — it then counts for no key).
    """
    from sqlalchemy import select

    from vgos.store.acceptance import ProofRecord
    from vgos.store.db import session

    if principals is None:
        from vgos.transcript import current_transcript, read_seal

        ref = current_transcript(window_id, tenant_id, db_url)
        principals = [a["principal_id"] for a in read_seal(ref)["allocations"]] if ref is not None else []
    subjects = sorted(set(principals))
    with session(db_url) as s:
        rows = list(s.scalars(select(ProofRecord).where(ProofRecord.tenant_id == tenant_id,
                                                        ProofRecord.window_id == window_id)).all())
        for i in range(0, len(subjects), _IN_CHUNK):
            rows += s.scalars(select(ProofRecord).where(
                ProofRecord.tenant_id == tenant_id, ProofRecord.kind == "CT",
                ProofRecord.window_id != window_id,
                ProofRecord.subject_id.in_(subjects[i:i + _IN_CHUNK]))).all()
        rows.sort(key=lambda r: r.id)
        fps = _key_fingerprints()
        return [{"window_id": r.window_id, "kind": r.kind, "subject_id": r.subject_id, "status": r.status,
                 "reason": r.reason, "issued_at": r.issued_at, "expires_at": r.expires_at,
                 "output_digest": r.output_digest, "issuer": r.issuer,
                 "key_fingerprint": r.key_fingerprint or fps.get(r.issuer),
                 "proof_sha256": r.proof_sha256} for r in rows]


# ---------------------------------------------------------------- freshness, quorum, matrix (pure)


@dataclass
class MatrixRow:
    """One line of the acceptance matrix: a kind (and for CT a principal) against the policy."""

    kind: str
    subject: str
    required: bool
    quorum: int
    fresh: int
    expires: str | None
    status: str  # OK, or the reason code that blocks (MISSING_ACK, STALE_PROOF, CT_HOLD, …)
    detail: str = ""
    proofs: list[str] = field(default_factory=list)  # proof_sha256 of the proofs that count


@dataclass
class Matrix:
    """The acceptance matrix of one window at one evaluation time, bound to one output_digest."""

    window_id: str
    output_digest: str
    as_of: str
    rows: list[MatrixRow]

    def row(self, kind: str, subject: str | None = None) -> MatrixRow | None:
        """The row of a kind (and subject for CT)."""
        for r in self.rows:
            if r.kind == kind and (subject is None or r.subject == subject):
                return r
        return None

    def to_markdown(self) -> str:
        """Ops view: kinds × required, quorum, fresh, expires, status."""
        lines = [f"**window** `{self.window_id}` · **output_digest** `{self.output_digest[:16]}…` · "
                 f"**as of** {self.as_of}", "",
                 "| kind | subject | required | quorum | fresh | expires | status |",
                 "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r.kind} | {r.subject} | {'yes' if r.required else 'no'} | {r.quorum} | {r.fresh} | "
                         f"{r.expires or '—'} | {r.status} |")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored with gate decisions)."""
        return {"window_id": self.window_id, "output_digest": self.output_digest, "as_of": self.as_of,
                "rows": [{"kind": r.kind, "subject": r.subject, "required": r.required, "quorum": r.quorum,
                          "fresh": r.fresh, "expires": r.expires, "status": r.status, "proofs": r.proofs}
                         for r in self.rows]}


def _policy_acceptance(policy: Any) -> dict[str, dict[str, Any]]:
    if isinstance(policy, dict):
        return policy.get("acceptance", policy)
    return policy.acceptance


def is_fresh(proof: dict[str, Any], as_of: dt.datetime, freshness_s: int) -> bool:
    """Issued at or before `as_of`, and `as_of` before both expires_at and issued_at + F."""
    issued = parse_ts(proof["issued_at"])
    expires = parse_ts(proof["expires_at"])
    return issued <= as_of < min(expires, issued + dt.timedelta(seconds=freshness_s))


def _latest_per_issuer(proofs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each issuer's latest proof (by issued_at, then submission order): a newer proof supersedes an older."""
    latest: dict[str, dict[str, Any]] = {}
    for p in proofs:
        cur = latest.get(p["issuer"])
        if cur is None or parse_ts(p["issued_at"]) >= parse_ts(cur["issued_at"]):
            latest[p["issuer"]] = p
    return [latest[k] for k in sorted(latest)]


def _key_of(proof: dict[str, Any]) -> str | None:
    """The signing key's identity (fingerprint); None when unknown (such a proof adds nothing to a quorum)."""
    if "key_fingerprint" not in proof:  # a caller's plain proof dicts (pure evaluation): one key per issuer
        return f"issuer:{proof['issuer']}"
    return proof["key_fingerprint"]


def _evaluate(kind: str, subject: str, proofs: list[dict[str, Any]], good_status: str, output_digest: str,
              as_of: dt.datetime, spec: dict[str, Any], quorum: int, missing: str, veto_skew_s: int = 0) -> MatrixRow:
    required = bool(spec.get("required", False))
    freshness = int(spec.get("freshness_s", 0))
    horizon = as_of + dt.timedelta(seconds=veto_skew_s)

    def counts(p: dict[str, Any]) -> bool:
        # an approval counts from its issue time; a veto (HOLD, REJECTED) as soon as intake accepted it
        issued = parse_ts(p["issued_at"])
        return issued <= as_of or (p["status"] != good_status and issued <= horizon)

    if kind == "CT":  # about the payee: any digest, any window
        latest = _latest_per_issuer([p for p in proofs if counts(p)])
    else:  # bound to the sealed result
        latest = _latest_per_issuer([p for p in proofs if p["output_digest"] == output_digest and counts(p)])
    good = [p for p in latest if p["status"] == good_status and is_fresh(p, as_of, freshness)]
    bad = [p for p in latest if p["status"] != good_status and as_of < parse_ts(p["expires_at"])]  # in force
    fresh = len({k for k in map(_key_of, good) if k is not None})
    expires = None
    if good:
        ends = [min(parse_ts(p["expires_at"]), parse_ts(p["issued_at"]) + dt.timedelta(seconds=freshness))
                for p in good]
        expires = fmt_ts(min(ends))
    hashes_ = [p["proof_sha256"] for p in good + bad if "proof_sha256" in p]
    if kind == "CT" and bad:
        reason = bad[0].get("reason") or "CT_HOLD"
        return MatrixRow(kind, subject, required, quorum, fresh, expires, "CT_HOLD",
                         f"HOLD by {bad[0]['issuer']}: {reason}", hashes_)
    if kind == "ACK" and bad:
        return MatrixRow(kind, subject, required, quorum, fresh, expires, "ACK_REJECTED",
                         "REJECTED by " + ", ".join(p["issuer"] for p in bad), hashes_)
    if kind == "SPV" and bad:
        return MatrixRow(kind, subject, required, quorum, fresh, expires, "SPV_MISMATCH",
                         "MISMATCH by " + ", ".join(f"{p['issuer']} ({p.get('reason') or 'no reason'})" for p in bad),
                         hashes_)
    if fresh >= quorum:
        return MatrixRow(kind, subject, required, quorum, fresh, expires, "OK", "", hashes_)
    if not proofs:
        status = missing
    elif not good:
        status = "STALE_PROOF"
    else:
        status = "INSUFFICIENT_QUORUM"
    if kind == "CT":
        detail = f"{fresh} of {quorum} distinct key(s) with a fresh {good_status}"
    else:
        stale = len([p for p in proofs if p["output_digest"] != output_digest])
        detail = (f"{fresh} of {quorum} distinct fresh key(s) bound to this digest; "
                  f"{stale} proof(s) for other digests")
    return MatrixRow(kind, subject, required, quorum, fresh, expires, status, detail, hashes_)


_SPV_PRECEDENCE = ("SPV_MISMATCH", "MISSING_SPV", "STALE_PROOF", "INSUFFICIENT_QUORUM")


def _evaluate_spv(proofs: list[dict[str, Any]], output_digest: str, as_of: dt.datetime, spec: dict[str, Any],
                  veto_skew_s: int, batches: list[str] | None) -> list[MatrixRow]:
    """The SPV summary row (subject `*`) then one row per batch: a confirmed batch never hides a mismatched one.

    Each batch (subject_id) is judged on its own proofs (newest per issuer, freshness, quorum of distinct keys, any
    MISMATCH in force vetoes). The summary is OK only when there is a batch to account for and every one is OK;
    otherwise it carries the most severe batch status (SPV_MISMATCH, MISSING_SPV, STALE_PROOF, INSUFFICIENT_QUORUM)
    and names the batches. Proofs for batches outside `batches` (cancelled, other digests) are ignored.
    """
    quorum = int(spec.get("quorum", 1))
    required = bool(spec.get("required", False))
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for p in proofs:
        by_subject.setdefault(p["subject_id"], []).append(p)
    bound = {p["subject_id"] for p in proofs if p["output_digest"] == output_digest}
    wanted = sorted(bound if batches is None else set(batches))
    rows = [_evaluate("SPV", b, by_subject.get(b, []), "CONFIRMED", output_digest, as_of, spec, quorum,
                      "MISSING_SPV", veto_skew_s) for b in wanted]
    ignored = sorted(bound - set(wanted))
    note = f"; ignored proofs for batch(es) not to account for: {', '.join(ignored)}" if ignored else ""
    if not rows:
        stale = len(proofs) - len([p for p in proofs if p["output_digest"] == output_digest])
        status = "STALE_PROOF" if stale and not bound else "MISSING_SPV"
        detail = f"no provider batch of this output_digest to confirm; {stale} proof(s) for other digests{note}"
        return [MatrixRow("SPV", "*", required, quorum, 0, None, status, detail, [])]
    hashes_ = list(dict.fromkeys(h for r in rows for h in r.proofs))
    fresh = min(r.fresh for r in rows)
    ends = [r.expires for r in rows]
    expires = None if None in ends else min(e for e in ends if e is not None)
    blocked = [r for r in rows if r.status != "OK"]
    if not blocked:
        return [MatrixRow("SPV", "*", required, quorum, fresh, expires, "OK",
                          f"{len(rows)} batch(es) confirmed{note}", hashes_), *rows]
    rank = {s: i for i, s in enumerate(_SPV_PRECEDENCE)}
    status = min((r.status for r in blocked), key=lambda s: (rank.get(s, len(rank)), s))
    detail = "; ".join(f"batch {r.subject}: {r.status}" + (f" ({r.detail})" if r.detail else "") for r in blocked)
    detail += f"; {len(rows) - len(blocked)} of {len(rows)} batch(es) OK{note}"
    return [MatrixRow("SPV", "*", required, quorum, fresh, expires, status, detail, hashes_), *rows]


def evaluate_matrix(window_id: str, output_digest: str, as_of: dt.datetime, policy: Any,
                    proofs: list[dict[str, Any]], principals: list[str], total_payout_minor: int,
                    veto_skew_s: int = 0, *, spv_batches: list[str] | None = None) -> Matrix:
    """Pure evaluation: ACK per window (quorum rises above the high-value line), SPV per batch, CT per principal.

    `proofs` are in submission order (ties of issued_at go to the later submission). ACK and SPV proofs of other
    windows never count; CT proofs count for their principal whatever window they were filed under. Approvals
    count from their issue time and while fresh; a veto (CT HOLD, ACK REJECTED, SPV MISMATCH) is in force until it
    expires and already when issued up to `veto_skew_s` after `as_of` (the future skew intake accepted).
    `spv_batches` are the provider batches the window must account for (None: every batch with a proof bound to
    the digest); see `_evaluate_spv`.
    """
    acc = _policy_acceptance(policy)
    ack = acc.get("ACK", {})
    q_ack = int(ack.get("quorum", 1))
    if "high_value_minor" in ack and total_payout_minor >= int(ack["high_value_minor"]):
        q_ack = max(q_ack, int(ack.get("high_value_quorum", q_ack)))
    by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    ct_by_subject: dict[str, list[dict[str, Any]]] = {}
    for p in proofs:
        if p["kind"] == "CT":
            ct_by_subject.setdefault(p["subject_id"], []).append(p)
        elif p["kind"] in by_kind and p.get("window_id", window_id) == window_id:
            by_kind[p["kind"]].append(p)
    rows = [_evaluate("ACK", window_id, by_kind["ACK"], "ACCEPTED", output_digest, as_of, ack, q_ack,
                      "MISSING_ACK", veto_skew_s)]
    rows += _evaluate_spv(by_kind["SPV"], output_digest, as_of, acc.get("SPV", {}), veto_skew_s, spv_batches)
    ct = acc.get("CT", {})
    for pid in sorted(set(principals)):
        rows.append(_evaluate("CT", pid, ct_by_subject.get(pid, []), "CLEAR", output_digest, as_of, ct,
                              int(ct.get("quorum", 1)), "MISSING_CT", veto_skew_s))
    return Matrix(window_id, output_digest, fmt_ts(as_of), rows)


def acceptance_matrix(window_id: str, output_digest: str | None = None, as_of: dt.datetime | None = None,
                      policy: Any = None, *, tenant_id: str = "default", db_url: str | None = None) -> Matrix:
    """The matrix from the store: proofs of the window against its current seal (digest, principals, policy)."""
    from vgos.transcript import current_transcript, read_seal

    ref = current_transcript(window_id, tenant_id, db_url)
    if ref is None:
        raise InputError(f"window {window_id} (tenant {tenant_id}): no published transcript")
    seal = read_seal(ref)
    if policy is None:
        policy = _policy_of(ref)
    as_of = as_of or _now()
    principals = [a["principal_id"] for a in seal["allocations"]]
    digest = output_digest or ref.output_digest
    return evaluate_matrix(window_id, digest, as_of, policy,
                           load_proofs(window_id, tenant_id, db_url, principals=principals),
                           principals, seal["totals"]["payout_minor"], veto_skew_s=max_future_skew_s(),
                           spv_batches=spv_batches(window_id, digest, tenant_id, db_url))


def spv_batches(window_id: str, output_digest: str, tenant_id: str = "default", db_url: str | None = None
                ) -> list[str]:
    """Provider batches the window's SPV must account for: released under this digest and not cancelled (read-only).

    A batch is cancelled when every payout item it carries last moved, within that batch, to CANCELLED (voided by
    an operator); an item re-batched later still leaves its cancelled line cancelled.
    """
    from sqlalchemy import select

    from vgos.store.db import get_engine
    from vgos.store.payouts import PayoutTransition
    from vgos.store.recon import PayoutBatch, PayoutBatchItem

    pb, bi, tr = PayoutBatch.__table__, PayoutBatchItem.__table__, PayoutTransition.__table__
    with get_engine(db_url).connect() as conn:
        ids = sorted(conn.execute(select(pb.c.provider_batch_id).where(
            pb.c.tenant_id == tenant_id, pb.c.window_id == window_id, pb.c.output_digest == output_digest))
            .scalars().all())
        if not ids:
            return []
        lines: dict[str, set[str | None]] = {b: set() for b in ids}
        last: dict[tuple[str, str], tuple[int, str]] = {}  # (batch, item) -> (seq, to_state) of its newest move
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i:i + _IN_CHUNK]
            for r in conn.execute(select(bi.c.provider_batch_id, bi.c.payout_item_id)
                                  .where(bi.c.provider_batch_id.in_(chunk))):
                lines[r.provider_batch_id].add(r.payout_item_id)
            for t in conn.execute(select(tr.c.provider_batch_id, tr.c.item_id, tr.c.seq, tr.c.to_state).where(
                    tr.c.tenant_id == tenant_id, tr.c.window_id == window_id, tr.c.provider_batch_id.in_(chunk))):
                key = (t.provider_batch_id, t.item_id)
                if key not in last or t.seq > last[key][0]:
                    last[key] = (int(t.seq), t.to_state)

    def cancelled(b: str) -> bool:
        return bool(lines[b]) and all(i is not None and last.get((b, i), (0, ""))[1] == "CANCELLED"
                                      for i in lines[b])

    return [b for b in ids if not cancelled(b)]


def _policy_of(ref: Any) -> dict[str, Any]:
    """The policy manifest stored in a transcript (acceptance rules are the ones the window was sealed with)."""
    from vgos.transcript import read_index, read_segment

    store = ref.open()
    for e in read_index(store)["segments"]:
        if e["kind"] == "policy_manifest":
            return orjson.loads(read_segment(store, e))
    raise ValueError(f"{ref.url}: no policy manifest segment")


# ---------------------------------------------------------------- demo helpers


def demo_issuers(home: Path | None = None) -> dict[str, ed25519.Ed25519PrivateKey]:
    """Create (once) sample Ed25519 issuer keys under `<home>/issuer_keys/` (0600) and register them."""
    from vgos.signing import Ed25519FileSigner

    registry = issuers_path() if home is None else Path(home) / "issuers.json"
    home = Path(home) if home is not None else config.vgos_home()
    keys = {}
    for iid, kinds in (("finance-1", ("ACK",)), ("finance-2", ("ACK",)), ("compliance", ("CT",)),
                       ("recon", ("SPV",))):
        key_file = home / "issuer_keys" / f"{iid}.pem"
        signer = Ed25519FileSigner(key_file)  # creates the key 0600 on first use
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        keys[iid] = key
        register_issuer(iid, public_key_pem=signer.public_key_pem(), kinds=kinds, path=registry)
    return keys
