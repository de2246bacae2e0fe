"""The settlement chain of a window: raw_events → normalized_log → allocations → transcript (one kernel call each)."""


import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from vgos.dropzone import snapshot_window
from vgos.fold import FoldResult, Intake, fold_intake, intake_files
from vgos.report import markdown_allocations
from vgos.storage import BlobStore, LocalBlobStore
from vgos_assets.partitions import window_partitions
from vgos_assets.quality import GROUPS, SuiteOutcome
from vgos_assets.resources import (
    ArtifactStoreResource,
    DropZoneResource,
    IntakeQualityResource,
    VgosSettingsResource,
)

GROUP = "settlement"


@contextlib.contextmanager
def local_copies(store: BlobStore, files: list[dict]) -> Iterator[list[Path]]:
    """Local paths of stored raw files (the files themselves for a folder, downloads for S3)."""
    if isinstance(store, LocalBlobStore):
        yield [Path(store.url(f["artifact_key"])) for f in files]
        return
    with tempfile.TemporaryDirectory(prefix="vgos-raw-") as d:
        paths = []
        for i, f in enumerate(files):
            p = Path(d) / str(i) / f["name"]
            p.parent.mkdir()
            p.write_bytes(store.get(f["artifact_key"]))
            paths.append(p)
        yield paths


@asset(partitions_def=window_partitions, group_name=GROUP)
def raw_events(
    context: AssetExecutionContext, drop_zone: DropZoneResource, artifacts: ArtifactStoreResource
) -> Output[dict]:
    """The window's event files from `<drop zone>/events/<window_id>/`, frozen by sha256 into the artifacts."""
    window_id = context.partition_key
    zone = drop_zone.store()
    dropped = snapshot_window(zone, artifacts.store(), window_id)
    if not dropped:
        raise Failure(f"no event files for window {window_id} under {zone.url('events/' + window_id)}/")
    files = [{"key": d.key, "name": d.name, "sha256": d.sha256, "size": d.size,
              "artifact_key": f"raw/{d.sha256}/{d.name}"} for d in dropped]
    md = "\n".join(["| file | sha256 | bytes |", "|---|---|---:|"]
                   + [f"| {f['key']} | `{f['sha256']}` | {f['size']} |" for f in files])
    return Output({"window_id": window_id, "files": files},
                  metadata={"files": len(files), "bytes": sum(f["size"] for f in files),
                            "drop_zone": zone.url(f"events/{window_id}"), "files_table": MetadataValue.md(md),
                            "files_sha256": MetadataValue.json({f["key"]: f["sha256"] for f in files})})


@asset(partitions_def=window_partitions, group_name=GROUP,
       check_specs=[AssetCheckSpec("raw_intake_quality", asset="normalized_log",
                                   partitions_def=window_partitions, blocking=True,
                                   description="Great Expectations suite on every record read, before cleaning: "
                                               "schema-invalid, duplicate and late shares within the thresholds "
                                               "(VGOS_QUALITY_*), and at least one kept record"),
                    AssetCheckSpec("normalized_log_expectations", asset="normalized_log",
                                   partitions_def=window_partitions, blocking=True,
                                   description="Great Expectations suite on the kept rows: types, non-null, integer "
                                               "amounts, unique event_id, timestamps inside the window")])
