"""Trust store: the public keys a verifier already trusts, with validity periods (issue #11).

Verifiers (`vgos verify`, `vgos ledger verify`) check signatures only against these keys, never against a key
shipped inside the artifact being verified. The trusted keys are, in this order:

1. the `--pubkey` PEMs, when any are given — then ONLY those (source `--pubkey`);
2. otherwise the trust file: `VGOS_TRUSTED_KEYS`, else `VGOS_HOME/trusted_keys.json` when it exists (source
   `VGOS_TRUSTED_KEYS:<path>`), plus
3. the local signer's own public key (source `local signer`, no validity period): the AWS KMS key when
   `VGOS_KMS_KEY_ID` is set, else the Ed25519 key file (`VGOS_SIGNING_KEY`, else `VGOS_HOME/keys/ed25519.pem`)
   when that file already exists. Verifying never creates a key.

Trust file (JSON, UTF-8, written 0600 by `vgos keys rotate`; duplicated or unknown fields are refused):

    {"keys": [{"public_key_pem": "-----BEGIN PUBLIC KEY-----\\n...\\n-----END PUBLIC KEY-----\\n",
               "not_before": "2025-01-01T00:00:00Z",      optional, RFC 3339 (Z or offset), null = open
               "not_after": "2026-01-01T00:00:00Z",       optional, RFC 3339, null = open
               "key_id": "940f46f5a763b846",              optional, checked against the key when present
               "algorithm": "ed25519",                    optional, checked against the key when present
               "note": "retired by vgos keys rotate"}]}   optional, free text

A key is valid at an instant T when not_before ≤ T ≤ not_after (open ends unbounded), so a retired key keeps the
windows it signed during its period verifiable after a rotation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vgos import config
from vgos.errors import InputError

ENV_TRUSTED_KEYS = "VGOS_TRUSTED_KEYS"
TRUST_FILE_NAME = "trusted_keys.json"
SOURCE_PUBKEY = "--pubkey"
SOURCE_LOCAL = "local signer"
_ENTRY_FIELDS = {"public_key_pem", "not_before", "not_after", "key_id", "algorithm", "note"}
_TS_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})",
                    re.ASCII)


@dataclass(frozen=True)
class TrustedKey:
    """A public key the verifier trusts, valid within [not_before, not_after] (None = unbounded)."""

    key_id: str  # vgos.signing.key_id_for_public_key(pem)
    algorithm: str  # "ed25519" | "ecdsa-p256-sha256"
    public_key_pem: bytes  # canonical SPKI PEM
    not_before: str | None  # RFC 3339 UTC or None
    not_after: str | None
    source: str  # "--pubkey", "VGOS_TRUSTED_KEYS:<path>", "local signer"

    def valid_at(self, at: str | dt.datetime | None) -> bool:
        """True when `at` lies within the key's validity period (always true for `at` None)."""
        if at is None:
            return True
        t = at if isinstance(at, dt.datetime) else parse_time(at, "time")
        if self.not_before is not None and t < parse_time(self.not_before, "not_before"):
            return False
        return not (self.not_after is not None and t > parse_time(self.not_after, "not_after"))

    def period(self) -> str:
        """`not_before..not_after` with `-` for an open end."""
        return f"{self.not_before or '-'}..{self.not_after or '-'}"

    def describe(self) -> str:
        """`<key_id> (<algorithm>, <source>, valid <period>)` for output lines."""
        bounded = self.not_before is not None or self.not_after is not None
        return f"{self.key_id} ({self.algorithm}, {self.source}{', valid ' + self.period() if bounded else ''})"


# ---------------------------------------------------------------- time


def parse_time(text: Any, field: str) -> dt.datetime:
    """An RFC 3339 timestamp with Z or an offset (ASCII digits only) as an aware UTC datetime; ValueError naming
    the field otherwise."""
    if not isinstance(text, str) or not _TS_RE.fullmatch(text):
        raise ValueError(f"{field}: {text!r} is not an RFC 3339 timestamp with Z or an offset")
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError as exc:
        raise ValueError(f"{field}: {text!r} is not a valid timestamp ({exc})") from None


