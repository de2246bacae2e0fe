"""Signers for transcripts, gate responses and ledger proofs: a local Ed25519 key file or an AWS KMS key."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from vgos import config

ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256-sha256"
KMS_RAW_LIMIT = 4096  # KMS Sign accepts at most 4096 bytes with MessageType=RAW


class Signer(Protocol):
    """Anything that signs bytes and exposes its public key; `key_id` identifies the key stably."""

    key_id: str
    algorithm: str

    def sign(self, message: bytes) -> bytes: ...
    def public_key_pem(self) -> bytes: ...


def key_id_for_public_key(public_key_pem: bytes) -> str:
    """Stable key id: first 16 hex chars of SHA-256 over the DER SubjectPublicKeyInfo."""
    key = serialization.load_pem_public_key(public_key_pem)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def _pem_of(public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> bytes:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return public_key.public_bytes(serialization.Encoding.PEM, spki)


@dataclass
class Ed25519FileSigner:
    """Ed25519 private key kept in a PKCS#8 PEM file (0600)."""

    path: Path
    _key: ed25519.Ed25519PrivateKey = field(init=False, repr=False)
    key_id: str = field(init=False)
    algorithm: str = field(init=False, default=ED25519)

    def __post_init__(self) -> None:
        self._key = _load_or_create_ed25519(Path(self.path))
        self.key_id = key_id_for_public_key(self.public_key_pem())

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_key_pem(self) -> bytes:
        return _pem_of(self._key.public_key())


def new_ed25519_private_pem() -> bytes:
    """A fresh Ed25519 private key as unencrypted PKCS#8 PEM."""
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_or_create_ed25519(path: Path) -> ed25519.Ed25519PrivateKey:
    """Load the key, or create it atomically (0600 file, 0700 folder) so two first users agree on one key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)
        from vgos.storage import synced_temp_file

        tmp = synced_temp_file(path, new_ed25519_private_pem(), 0o600)
        try:
            try:
                os.link(tmp, path)  # fails if another process created the key first: keep theirs
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return load_ed25519_key_file(path)


def load_ed25519_key_file(path: Path) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 private key in `path` (ConfigError naming the file when it is not one)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise config.ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise config.ConfigError(f"{path}: not an Ed25519 private key")
    return key


@dataclass
class KmsSigner:
    """AWS KMS asymmetric key (ECC_NIST_P256) signing with ECDSA_SHA_256; the private key never leaves KMS."""

    kms_key_id: str
    client: object | None = None
    key_id: str = field(init=False)
    algorithm: str = field(init=False, default=ECDSA_P256)
    _pem: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.client is None:
            import boto3

            self.client = boto3.client("kms", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
        resp = self.client.get_public_key(KeyId=self.kms_key_id)
        if resp.get("KeySpec", resp.get("CustomerMasterKeySpec")) != "ECC_NIST_P256":
            raise config.ConfigError(f"KMS key {self.kms_key_id}: expected ECC_NIST_P256")
        pub = serialization.load_der_public_key(resp["PublicKey"])
        self._pem = _pem_of(pub)
        self.key_id = key_id_for_public_key(self._pem)

    def sign(self, message: bytes) -> bytes:
        """DER ECDSA signature; messages above the RAW limit are pre-hashed (same signature semantics)."""
        if len(message) <= KMS_RAW_LIMIT:
            kwargs = {"Message": message, "MessageType": "RAW"}
        else:
            kwargs = {"Message": hashlib.sha256(message).digest(), "MessageType": "DIGEST"}
        resp = self.client.sign(KeyId=self.kms_key_id, SigningAlgorithm="ECDSA_SHA_256", **kwargs)
        return resp["Signature"]

    def public_key_pem(self) -> bytes:
        return self._pem


def canonical_public_pem(public_key_pem: bytes) -> bytes:
    """The SPKI PEM of an Ed25519 or ECDSA P-256 public key; ValueError for anything else."""
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key ({str(exc).split('. ')[0]})") from None
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"ECDSA key on {key.curve.name}, only P-256 is supported")
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise ValueError(f"{type(key).__name__.removeprefix('_')}: only Ed25519 and ECDSA P-256 keys are supported")
    return _pem_of(key)


def public_key_algorithm(public_key_pem: bytes) -> str:
    """ED25519 or ECDSA_P256 for a PEM public key; ValueError for anything else."""
    key = serialization.load_pem_public_key(canonical_public_pem(public_key_pem))
    return ED25519 if isinstance(key, ed25519.Ed25519PublicKey) else ECDSA_P256


def public_key_of_key_file(path: Path) -> bytes | None:
    """Public key PEM of the Ed25519 key file at `path`, or None when there is no such file (never creates one)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return _pem_of(load_ed25519_key_file(path).public_key())
    except OSError as exc:
        raise config.ConfigError(f"{path}: cannot read the signing key: {exc.strerror or exc}") from None


def load_signer() -> Signer:
    """The configured signer: KMS when VGOS_KMS_KEY_ID is set, else the Ed25519 key file (made if absent)."""
    kms = config.kms_key_id()
    if kms:
        return KmsSigner(kms)
    return Ed25519FileSigner(config.signing_key_path())


def verify_signature(algorithm: str, public_key_pem: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` over `message` verifies under the PEM key (cryptography, never bytes ==)."""
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    try:
        if algorithm == ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
            return True
        if algorithm == ECDSA_P256 and isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1):
                return False
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False
