"""Dagster resources: drop zone, artifact storage, the OLTP store and the policy, all from the environment."""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from vgos import config
from vgos.policy import Policy, load_policy
from vgos.storage import BlobStore, LocalBlobStore, S3BlobStore


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
