"""Dagster resources: drop zone, artifact storage, the OLTP store and the policy, all from the environment."""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from vgos import config
from vgos.policy import Policy, load_policy
from vgos.storage import BlobStore, LocalBlobStore, S3BlobStore
from vgos_assets.quality import IntakeThresholds


def _open(root: str) -> BlobStore:
    if root.startswith("s3://"):
        from dagster_aws.s3 import S3Resource

        client = S3Resource(endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None).get_client()
        return S3BlobStore(root, client=client)
    return LocalBlobStore(os.path.abspath(root))


class DropZoneResource(ConfigurableResource):
    """Where event files, proofs and provider reports arrive: a folder or `s3://bucket/prefix` (`VGOS_DROP_ZONE`)."""

    root: str = ""

    def resolved_root(self) -> str:
        """The configured root, else `VGOS_DROP_ZONE`, else VGOS_HOME/drop."""
        return self.root or config.drop_zone_root()

    def store(self) -> BlobStore:
        """The drop zone as a blob store."""
        return _open(self.resolved_root())


class ArtifactStoreResource(ConfigurableResource):
    """Where artifacts and transcripts are written: a folder or `s3://bucket/prefix` (`VGOS_ARTIFACTS`)."""

    root: str = ""

    def resolved_root(self) -> str:
        """The configured root, else `VGOS_ARTIFACTS`, else VGOS_HOME/artifacts."""
        return self.root or config.artifacts_root()

    def store(self) -> BlobStore:
        """The artifact root as a blob store."""
        return _open(self.resolved_root())


class VgosSettingsResource(ConfigurableResource):
    """Tenant, policy file and OLTP database shared by every asset."""

    tenant_id: str = "default"
    policy_path: str = ""
    database_url: str = ""

    def policy(self) -> Policy:
        """The policy manifest (`policy_path`, else `VGOS_POLICY`, else the seed defaults)."""
        return load_policy(self.policy_path or os.environ.get("VGOS_POLICY") or None)

    def db_url(self) -> str:
        """The OLTP store URL (`database_url`, else `VGOS_DATABASE_URL`, else SQLite under VGOS_HOME)."""
        return self.database_url or config.database_url()


QUALITY_VARS = {"max_schema_invalid_ppm": "VGOS_QUALITY_MAX_SCHEMA_INVALID_PPM",
                "max_duplicate_ppm": "VGOS_QUALITY_MAX_DUPLICATE_PPM",
                "max_late_ppm": "VGOS_QUALITY_MAX_LATE_PPM",
                "min_kept_records": "VGOS_QUALITY_MIN_KEPT_RECORDS"}


class IntakeQualityResource(ConfigurableResource):
    """Raw-intake thresholds of the GX check, kept out of the policy manifest so they never change a digest."""

    max_schema_invalid_ppm: int | None = None
    max_duplicate_ppm: int | None = None
    max_late_ppm: int | None = None
    min_kept_records: int | None = None

    def thresholds(self) -> IntakeThresholds:
        """Each value from config, else its VGOS_QUALITY_* variable, else the default; one line when invalid."""
        from dagster import Failure

        values: dict[str, int] = {}
        for name, var in QUALITY_VARS.items():
            given = getattr(self, name)
            raw: object = given if given is not None else os.environ.get(var) or None
            if raw is None:
                continue
            hi = 1_000_000 if name.endswith("_ppm") else 2**53 - 1
            try:
                value = int(str(raw).strip())
            except ValueError:
                value = -1
            if not 0 <= value <= hi:
                raise Failure(f"{var if given is None else name}={raw!r}: expected an integer 0..{hi}")
            values[name] = value
        return IntakeThresholds(**values)
