"""Signing: Ed25519 key file created 0600 on first use; KMS ECDSA P-256 RAW against moto's KMS."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vgos import signing


def test_ed25519_key_file_created_0600_and_stable(vgos_home):
    s1 = signing.load_signer()
    path = vgos_home / "keys" / "ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    s2 = signing.load_signer()
    assert s1.key_id == s2.key_id and len(s1.key_id) == 16
    assert s1.algorithm == "ed25519"
    sig = s1.sign(b"hello")
    assert signing.verify_signature("ed25519", s2.public_key_pem(), b"hello", sig)
    assert not signing.verify_signature("ed25519", s2.public_key_pem(), b"hellp", sig)
    assert not signing.verify_signature("ecdsa-p256-sha256", s2.public_key_pem(), b"hello", sig)


@pytest.fixture
def kms_server(moto_server: str) -> str:
    """moto's KMS (shared moto server fixture)."""
    return moto_server


def test_kms_ecdsa_p256_raw_verified_with_cryptography(vgos_home, kms_server, monkeypatch):
    import boto3

    kms = boto3.client("kms", endpoint_url=kms_server)
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("VGOS_KMS_KEY_ID", key)
    signer = signing.load_signer()
    assert isinstance(signer, signing.KmsSigner)
    assert signer.algorithm == "ecdsa-p256-sha256"
    msg = b"vgos.transcript/default/2025-09-23\n3\nabc=\n"
    sig = signer.sign(msg)
    # independent check with cryptography directly on the KMS public key
    der = kms.get_public_key(KeyId=key)["PublicKey"]
    pub = serialization.load_der_public_key(der)
    pub.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
    assert signing.verify_signature(signer.algorithm, signer.public_key_pem(), msg, sig)
    assert not signing.verify_signature(signer.algorithm, signer.public_key_pem(), msg + b"x", sig)