def normalized_log(
    context: AssetExecutionContext, raw_events: dict, artifacts: ArtifactStoreResource,
    settings: VgosSettingsResource, quality: IntakeQualityResource,
):
    """Kept canonical events in fold order, and every reject with its reason (SPEC §1–3).

    Event ids kept by the current seal of another window of the tenant come from the store's idempotency index
    and are rejected DUPLICATE_PRIOR_WINDOW; the matches travel with the log into the transcript.
    """
    from vgos.store.idempotency import prior_lookup
    from vgos_assets.quality import validate_normalized_log, validate_raw_intake

    thresholds = quality.thresholds()  # invalid thresholds fail before any work
    files = raw_events["files"]
    lookup = prior_lookup(settings.tenant_id, context.partition_key, settings.db_url())
    with local_copies(artifacts.store(), files) as paths:
        intake = intake_files(paths, context.partition_key, settings.policy(),
                              sources=[f["key"] for f in files], progress=context.log.debug, prior=lookup)
    by_reason: dict[str, int] = {}
    for r in intake.rejects:
        by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
    yield Output(intake, metadata={
        "events_kept": intake.kept.height, "events_rejected": len(intake.rejects),
        "rejects_by_reason": MetadataValue.json(dict(sorted(by_reason.items()))),
        "prior_window_matches": len(intake.prior),
        "rejected_events": MetadataValue.md(rejects_markdown(intake.rejects)),
        "window": MetadataValue.json({"open_cutoff_exclusive": str(intake.window.open_cutoff_ts),
                                      "cutoff_inclusive": str(intake.window.cutoff_ts)}),
    })
    raw = validate_raw_intake(intake, thresholds)
    yield AssetCheckResult(check_name="raw_intake_quality", passed=raw.success, severity=AssetCheckSeverity.ERROR,
                           description=raw_summary(raw), metadata=check_metadata(raw))
    outcome = validate_normalized_log(intake)
    yield AssetCheckResult(check_name="normalized_log_expectations", passed=outcome.success,
                           severity=AssetCheckSeverity.ERROR, metadata=check_metadata(outcome))


REJECTS_SHOWN = 200


def rejects_markdown(rejects: list) -> str:
    """The rejected records an operator looks for in the UI: id, reason, field and file:line (no values: no PII)."""
    if not rejects:
        return "no record was rejected"
    esc = str.maketrans({"|": "\\|", "\n": " ", "\r": " ", "`": "'"})

    def cell(v: object) -> str:
        return "" if v is None else str(v).translate(esc)

    lines = ["| event_id | reason | field | source |", "|---|---|---|---|"]
    lines += [f"| {cell(r.event_id)} | {cell(r.reason)} | {cell(r.field)} | {cell(r.source)} |"
              for r in rejects[:REJECTS_SHOWN]]
    if len(rejects) > REJECTS_SHOWN:
        lines.append(f"\n{len(rejects) - REJECTS_SHOWN:,} more: every reject is in the transcript's `rejects` segment "
                     "and in `vgos report WINDOW_ID`")
    return "\n".join(lines)


def transcript_link(url: str) -> str:
    """A link an operator can open: the public base when configured, a presigned URL on S3, else a file:// URL."""
    from connectors.netsuite.transcript_link import transcript_link as public_link

    try:
        return public_link(url)
    except Exception:  # noqa: BLE001 - a link is a convenience: the seal never fails for it
        return url if "://" in url else Path(url).absolute().as_uri()


def check_metadata(outcome: SuiteOutcome) -> dict[str, object]:
    """The figures a suite compared, flat (so the UI shows them as numbers), then its count and failures."""
    return {**outcome.figures, "expectations": outcome.evaluated, "failures": MetadataValue.json(outcome.failures)}


def raw_summary(outcome: SuiteOutcome) -> str:
    """One line an operator reads in the check's row: each share against its threshold."""
    f = outcome.figures
    parts = [f"{g} {f[g + '_share_ppm']} ppm (max {f[g + '_threshold_ppm']})" for g in GROUPS]
    return f"{f['kept_records']} of {f['records']} records kept (min {f['min_kept_records']}); " + ", ".join(parts)


def row_sums(result: FoldResult) -> dict[str, int]:
    """Each sealed total recomputed from the allocation rows."""
    a = result.allocations
    return {"net_minor": sum(x.net_minor for x in a), "bonus_floor_minor": sum(x.bonus_floor_minor for x in a),
            "carry_minor": sum(x.carry_minor for x in a), "payout_minor": sum(x.payout_minor for x in a),
            "remainder_micro_total": sum(x.remainder_micro for x in a), "principals": len(a),
            "events_kept": sum(x.events for x in a)}


def conservation_problems(result: FoldResult) -> list[str]:
    """Totals must equal the sums of the allocation rows, and every payout its parts."""
    t, a = result.totals, result.allocations
    problems = [f"totals.{name} = {t[name]} but rows sum to {got}" for name, got in row_sums(result).items()
                if t[name] != got]
    problems += [f"{x.principal_id}: payout != net + bonus + carry" for x in a
                 if x.payout_minor != x.net_minor + x.bonus_floor_minor + x.carry_minor]
    return problems


