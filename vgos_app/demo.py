"""`vgos demo`: the seed window end to end on the embedded defaults, printing what each step did.

Embedded defaults: SQLite store and artifacts under VGOS_HOME, the Dagster instance under DAGSTER_HOME (the
project's dagster_home/ by default), and the local SuiteTalk-compatible NetSuite sandbox on loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import secrets
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import orjson

SEED_WINDOW = "2025-09-23"
DEMO_MAPS = ("VGOS_NETSUITE_VENDOR_MAP", "VGOS_GL_MAPPING")
NETSUITE_VARS = ("NETSUITE_ACCOUNT", "NETSUITE_CONSUMER_KEY", "NETSUITE_CONSUMER_SECRET", "NETSUITE_TOKEN_ID",
                 "NETSUITE_TOKEN_SECRET")


def seed_events_path() -> Path:
    """The shipped seed demo events (SPEC §6)."""
    return Path(str(resources.files("vgos") / "samples" / "seed_events.jsonl"))


def seed_ct_path() -> Path:
    """The shipped seed CT (compliance) table."""
    return Path(str(resources.files("vgos") / "samples" / "seed_ct.csv"))


def step(title: str) -> None:
    """Print a step header."""
    print(f"\n== {title}", flush=True)


DAGSTER_YAML = """storage:
  sqlite:
    base_dir: {env: DAGSTER_HOME}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
telemetry:
  enabled: false
"""


def _dagster_home() -> Path:
    """DAGSTER_HOME, else the project's dagster_home/ (when run from the checkout), else VGOS_HOME/dagster_home."""
    from vgos import config

    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"]).absolute()
    elif (Path.cwd() / "dagster_home" / "dagster.yaml").is_file():
        home = Path.cwd() / "dagster_home"
    else:
        home = config.vgos_home() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():  # the project's instance settings (SQLite, queued runs one at a time)
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@contextlib.contextmanager
def netsuite_sandbox() -> Iterator[str]:
    """The local NetSuite sandbox on loopback; credentials from NETSUITE_*, else ephemeral ones for this run."""
    from connectors.netsuite.config import Credentials
    from connectors.netsuite.pipeline import DEMO_VENDOR_MAP
    from connectors.netsuite.sandbox.server import SandboxConfig, start_sandbox
    from gl_mappings import DEMO_FILE

    saved = {k: os.environ.get(k) for k in (*NETSUITE_VARS, "NETSUITE_BASE_URL", "NETSUITE_TIMEZONE", *DEMO_MAPS)}
    os.environ.setdefault("NETSUITE_TIMEZONE", "America/Los_Angeles")  # the sandbox's zone, as in NetSuite
    if not all(os.environ.get(k) for k in NETSUITE_VARS):
        os.environ.update({"NETSUITE_ACCOUNT": "1234567_SB1", **{k: secrets.token_hex(16) for k in NETSUITE_VARS[1:]}})
    for var, path in zip(DEMO_MAPS, (DEMO_VENDOR_MAP, DEMO_FILE), strict=True):
        os.environ.setdefault(var, str(path))  # the demo's vendors and GL accounts, unless configured
    sandbox = start_sandbox(SandboxConfig(Credentials.from_env()))
    os.environ["NETSUITE_BASE_URL"] = sandbox.url
    try:
        yield sandbox.url
    finally:
        sandbox.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _defs():
    from vgos_assets.definitions import defs

    return defs


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_job(instance, job_name: str, partition_key: str, tags: dict[str, str] | None = None) -> object:
    """One run of a job for a window, in process (the embedded SQLite instance locks under parallel steps)."""
    job = _defs().resolve_job_def(job_name)
    result = job.execute_in_process(partition_key=partition_key, instance=instance, raise_on_error=False,
                                    run_config=QUIET, tags=tags or {})
    if not result.success:
        failures = [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        raise SystemExit(f"vgos demo: Dagster run {result.run_id} of {job_name} failed: {failures}")
    return result


def tick_sensor(instance, sensor_name: str, cursor: str | None = None) -> tuple[list, str | None, str | None]:
    """Evaluate a sensor once as the daemon would, then run what it requested; (results, cursor, skip message).

    Each run carries the sensor's name and the request's content-based run key as tags."""
    from dagster import build_sensor_context

    defs = _defs()
    sensor = defs.resolve_sensor_def(sensor_name)
    ctx = build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources),
                               sensor_name=sensor_name, definitions=defs)
    data = sensor.evaluate_tick(ctx)
    results = []
    for req in data.run_requests or []:
        tags = {**req.tags, "dagster/sensor_name": sensor_name, "dagster/run_key": req.run_key or ""}
        results.append(run_job(instance, req.job_name or sensor.job_name, req.partition_key, tags))
    return results, data.cursor, data.skip_message


