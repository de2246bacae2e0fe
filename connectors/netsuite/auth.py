"""Token-based authentication: SuiteTalk TokenPassport and OAuth 1.0a HMAC-SHA256 signatures."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac

from .config import Credentials


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(message)
    return h.finalize()


def verify_hmac_sha256(key: bytes, message: bytes, signature_b64: str) -> bool:
    """Constant-time check of a base64 HMAC-SHA256 signature (cryptography, never a byte comparison)."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return False
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(message)
    try:
        h.verify(signature)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class TokenPassport:
    """One request's passport: fresh nonce and timestamp, signed with the consumer and token secrets."""

    account: str
    consumer_key: str
    token: str
    nonce: str
    timestamp: int
    signature: str
    algorithm: str = "HMAC-SHA256"


def passport_base_string(account: str, consumer_key: str, token_id: str, nonce: str, timestamp: int) -> bytes:
    """The string NetSuite signs: account&consumerKey&tokenId&nonce&timestamp."""
    return "&".join([account, consumer_key, token_id, nonce, str(timestamp)]).encode()


def passport_key(consumer_secret: str, token_secret: str) -> bytes:
    """The HMAC key NetSuite uses: consumerSecret&tokenSecret."""
    return f"{consumer_secret}&{token_secret}".encode()


def make_passport(creds: Credentials, *, now_s: int, nonce: str | None = None) -> TokenPassport:
    """Sign a new TokenPassport for one request (the nonce is random unless given)."""
    nonce = nonce or secrets.token_hex(16)
    base = passport_base_string(creds.account, creds.consumer_key, creds.token_id, nonce, now_s)
    sig = base64.b64encode(_hmac_sha256(passport_key(creds.consumer_secret, creds.token_secret), base)).decode()
    return TokenPassport(creds.account, creds.consumer_key, creds.token_id, nonce, now_s, sig)


def verify_passport(creds: Credentials, passport: TokenPassport) -> bool:
    """True when the passport names these credentials and its signature verifies."""
    if passport.algorithm != "HMAC-SHA256":
        return False
    if (passport.account, passport.consumer_key, passport.token) != (
        creds.account, creds.consumer_key, creds.token_id
    ):
        return False
    base = passport_base_string(passport.account, passport.consumer_key, passport.token, passport.nonce,
                                passport.timestamp)
    return verify_hmac_sha256(passport_key(creds.consumer_secret, creds.token_secret), base, passport.signature)


def oauth1_auth(creds: Credentials):  # -> requests_oauthlib.OAuth1
    """requests auth object for the REST API: OAuth 1.0a HMAC-SHA256, realm = account id."""
    from requests_oauthlib import OAuth1

    return OAuth1(
        client_key=creds.consumer_key,
        client_secret=creds.consumer_secret,
        resource_owner_key=creds.token_id,
        resource_owner_secret=creds.token_secret,
        signature_method="HMAC-SHA256",
        realm=creds.account,
    )


def verify_oauth1(creds: Credentials, method: str, url: str, authorization: str) -> str | None:
    """Check an OAuth 1.0a Authorization header; returns None when valid, else the reason."""
    from oauthlib.oauth1.rfc5849 import signature as sig
    from oauthlib.oauth1.rfc5849 import utils

    if isinstance(authorization, bytes):
        authorization = authorization.decode("ascii", "replace")
    if not authorization or not authorization.startswith("OAuth "):
        return "missing OAuth Authorization header"
    params = dict(utils.parse_authorization_header(authorization))
    if params.get("realm") != creds.account:
        return "realm is not the account id"
    if params.get("oauth_signature_method") != "HMAC-SHA256":
        return "signature method must be HMAC-SHA256"
    if params.get("oauth_consumer_key") != creds.consumer_key or params.get("oauth_token") != creds.token_id:
        return "unknown consumer key or token"
    query = url.split("?", 1)[1] if "?" in url else ""
    collected = sig.collect_parameters(uri_query=query, headers={"Authorization": authorization},
                                       exclude_oauth_signature=True, with_realm=False)
    normalized = sig.normalize_parameters(collected)
    base = sig.signature_base_string(method.upper(), sig.base_string_uri(url), normalized)
    key = f"{utils.escape(creds.consumer_secret)}&{utils.escape(creds.token_secret)}".encode()
    if not verify_hmac_sha256(key, base.encode(), utils.unescape(params.get("oauth_signature", ""))):
        return "OAuth signature does not verify"
    return None
