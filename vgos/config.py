"""Environment-driven locations of the embedded state (ARCHITECTURE.md, configuration contract)."""

from __future__ import annotations

import os
from pathlib import Path


class ConfigError(Exception):
    """Unusable configuration; the CLI maps it to exit code 2."""


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
