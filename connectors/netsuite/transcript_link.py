"""The `transcript_url` stamped on a bill: a link an auditor can open, never a path on the server's disk.

Chosen in this order (docs/netsuite.md, "Setting up an account"):

1. `VGOS_TRANSCRIPT_BASE_URL` set: that public base + the transcript's path relative to the artifact root
   (`transcripts/<tenant>/<window>/<output_digest>`), e.g. an HTTPS site or CDN that serves VGOS_ARTIFACTS.
2. The transcript is on S3 (`VGOS_ARTIFACTS=s3://...`): a presigned GET URL of its `index.json`, valid for
   `VGOS_TRANSCRIPT_URL_TTL_S` (default and maximum 7 days, SigV4's limit). The signing time is pinned to 00:00 UTC
   of the day, so every sync and verify of one day produces the same URL (no rewrite, no drift); a sync on a later
   day refreshes it.
3. A local endpoint (`NETSUITE_BASE_URL` set: the sandbox, the demo): a `file://` URL of the transcript folder,
   openable on the demo machine only.
4. Otherwise a configuration error (exit 2): a real account never gets a server path.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from vgos.errors import InputError

from .config import NetSuiteConfig

BASE_URL_ENV = "VGOS_TRANSCRIPT_BASE_URL"
TTL_ENV = "VGOS_TRANSCRIPT_URL_TTL_S"
MAX_TTL_S = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
MIN_TTL_S = 2 * 24 * 3600  # the signing time is pinned to the day: a link must outlive the day it was made
INDEX = "index.json"


def transcript_relpath(transcript_url: str) -> str:
    """`transcripts/<tenant>/<window>/<digest>` of a transcript location (publish_transcript's layout)."""
    parts = [p for p in transcript_url.replace("\\", "/").rstrip("/").split("/") if p]
    if len(parts) < 4 or parts[-4] != "transcripts":
        raise InputError(f"{transcript_url}: not a VGOS transcript location (expected .../transcripts/<tenant>/"
                         "<window>/<output_digest>)")
    return "/".join(parts[-4:])


def _ttl(env: dict[str, str]) -> int:
    raw = env.get(TTL_ENV)
    if not raw:
        return MAX_TTL_S
    try:
        ttl = int(raw)
    except ValueError:
        raise InputError(f"{TTL_ENV} must be an integer number of seconds, got {raw!r}") from None
    if not MIN_TTL_S <= ttl <= MAX_TTL_S:
        raise InputError(f"{TTL_ENV} must be in {MIN_TTL_S}..{MAX_TTL_S} (2 to 7 days), got {ttl}")
    return ttl


def _base_url(env: dict[str, str]) -> str | None:
    base = (env.get(BASE_URL_ENV) or "").strip()
    if not base:
        return None
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InputError(f"{BASE_URL_ENV} must be an http(s) URL without query, like https://audit.example.com/"
                         f"vgos, got {base!r}")
    return base.rstrip("/")


def transcript_link(transcript_url: str, config: NetSuiteConfig | None = None, *,
                    env: dict[str, str] | None = None, now: dt.datetime | None = None) -> str:
    """The URL to stamp for a transcript location (local folder or s3://); raises InputError when none fits."""
    env = dict(os.environ) if env is None else env
    base = _base_url(env)
    ttl = _ttl(env)
    if base is not None:
        return f"{base}/{quote(transcript_relpath(transcript_url), safe='/')}/"
    if transcript_url.startswith("s3://"):
        bucket, _, prefix = transcript_url[len("s3://"):].partition("/")
        key = f"{prefix.strip('/')}/{INDEX}" if prefix.strip("/") else INDEX
        return presigned_get(bucket, key, ttl, now=now)
    if config is not None and config.base_url:
        return Path(transcript_url).absolute().as_uri()  # demo/sandbox only: a file:// link on this machine
    raise InputError(f"transcript_url: the transcript {transcript_url} is on this server's disk, which no auditor "
                     f"can open; set {BASE_URL_ENV} to the public URL that serves VGOS_ARTIFACTS, or keep "
                     "transcripts on S3 (VGOS_ARTIFACTS=s3://bucket/prefix) for presigned links")


# query parameters that make a URL a presigned S3 link (SigV4; SigV2 for links made by older tools)
_PRESIGNED_V4 = {"X-Amz-Signature"}
_PRESIGNED_V2 = {"AWSAccessKeyId", "Signature", "Expires"}


def link_identity(url: str | None) -> str | None:
    """What a transcript link points at: a presigned S3 link without its query string, any other link as it is.

    A presigned link's query (signature, signing date, credential, expiry) changes every day for the same object,
    so `verify` compares links by this identity: a next-day verify does not report drift because the signature
    changed, while a link to another transcript (another path) still does.
    """
    if not url:
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    keys = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if _PRESIGNED_V4 <= keys or _PRESIGNED_V2 <= keys:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return url


def check_link_config(config: NetSuiteConfig, *, env: dict[str, str] | None = None) -> str:
    """How bills will link transcripts ('base URL', 'presigned S3', 'file:// (demo)'); InputError when none fits."""
    env = dict(os.environ) if env is None else env
    if _base_url(env) is not None:
        _ttl(env)
        return f"public base URL {env[BASE_URL_ENV].strip()}"
    ttl = _ttl(env)
    from vgos import config as vgos_config

    root = vgos_config.artifacts_root()
    if root.startswith("s3://"):
        return f"presigned S3 URLs ({ttl // 3600} h) of transcripts under {root}"
    if config.base_url:
        return "file:// links (local endpoint: demo only)"
    transcript_link(str(Path(root) / "transcripts" / "t" / "w" / "d"), config, env=env)  # raises the config error
    return ""  # pragma: no cover - transcript_link raised


def presigned_get(bucket: str, key: str, ttl_s: int, *, now: dt.datetime | None = None) -> str:
    """SigV4 presigned GET URL of s3://bucket/key, signed as of 00:00 UTC today so one day gives one URL."""
    import boto3
    from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    now = now or dt.datetime.now(dt.UTC)
    signed_at = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)

    class _PinnedQueryAuth(S3SigV4QueryAuth):
        def add_auth(self, request: AWSRequest) -> None:
            request.context["timestamp"] = signed_at.strftime(SIGV4_TIMESTAMP)
            self._modify_request_before_signing(request)
            canonical = self.canonical_request(request)
            self._inject_signature_to_request(request, self.signature(self.string_to_sign(request, canonical),
                                                                      request))

    session = boto3.session.Session()
    try:
        client = session.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    except ValueError as exc:
        raise InputError(f"s3://{bucket}/{key}: cannot open S3 to presign the transcript link: {exc}") from None
    credentials = session.get_credentials()
    if credentials is None:
        raise InputError(f"s3://{bucket}/{key}: no AWS credentials to presign the transcript link (set "
                         f"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile, or set {BASE_URL_ENV})")
    # botocore builds the object's URL (addressing style, region endpoint); only the signature is redone
    unsigned = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl_s)
    request = AWSRequest(method="GET", url=unsigned.split("?", 1)[0])
    region = client.meta.region_name or "us-east-1"
    _PinnedQueryAuth(credentials.get_frozen_credentials(), "s3", region, expires=ttl_s).add_auth(request)
    return request.prepare().url