def latest_metadata(instance, asset: str, window_id: str = SEED_WINDOW) -> dict:
    """The latest materialization's metadata values of a window's asset (KeyError when never materialized)."""
    from dagster import AssetKey, AssetRecordsFilter

    recs = instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[window_id]),
                                           limit=1, ascending=False).records
    if not recs:
        raise KeyError(asset)
    return {k: v.value for k, v in recs[0].asset_materialization.metadata.items()}


def window_status(instance, window_id: str = SEED_WINDOW) -> tuple[dict[str, str | None], dict[str, bool | None]]:
    """Every asset of the code location → its latest run id for the window (None: never), every asset check →
    whether its latest execution for the window passed (None: never ran)."""
    from dagster import AssetRecordsFilter
    from dagster._core.event_api import PartitionKeyFilter

    graph = _defs().resolve_asset_graph()
    assets: dict[str, str | None] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        recs = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[window_id]),
                                               limit=1, ascending=False).records
        assets[key.to_user_string()] = recs[0].run_id if recs else None
    keys = sorted(graph.asset_check_keys, key=lambda k: k.name)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        keys, partition_filter=PartitionKeyFilter(key=window_id))
    checks: dict[str, bool | None] = {}
    for k in keys:
        rec = latest.get(k)
        checks[k.name] = None if rec is None else rec.status.value == "SUCCEEDED"
    return assets, checks


def demo_bank_report(batch: dict, zone) -> str:
    """The debtor bank's camt.054 booking of a released pain.001 batch, dropped at `reports/camt054/` (the demo's
    stand-in for the bank's SFTP drop); returns its drop-zone key."""
    import dataclasses

    from connectors.psp.batch import Batch, BatchItem
    from connectors.psp.camt054 import camt054_for_batch
    from recon.service import read_debtor

    fields = {f.name for f in dataclasses.fields(Batch)} - {"items", "excluded", "content"}
    rendered = Batch(**{f: batch[f] for f in fields if f in batch},
                     items=tuple(BatchItem(**i) for i in batch["items"]))
    camt = camt054_for_batch(rendered, debtor_iban=read_debtor(None)["iban"], booked_on=rendered.execution_date,
                             created_at=f"{rendered.execution_date}T08:00:00Z")
    key = f"reports/camt054/{rendered.window_id}-{rendered.provider_batch_id}.xml"
    zone.put(key, camt, write_once=False)
    return key


def _runs(results: list, sensor: str, skip: str | None) -> str:
    if not results:
        return f"{sensor}: no run ({skip or 'nothing new'})"
    return f"{sensor} → " + ", ".join(f"run {r.run_id} ({r.job_def.name})" for r in results)


def _money(minor: int, currency: str = "USD") -> str:
    from vgos_app.render import money

    return money(minor, currency)


def _counts(counts: dict, empty: str = "none") -> str:
    """`{"A": 1, "B": 0}` → `A 1` (non-zero counts, sorted), for one line of terminal output."""
    parts = [f"{k} {v:,}" for k, v in sorted(counts.items()) if v]
    return ", ".join(parts) or empty


def _print_allocations(seal: dict) -> None:
    """The sealed allocations as one table, largest payout first, money as `3.80 USD`."""
    from vgos_app.render import print_table

    ccy = seal["window"]["currency"]
    rows = sorted(seal["allocations"], key=lambda a: (-a["payout_minor"], a["principal_id"]))
    print_table(["principal_id", "events", "net", "bonus floor", "carry", "payout"],
                [[a["principal_id"], a["events"], _money(a["net_minor"], ccy), _money(a["bonus_floor_minor"], ccy),
                  _money(a["carry_minor"], ccy), _money(a["payout_minor"], ccy)] for a in rows])


