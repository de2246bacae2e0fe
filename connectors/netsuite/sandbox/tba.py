"""Token-based authentication checks of the sandbox, written from Oracle's documented recipe.

Deliberately independent of connectors/netsuite/auth.py and of oauthlib: the sandbox must disagree with
the client when the client signs the wrong string, so it recomputes every signature with its own code.

SOAP TokenPassport: base = account&consumerKey&tokenId&nonce&timestamp, key = consumerSecret&tokenSecret.
REST OAuth 1.0a:    base = METHOD&enc(base URI)&enc(sorted enc(k)=enc(v) params joined by &),
                    key  = enc(consumerSecret)&enc(tokenSecret); HMAC-SHA256, base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEADER_PARAM = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*"([^"]*)"\s*(?:,|$)')


class AuthRejected(Exception):
    """A request whose credentials, signature, timestamp or nonce do not pass; the message says which."""


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as OAuth 1.0a requires: unreserved bytes kept, the rest %XX (upper case)."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in value.encode("utf-8"))


def hmac_sha256_b64(key: str, message: str) -> str:
    """Base64 of HMAC-SHA256(key, message), both UTF-8."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()).decode()


def same_signature(expected_b64: str, given_b64: str) -> bool:
    """Constant-time comparison of two base64 signatures."""
    return hmac.compare_digest(expected_b64.encode("ascii", "replace"), given_b64.encode("ascii", "replace"))


def passport_signature(account: str, consumer_key: str, token_id: str, nonce: str, timestamp: str,
                       consumer_secret: str, token_secret: str) -> str:
    """The TokenPassport signature NetSuite expects (base string and key joined by '&', HMAC-SHA256)."""
    base = "&".join([account, consumer_key, token_id, nonce, timestamp])
    return hmac_sha256_b64(f"{consumer_secret}&{token_secret}", base)


def parse_oauth_header(header: str) -> dict[str, str]:
    """Parameters of an `Authorization: OAuth k="v", ...` header, percent-decoded."""
    if not header.startswith("OAuth "):
        raise AuthRejected("missing OAuth Authorization header")
    rest, out = header[len("OAuth "):], {}
    pos = 0
    while pos < len(rest):
        m = _HEADER_PARAM.match(rest, pos)
        if not m:
            raise AuthRejected("malformed OAuth Authorization header")
        out[m.group(1)] = unquote(m.group(2))
        pos = m.end()
    return out


def base_string_uri(url: str) -> str:
    """scheme://host[:port]/path, lower-case scheme and host, default ports dropped, no query or fragment."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def query_params(url: str) -> list[tuple[str, str]]:
    """Decoded name/value pairs of the URL's query, blanks and repeats kept ('+' is a space)."""
    query = urlsplit(url).query
    pairs = []
    for piece in query.split("&") if query else []:
        name, _, value = piece.partition("=")
        pairs.append((unquote(name.replace("+", " ")), unquote(value.replace("+", " "))))
    return pairs


def oauth_signature(method: str, url: str, oauth_params: dict[str, str], consumer_secret: str,
                    token_secret: str) -> str:
    """The OAuth 1.0a HMAC-SHA256 signature of a request (realm and oauth_signature excluded)."""
    params = [(k, v) for k, v in oauth_params.items() if k not in ("realm", "oauth_signature")]
    params += query_params(url)
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    base = "&".join([method.upper(), percent_encode(base_string_uri(url)), percent_encode(normalized)])
    return hmac_sha256_b64(f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}", base)


class NonceLedger:
    """Freshness and replay: a timestamp within max_skew_s of the sandbox clock, each nonce used once."""

    def __init__(self, clock: Callable[[], float], max_skew_s: int = 300) -> None:
        self.clock, self.max_skew_s = clock, max_skew_s
        self._seen: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def check(self, consumer_key: str, token: str, nonce: str, timestamp: str) -> None:
        """Raise AuthRejected for a stale, future or non-numeric timestamp or a nonce seen before."""
        if not nonce:
            raise AuthRejected("nonce is missing")
        try:
            ts = int(timestamp)
        except ValueError as exc:
            raise AuthRejected(f"timestamp {timestamp!r} is not an integer") from exc
        now = int(self.clock())
        if abs(now - ts) > self.max_skew_s:
            raise AuthRejected(f"timestamp {ts} is more than {self.max_skew_s} s from the server time {now}")
        key = (consumer_key, token, nonce)
        with self._lock:
            if key in self._seen:
                raise AuthRejected("nonce already used")
            self._seen[key] = ts
            if len(self._seen) > 50_000:  # forget nonces whose timestamps can no longer be accepted
                self._seen = {k: t for k, t in self._seen.items() if abs(now - t) <= self.max_skew_s}


class TbaVerifier:
    """The credentials one sandbox account accepts, with its own nonce ledger."""

    def __init__(self, account: str, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str,
                 *, clock: Callable[[], float], max_skew_s: int = 300) -> None:
        self.account, self.consumer_key, self.consumer_secret = account, consumer_key, consumer_secret
        self.token_id, self.token_secret = token_id, token_secret
        self.nonces = NonceLedger(clock, max_skew_s)

    def check_passport(self, *, account: str, consumer_key: str, token: str, nonce: str, timestamp: str,
                       signature: str, algorithm: str) -> None:
        """Verify one SOAP TokenPassport; raises AuthRejected with the reason."""
        if algorithm != "HMAC-SHA256":
            raise AuthRejected(f"signature algorithm must be HMAC-SHA256, got {algorithm!r}")
        if (account, consumer_key, token) != (self.account, self.consumer_key, self.token_id):
            raise AuthRejected("unknown account, consumer key or token")
        expected = passport_signature(account, consumer_key, token, nonce, timestamp, self.consumer_secret,
                                      self.token_secret)
        if not same_signature(expected, signature):
            raise AuthRejected("TokenPassport signature does not verify")
        self.nonces.check(consumer_key, token, nonce, timestamp)

    def check_oauth(self, method: str, url: str, authorization: str) -> None:
        """Verify one REST request's OAuth 1.0a header; raises AuthRejected with the reason."""
        params = parse_oauth_header(authorization or "")
        if params.get("realm") != self.account:
            raise AuthRejected("realm is not the account id")
        if params.get("oauth_signature_method") != "HMAC-SHA256":
            raise AuthRejected("signature method must be HMAC-SHA256")
        if params.get("oauth_version", "1.0") != "1.0":
            raise AuthRejected("oauth_version must be 1.0")
        if params.get("oauth_consumer_key") != self.consumer_key or params.get("oauth_token") != self.token_id:
            raise AuthRejected("unknown consumer key or token")
        expected = oauth_signature(method, url, params, self.consumer_secret, self.token_secret)
        if not same_signature(expected, params.get("oauth_signature", "")):
            raise AuthRejected("OAuth signature does not verify")
        self.nonces.check(params["oauth_consumer_key"], params["oauth_token"], params.get("oauth_nonce", ""),
                          params.get("oauth_timestamp", ""))
