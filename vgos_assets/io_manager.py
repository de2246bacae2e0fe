"""IO manager that stores asset values as files in the artifact store: Parquet, exact JSON bytes, never pickle."""

from __future__ import annotations

import os

import orjson
from dagster import ConfigurableIOManager, InputContext, OutputContext

from vgos import config
from vgos.artifacts import dump_fold, dump_intake, load_fold, load_intake
from vgos.canonical import jcs_bytes
from vgos.fold import FoldResult, Intake
from vgos.storage import BlobStore

KINDS = {"intake": ("normalized.parquet", "rejects.jsonl", "intake.json"),
         "fold": ("seal.json", "output_digest", "allocations.csv"),
         "json": ("value.json",)}


class ArtifactIOManager(ConfigurableIOManager):
    """Latest value of each (asset, partition) under `dagster/<asset>/<partition>/` in the artifact root."""

    root: str = ""
    tenant_id: str = "default"

    def _store(self) -> BlobStore:
        from vgos_assets.resources import _open

        return _open(self.root or os.environ.get("VGOS_ARTIFACTS") or config.artifacts_root())

    @staticmethod
    def _prefix(context: OutputContext | InputContext) -> str:
        key = "/".join(context.asset_key.path)
        part = context.asset_partition_key if context.has_asset_partitions else "_"
        return f"dagster/{key}/{part}"

    def handle_output(self, context: OutputContext, obj: object) -> None:
        """Write the value's files (replacing the previous materialization of this partition)."""
        if obj is None:
            return
        if isinstance(obj, Intake):
            files, kind = dump_intake(obj), "intake"
        elif isinstance(obj, FoldResult):
            files, kind = dump_fold(obj), "fold"
        elif isinstance(obj, dict | list):
            files, kind = {"value.json": jcs_bytes(obj)}, "json"
        else:
            raise TypeError(f"ArtifactIOManager cannot store {type(obj).__name__} (never pickles)")
        store, prefix = self._store(), self._prefix(context)
        for name, data in files.items():
            store.put(f"{prefix}/{name}", data, write_once=False)
        store.put(f"{prefix}/kind", kind.encode(), write_once=False)
        context.add_output_metadata({"artifact_prefix": store.url(prefix)})

    def load_input(self, context: InputContext) -> object:
        """Read the value back; a fold result is rebuilt with its normalized log."""
        store, prefix = self._store(), self._prefix(context)
        kind = store.get(f"{prefix}/kind").decode()
        files = {name: store.get(f"{prefix}/{name}") for name in KINDS[kind]}
        if kind == "intake":
            return load_intake(files)
        if kind == "fold":
            part = context.asset_partition_key
            intake_files = {n: store.get(f"dagster/normalized_log/{part}/{n}") for n in KINDS["intake"]}
            return load_fold(files, load_intake(intake_files), self.tenant_id)
        return orjson.loads(files["value.json"])