def utc_text(t: dt.datetime) -> str:
    """Canonical UTC text: `YYYY-MM-DDTHH:MM:SSZ`, with six fractional digits only when non-zero."""
    t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def canonical_time(text: Any, field: str) -> str:
    """RFC 3339 input in canonical UTC text; ValueError naming the field."""
    return utc_text(parse_time(text, field))


# ---------------------------------------------------------------- keys


def _key(pem: bytes, not_before: str | None, not_after: str | None, source: str) -> TrustedKey:
    """A TrustedKey from any PEM (ValueError when it is not an Ed25519 or P-256 public key)."""
    from vgos.signing import canonical_public_pem, key_id_for_public_key, public_key_algorithm

    canonical = canonical_public_pem(pem)
    return TrustedKey(key_id_for_public_key(canonical), public_key_algorithm(canonical), canonical, not_before,
                      not_after, source)


def trust_file_path() -> Path:
    """Where the trust file is read and written: `VGOS_TRUSTED_KEYS`, else VGOS_HOME/trusted_keys.json."""
    p = os.environ.get(ENV_TRUSTED_KEYS)
    return Path(p).absolute() if p else config.vgos_home() / TRUST_FILE_NAME


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"duplicated field {k!r}")
        seen[k] = v
    return seen


def read_trust_file(path: Path) -> list[TrustedKey]:
    """The keys of a trust file; InputError naming the file and the field for anything malformed."""
    source = f"{ENV_TRUSTED_KEYS}:{path}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the trust file: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: trust file is not a JSON document: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"keys"} or not isinstance(doc["keys"], list):
        raise InputError(f"{path}: field 'keys': the trust file must be an object {{\"keys\": [...]}} and nothing "
                         "else")
    keys = []
    for i, entry in enumerate(doc["keys"]):
        where = f"{path}: field 'keys[{i}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where}': expected an object")
        unknown = sorted(set(entry) - _ENTRY_FIELDS)
        if unknown:
            raise InputError(f"{where}.{unknown[0]}': unknown field (allowed: {', '.join(sorted(_ENTRY_FIELDS))})")
        pem = entry.get("public_key_pem")
        if not isinstance(pem, str) or not pem.strip():
            raise InputError(f"{where}.public_key_pem': expected a PEM public key string")
        bounds = {}
        for name in ("not_before", "not_after"):
            value = entry.get(name)
            try:
                bounds[name] = None if value is None else canonical_time(value, name)
            except ValueError as exc:
                raise InputError(f"{where}.{name}': {exc}") from None
        if bounds["not_before"] and bounds["not_after"] and \
                parse_time(bounds["not_before"], "") > parse_time(bounds["not_after"], ""):
            raise InputError(f"{where}.not_after': {bounds['not_after']} is before not_before {bounds['not_before']}")
        if "note" in entry and not isinstance(entry["note"], str | None):
            raise InputError(f"{where}.note': expected a string")
        try:
            tk = _key(pem.encode("utf-8"), bounds["not_before"], bounds["not_after"], source)
        except ValueError as exc:
            raise InputError(f"{where}.public_key_pem': {exc}") from None
        for name, actual in (("key_id", tk.key_id), ("algorithm", tk.algorithm)):
            if name in entry and entry[name] != actual:
                raise InputError(f"{where}.{name}': {entry[name]!r} but the key's {name} is {actual!r}")
        keys.append(tk)
    return keys