def _print_acceptance(window_id: str) -> None:
    """The acceptance matrix now, as `vgos acceptance show` prints it."""
    from vgos.acceptance import acceptance_matrix
    from vgos_app.render import print_table

    m = acceptance_matrix(window_id, as_of=dt.datetime.now(dt.UTC).replace(microsecond=0))
    print(f"acceptance of {m.output_digest[:16]}… as of {m.as_of}:")
    print_table(["kind", "subject", "required", "quorum", "fresh", "expires", "status"],
                [[r.kind, r.subject, "yes" if r.required else "no", r.quorum, r.fresh, r.expires or "—", r.status]
                 for r in m.rows])


def run_demo(args: argparse.Namespace) -> int:
    """Drive the window through Dagster as production does: drops, sensors, runs; each step prints its result."""
    from dagster import DagsterInstance

    from vgos import config, payouts
    from vgos.gate import latest_decisions
    from vgos.replay import verify_transcript
    from vgos.storage import open_store
    from vgos.transcript import current_seal
    from vgos_app.cli_acceptance import demo_proofs, print_decisions
    from vgos_app.cli_ledger import print_trial_balance
    from vgos_app.cli_payouts import print_items

    home = config.vgos_home()
    dagster_home = _dagster_home()
    zone = open_store(config.drop_zone_root())
    print(f"VGOS demo: window {SEED_WINDOW}; state in {home}; Dagster instance in {dagster_home}")
    with DagsterInstance.get() as instance:
        step("1. events dropped → event_drop_sensor → settlement_window: raw_events → normalized_log → "
             "allocations → transcript (sealed, signed) → acceptance_bundle → authorization")
        zone.put(f"events/{SEED_WINDOW}/seed_events.jsonl", seed_events_path().read_bytes(), write_once=False)
        runs, _, skip = tick_sensor(instance, "event_drop_sensor")
        print(_runs(runs, "event_drop_sensor", skip))
        norm, alloc = latest_metadata(instance, "normalized_log"), latest_metadata(instance, "allocations")
        tr = latest_metadata(instance, "transcript")
        print(f"kept {norm['events_kept']}, rejected {norm['events_rejected']} "
              f"({_counts(norm['rejects_by_reason'])})")
        seal = current_seal(SEED_WINDOW)
        ccy = seal["window"]["currency"]
        _print_allocations(seal)
        print(f"totals: net {_money(alloc['net_minor'], ccy)}, bonus {_money(alloc['bonus_floor_minor'], ccy)}, "
              f"carry {_money(alloc['carry_minor'], ccy)}, payout {_money(alloc['payout_minor'], ccy)}")
        digest, url = tr["output_digest"], tr["transcript_url"]
        print(f"output_digest {digest}\ntranscript    {url}")
        print(f"vgos verify: {verify_transcript(url).line()}")
        auth = latest_metadata(instance, "authorization")
        print(f"gate with the evidence on file so far: ALLOW {auth['allow']}, HOLD {auth['hold']}")

        step("2. evidence: finance ACK + compliance CT table dropped into <drop zone>/proofs/ → proof_drop_sensor → "
             "acceptance_window: acceptance_bundle → authorization")
        issued = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=60)
        for p in demo_proofs(SEED_WINDOW, "default", digest, issued=issued):
            zone.put(f"proofs/{SEED_WINDOW}-{p['kind']}-{p['subject_id']}-{digest[:12]}.json", orjson.dumps(p),
                     write_once=False)
        runs, _, skip = tick_sensor(instance, "proof_drop_sensor")
        print(_runs(runs, "proof_drop_sensor", skip))
        _print_acceptance(SEED_WINDOW)
        print_decisions(latest_decisions(SEED_WINDOW), ccy)

        step("3. release: disbursement_window: payout_items → payout_batch (pain.001, gate evaluated now) → "
             "netsuite_bills (stamped, read back) and gl_journal")
        with netsuite_sandbox() as ns_url:
            print(f"local NetSuite sandbox at {ns_url}")
            run = run_job(instance, "disbursement_window", SEED_WINDOW, {"vgos/trigger": "demo_release"})
            print(f"run {run.run_id} (disbursement_window)")
        batch_meta = latest_metadata(instance, "payout_batch")
        batch = run.output_for_node("payout_batch")
        if not batch_meta["new_batch"]:
            print(f"no new batch (the window was paid before): {batch_meta['refused']}")
        else:
            not_paid = ", ".join(f"{x['principal_id']} {x['reason']}" for x in batch_meta["not_paid"]) or "none"
            print(f"pain.001 {batch_meta['batch_url']}: {batch_meta['items']} transactions, CtrlSum "
                  f"{batch_meta['ctrl_sum']}, provider_batch_id {batch_meta['provider_batch_id']} (gate evaluated "
                  f"at release; not paid: {not_paid})")
        bills = latest_metadata(instance, "netsuite_bills")
        print(f"NetSuite vendor bills: created {bills['created']}, updated {bills['updated']}, unchanged "
              f"{bills['unchanged']}, failed {bills['failed']}; read-back drift: "
              f"{'none' if bills['drift'] == 0 else bills['drift']}")
        gl = latest_metadata(instance, "gl_journal")
        print(f"GL journal: {gl['lines']} lines, debit {_money(gl['debit_minor'], gl['currency'])} = credit "
              f"{_money(gl['credit_minor'], gl['currency'])}")

        step("4. bank report: camt.054 for the batch dropped into <drop zone>/reports/ → provider_report_sensor → "
             "window_recon: receipts → recon → SPV evidence → acceptance and gate again → ledger → evidence pack")
        if batch_meta["new_batch"]:
            print(f"camt.054 {zone.url(demo_bank_report(batch, zone))}")
        runs, _, skip = tick_sensor(instance, "provider_report_sensor")
        print(_runs(runs, "provider_report_sensor", skip))
        if not runs:  # e.g. no report concerns the window: reconcile what is on file, as the daily schedule does
            run_job(instance, "window_recon", SEED_WINDOW, {"vgos/trigger": "demo"})
        r = latest_metadata(instance, "recon_results")
        print(f"reconciliation: {r['matched']}/{r['expected']} matched ({r['matched_share']}), fully reconciled: "
              f"{r['fully_reconciled']}, discrepancies: {_counts(r['discrepancies_by_type'])}")
        ev = latest_metadata(instance, "settlement_evidence")
        print(f"settlement_evidence: {ev['confirmed']} batch(es) CONFIRMED, {ev['mismatch']} MISMATCH; SPV proofs "
              f"accepted: {ev['accepted']}")
        acc = latest_metadata(instance, "settlement_acceptance")
        gate = latest_metadata(instance, "settlement_gate")
        rows = "; ".join(f"{kind} {_counts(by)}" for kind, by in sorted(acc["rows_by_kind"].items()))
        print(f"settlement_acceptance: {rows}; settlement_gate: ALLOW {gate['allow']}, HOLD {gate['hold']}")
        items = [i for i in payouts.items(SEED_WINDOW, "default") if i.live]
        print("payout items (`vgos payouts show` has the details):")
        print_items(items)
        check = payouts.ledger_check(SEED_WINDOW, "default")
        print_trial_balance(check["trial_balance"], f"trial balance, window {SEED_WINDOW}")
        print(f"ledger against the registry: {'OK' if check['passed'] else check['mismatches']}")
        pack = latest_metadata(instance, "evidence_pack")
        print(f"evidence pack: {pack['location']} ({pack['bytes']:,} bytes)")

        assets, checks = window_status(instance)
        missing = [a for a, run_id in assets.items() if run_id is None]
        failed = [c for c, ok in checks.items() if not ok]
        print(f"\nDagster: {len(assets) - len(missing)}/{len(assets)} assets materialized for {SEED_WINDOW}, "
              f"{sum(1 for ok in checks.values() if ok)}/{len(checks)} checks passed"
              + (f"; missing: {', '.join(missing)}" if missing else "") + (f"; not passed: {', '.join(failed)}"
                                                                           if failed else ""))
    print(f"\nDone. Window {SEED_WINDOW} sealed as {digest}. Browse the lineage with `make ui`.")
    return 0 if not (missing or failed) else 1
