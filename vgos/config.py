"""Environment-driven locations of the embedded state (ARCHITECTURE.md, configuration contract)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from vgos.errors import InputError

TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
WINDOW_ID_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ConfigError(Exception):
    """Unusable configuration; the CLI maps it to exit code 2."""


def validate_tenant(text: object) -> str:
    """A tenant id: 1..64 of A-Z a-z 0-9 . _ -, starting with a letter or digit (safe in paths and keys).

    Raises InputError (exit 2) naming the value otherwise; every command taking `--tenant` calls this.
    """
    if not isinstance(text, str) or not TENANT_RE.fullmatch(text):
        raise InputError(f"tenant {text!r}: expected 1..64 characters of A-Z a-z 0-9 . _ - starting with a letter "
                         "or digit")
    return text


def validate_window_id(text: object) -> str:
    """A window id: the close date as a real calendar date YYYY-MM-DD (ASCII digits). Raises InputError."""
    if not isinstance(text, str) or not WINDOW_ID_RE.fullmatch(text):
        raise InputError(f"window_id {text!r}: expected a close date YYYY-MM-DD")
    try:
        dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"window_id {text!r}: not a calendar date ({exc})") from None
    return text


def vgos_home() -> Path:
    """Root of the embedded state: `VGOS_HOME`, else `.vgos/` in the working directory."""
    return Path(os.environ.get("VGOS_HOME") or ".vgos").absolute()


def database_url() -> str:
    """SQLAlchemy URL of the OLTP store: `VGOS_DATABASE_URL`, else a SQLite file under VGOS_HOME."""
    url = os.environ.get("VGOS_DATABASE_URL")
    if url:
        return url
    home = vgos_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'vgos.db'}"


def artifacts_root() -> str:
    """Artifact root, a folder or `s3://bucket/prefix`: `VGOS_ARTIFACTS`, else VGOS_HOME/artifacts."""
    return os.environ.get("VGOS_ARTIFACTS") or str(vgos_home() / "artifacts")


def drop_zone_root() -> str:
    """Drop zone root, a folder or `s3://bucket/prefix`: `VGOS_DROP_ZONE`, else VGOS_HOME/drop."""
    return os.environ.get("VGOS_DROP_ZONE") or str(vgos_home() / "drop")


def signing_key_path() -> Path:
    """Ed25519 key file: `VGOS_SIGNING_KEY`, else VGOS_HOME/keys/ed25519.pem."""
    p = os.environ.get("VGOS_SIGNING_KEY")
    return Path(p).absolute() if p else vgos_home() / "keys" / "ed25519.pem"


def kms_key_id() -> str | None:
    """AWS KMS key id or ARN when signing goes through KMS (`VGOS_KMS_KEY_ID`)."""
    return os.environ.get("VGOS_KMS_KEY_ID") or None


def protected_paths() -> list[tuple[str, Path]]:
    """Local paths an output folder must never contain: the embedded state, the stores, the key, the database."""
    out: list[tuple[str, Path]] = [("VGOS_HOME", vgos_home())]
    for what, root in (("the artifact root", artifacts_root()), ("the drop zone", drop_zone_root())):
        if "://" not in root:
            out.append((what, Path(root).absolute()))
    if not kms_key_id():
        out.append(("the signing key", signing_key_path()))
    url = os.environ.get("VGOS_DATABASE_URL") or ""
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        out.append(("the database", Path(url[len("sqlite:///"):].split("?", 1)[0]).absolute()))
    for what, var in (("the trust file", "VGOS_TRUSTED_KEYS"), ("the issuer registry", "VGOS_ISSUERS"),
                      ("the policy", "VGOS_POLICY"), ("the recon issuer key", "VGOS_RECON_ISSUER_KEY"),
                      ("the vendor map", "VGOS_NETSUITE_VENDOR_MAP")):
        if os.environ.get(var) and "://" not in os.environ[var]:
            out.append((what, Path(os.environ[var]).absolute()))
    return out