def conservation_figures(result: FoldResult) -> dict[str, int]:
    """The pairs the conservation check compares: `sealed_<x>` as sealed and `rows_<x>` summed from the rows."""
    figures: dict[str, int] = {}
    for name, got in row_sums(result).items():
        figures[f"sealed_{name}"] = result.totals[name]
        figures[f"rows_{name}"] = got
    figures["rows_payout_not_parts"] = sum(
        1 for x in result.allocations if x.payout_minor != x.net_minor + x.bonus_floor_minor + x.carry_minor)
    return figures


@asset(partitions_def=window_partitions, group_name=GROUP,
       check_specs=[AssetCheckSpec("allocations_conservation", asset="allocations",
                                   partitions_def=window_partitions, blocking=True,
                                   description="totals equal the sums of the rows")])
def allocations(context: AssetExecutionContext, normalized_log: Intake, settings: VgosSettingsResource):
    """The fold: per-principal net, bonus floor, carry and payout, sealed (SPEC §4–5)."""
    result = fold_intake(normalized_log, settings.tenant_id, progress=context.log.debug)
    t = result.totals
    yield Output(result, metadata={
        "principals": t["principals"], "events_kept": t["events_kept"], "events_rejected": t["events_rejected"],
        "net_minor": t["net_minor"], "bonus_floor_minor": t["bonus_floor_minor"], "carry_minor": t["carry_minor"],
        "payout_minor": t["payout_minor"], "output_digest": result.output_digest,
        "largest_allocations": MetadataValue.md(markdown_allocations(result)),
    })
    problems = conservation_problems(result)
    yield AssetCheckResult(check_name="allocations_conservation", passed=not problems,
                           metadata={**conservation_figures(result), "problems": MetadataValue.json(problems)})


@asset(partitions_def=window_partitions, group_name=GROUP,
       check_specs=[AssetCheckSpec("transcript_replay", asset="transcript",
                                   partitions_def=window_partitions, blocking=True,
                                   description="replay from the stored transcript reproduces the sealed digest")])
def transcript(
    context: AssetExecutionContext, normalized_log: Intake, allocations: FoldResult,
    artifacts: ArtifactStoreResource, settings: VgosSettingsResource,
):
    """The seal, its output_digest and the signed transcript (write-once; a new digest never replaces an old one)."""
    from vgos.replay import replay_transcript
    from vgos.transcript import current_transcript, publish_transcript

    window_id = context.partition_key
    db_url = settings.db_url()
    previous = current_transcript(window_id, settings.tenant_id, db_url)
    ref = publish_transcript(allocations, artifacts_root=artifacts.resolved_root(), db_url=db_url)
    resealed = previous is not None and previous.output_digest != ref.output_digest
    meta = {"output_digest": ref.output_digest, "transcript_url": ref.url,
            "transcript_link": MetadataValue.url(transcript_link(ref.url)), "transcript_root": ref.transcript_root,
            "signing_key_id": ref.key_id, "payout_minor": allocations.totals["payout_minor"],
            "resealed": resealed}
    if resealed:
        meta["previous_output_digest"] = previous.output_digest
        meta["previous_transcript_url"] = previous.url
        note = (f"window {window_id} was already sealed as {previous.output_digest}; new files gave "
                f"{ref.output_digest}. The old transcript stays at {previous.url}.")
        meta["reseal_note"] = note
        context.log.warning(note)
        context.instance.add_run_tags(context.run.run_id, {"vgos/resealed": "true",
                                                           "vgos/previous_output_digest": previous.output_digest})
    yield Output({"window_id": window_id, "tenant_id": settings.tenant_id, "output_digest": ref.output_digest,
                  "transcript_url": ref.url, "transcript_root": ref.transcript_root}, metadata=meta)
    replay = replay_transcript(ref.url)
    passed = replay.ok and replay.replay_digest == allocations.output_digest
    yield AssetCheckResult(
        check_name="transcript_replay", passed=passed,
        metadata={"expected_digest": allocations.output_digest, "sealed_digest": replay.sealed_digest,
                  "replay_digest": replay.replay_digest, "digests_equal": passed,
                  "transcript_root": ref.transcript_root, "payout_minor": allocations.totals["payout_minor"],
                  "reason": replay.reason or "", "diff": MetadataValue.json(replay.diff[:50])})