def local_signer_key() -> TrustedKey | None:
    """The local signer's public key (KMS when VGOS_KMS_KEY_ID is set, else an existing key file), or None."""
    from vgos.signing import public_key_of_key_file

    kms = config.kms_key_id()
    if kms:
        try:
            from vgos.signing import KmsSigner

            pem = KmsSigner(kms).public_key_pem()
        except config.ConfigError as exc:
            raise InputError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - botocore raises many types (credentials, endpoint, access)
            raise InputError(f"VGOS_KMS_KEY_ID {kms}: cannot read the public key: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    else:
        path = config.signing_key_path()
        try:
            pem = public_key_of_key_file(path)
        except config.ConfigError as exc:
            raise InputError(str(exc)) from None
        if pem is None:
            return None
    return _key(pem, None, None, SOURCE_LOCAL)


def trusted_keys(pubkeys: Sequence[bytes] = ()) -> list[TrustedKey]:
    """The keys a verifier trusts: only the `--pubkey` PEMs when any are given, else the trust file's keys and the
    local signer's. InputError (exit 2) for an unusable PEM or a malformed trust file."""
    if pubkeys:
        out = []
        for i, pem in enumerate(pubkeys):
            try:
                out.append(_key(bytes(pem), None, None, SOURCE_PUBKEY))
            except ValueError as exc:
                raise InputError(f"--pubkey #{i + 1}: {exc}") from None
        return out
    keys: list[TrustedKey] = []
    path = trust_file_path()
    explicit = bool(os.environ.get(ENV_TRUSTED_KEYS))
    if explicit or path.exists():
        if explicit and not path.exists():
            raise InputError(f"{ENV_TRUSTED_KEYS}={path}: no such trust file")
        keys.extend(read_trust_file(path))
    local = local_signer_key()
    if local is not None:
        keys.append(local)
    return keys


def find_trusted(public_key_pem: bytes | None = None, key_id: str | None = None, at: str | None = None,
                 pubkeys: Sequence[bytes] = ()) -> TrustedKey | None:
    """The first trusted key with that PEM (canonicalized) and/or key id that is valid at `at` (when given)."""
    return match_trusted(trusted_keys(pubkeys), public_key_pem, key_id, at)


def match_trusted(keys: Sequence[TrustedKey], public_key_pem: bytes | None = None, key_id: str | None = None,
                  at: str | dt.datetime | None = None) -> TrustedKey | None:
    """find_trusted over an already loaded list of keys."""
    from vgos.signing import canonical_public_pem

    if public_key_pem is None and key_id is None:
        raise ValueError("find_trusted needs public_key_pem or key_id")
    pem = None
    if public_key_pem is not None:
        try:
            pem = canonical_public_pem(public_key_pem)
        except ValueError:
            return None
    for k in keys:
        if pem is not None and k.public_key_pem != pem:
            continue
        if key_id is not None and k.key_id != key_id:
            continue
        if k.valid_at(at):
            return k
    return None


# ---------------------------------------------------------------- writing and rotation


def _entry(tk: TrustedKey, note: str | None) -> dict[str, Any]:
    e: dict[str, Any] = {"key_id": tk.key_id, "algorithm": tk.algorithm,
                         "public_key_pem": tk.public_key_pem.decode("ascii"),
                         "not_before": tk.not_before, "not_after": tk.not_after}
    if note:
        e["note"] = note
    return e


def _ensure_private_dir(folder: Path) -> None:
    """Create the folder 0700; tighten it to 0700 when it is VGOS_HOME or was created here."""
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if created or folder.resolve() == config.vgos_home().resolve():
        os.chmod(folder, 0o700)


def write_trust_file(path: Path, entries: list[dict[str, Any]]) -> None:
    """Write the trust file atomically: temp file (0600) in the same folder, fsync, rename, fsync the folder."""
    from vgos.storage import atomic_write_bytes, fsync_dir

    _ensure_private_dir(path.parent)
    data = (json.dumps({"keys": entries}, indent=2, ensure_ascii=True) + "\n").encode("ascii")
    atomic_write_bytes(path, data, mode=0o600)
    fsync_dir(path.parent)


def _raw_entries(path: Path) -> list[dict[str, Any]]:
    """The trust file's entries as written (validated first), or [] when there is no file."""
    if not path.exists():
        return []
    read_trust_file(path)
    return json.loads(path.read_bytes())["keys"]


@dataclass(frozen=True)
class Rotation:
    """What `rotate_signing_key` did."""

    old: TrustedKey | None
    new: TrustedKey
    retired_path: Path | None
    trust_file: Path
    key_path: Path


def rotate_signing_key(now: str, not_after_old: str | None = None) -> Rotation:
    """Replace the Ed25519 signing key with a new one and keep the old public key trusted for its period.

    The old key file is kept as `<stem>.<key_id>.retired.pem` (0600); the trust file gets the old public key with
    not_after = `not_after_old` (default `now`) and the new one open-ended (it may re-sign older windows). The new
    key is moved into place last (temp file, fsync, rename), after the trust file, so a crash never leaves a signer
    nobody trusts. Callers record the rotation in the audit log. InputError when the signer is a KMS key or times
    are unusable.
    """
    import fcntl

    from vgos.signing import key_id_for_public_key, new_ed25519_private_pem, public_key_of_key_file
    from vgos.storage import atomic_write_bytes, fsync_dir
    from vgos.storage import synced_temp_file as temp

    if config.kms_key_id():
        raise InputError("VGOS_KMS_KEY_ID is set: rotate the key in AWS KMS and add its public key to the trust file")
    try:
        now = canonical_time(now, "now")
        until = canonical_time(not_after_old, "--not-after-old") if not_after_old is not None else now
    except ValueError as exc:
        raise InputError(str(exc)) from None
    key_path = config.signing_key_path()
    tpath = trust_file_path()
    _ensure_private_dir(key_path.parent)
    with open(key_path.parent / f".{key_path.name}.rotate.lock", "w") as lock:
        os.fchmod(lock.fileno(), 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)  # one rotation at a time; a second one waits, then rotates again
        try:
            old_pem = public_key_of_key_file(key_path)
        except config.ConfigError as exc:
            raise InputError(str(exc)) from None
        entries = _raw_entries(tpath)
        old = retired = None
        if old_pem is not None:
            old_id = key_id_for_public_key(old_pem)
            mine = [e for e in entries if key_id_for_public_key(e["public_key_pem"].encode()) == old_id]
            if not mine:
                mine = [_entry(_key(old_pem, None, None, ""), None)]
                entries.append(mine[0])
            for e in mine:
                if e.get("not_before") and parse_time(e["not_before"], "") > parse_time(until, ""):
                    raise InputError(f"--not-after-old {until} is before the old key's not_before {e['not_before']}")
                e["not_after"] = until
                e["note"] = f"retired by vgos keys rotate at {now}"
            old = _key(old_pem, mine[0].get("not_before"), until, f"{ENV_TRUSTED_KEYS}:{tpath}")
            retired = key_path.with_name(f"{key_path.stem}.{old_id}.retired.pem")
            data = key_path.read_bytes()
            tmp = temp(retired, data, 0o600)
            try:
                try:
                    os.link(tmp, retired)
                except FileExistsError:
                    if retired.read_bytes() != data:
                        raise InputError(f"{retired} exists with a different key") from None
            finally:
                os.unlink(tmp)
        new_private = new_ed25519_private_pem()
        from cryptography.hazmat.primitives import serialization

        new_pem = serialization.load_pem_private_key(new_private, None).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        # open-ended: the new key may re-sign windows that closed before the rotation (a re-seal of an old window)
        new = _key(new_pem, None, None, f"{ENV_TRUSTED_KEYS}:{tpath}")
        entries.append(_entry(new, f"signing key since {now} (vgos keys rotate)"))
        write_trust_file(tpath, entries)
        atomic_write_bytes(key_path, new_private, mode=0o600)
        fsync_dir(key_path.parent)
    return Rotation(old, new, retired, tpath, key_path)
