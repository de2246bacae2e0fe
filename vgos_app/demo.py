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
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("storage:\n  sqlite:\n    base_dir: {env: DAGSTER_HOME}\n"
                                           "telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@contextlib.contextmanager
def netsuite_sandbox() -> Iterator[str]:
    """The local NetSuite sandbox on loopback; credentials from NETSUITE_*, else ephemeral ones for this run."""
    from connectors.netsuite.config import Credentials
    from connectors.netsuite.sandbox.server import SandboxConfig, start_sandbox

    saved = {k: os.environ.get(k) for k in (*NETSUITE_VARS, "NETSUITE_BASE_URL")}
    if not all(os.environ.get(k) for k in NETSUITE_VARS):
        os.environ.update({"NETSUITE_ACCOUNT": "1234567_SB1", **{k: secrets.token_hex(16) for k in NETSUITE_VARS[1:]}})
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


def _run_assets(instance, selection: list[str] | None) -> object:
    from dagster import AssetKey

    from vgos_assets.definitions import defs

    job = defs.resolve_job_def("settlement_window")
    keys = [AssetKey(a) for a in selection] if selection else None
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(partition_key=SEED_WINDOW, instance=instance, asset_selection=keys,
                                    raise_on_error=False, run_config=quiet)
    if not result.success:
        failures = [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        raise SystemExit(f"vgos demo: Dagster run {result.run_id} failed: {failures}")
    return result


def _materialization(result, asset: str):
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            m = e.event_specific_data.materialization
            if m.asset_key.to_user_string() == asset:
                return m
    raise KeyError(asset)


def run_demo(args: argparse.Namespace) -> int:
    """Run every step of the demo in order; each step prints its result."""
    from dagster import DagsterInstance

    from vgos import config
    from vgos.gate import latest_decisions
    from vgos.replay import verify_transcript
    from vgos.storage import open_store
    from vgos.transcript import current_seal, current_transcript
    from vgos_app.cli_acceptance import demo_proofs

    home = config.vgos_home()
    dagster_home = _dagster_home()
    zone = open_store(config.drop_zone_root())
    print(f"VGOS demo: window {SEED_WINDOW}; state in {home}; Dagster instance in {dagster_home}")

    step("1. events dropped → Dagster: raw_events → normalized_log → allocations → transcript (sealed, signed)")
    zone.put(f"events/{SEED_WINDOW}/seed_events.jsonl", seed_events_path().read_bytes())
    with DagsterInstance.get() as instance:
        run = _run_assets(instance, None)
        norm = _materialization(run, "normalized_log").metadata
        alloc = _materialization(run, "allocations").metadata
        tr = _materialization(run, "transcript").metadata
        print(f"run {run.run_id}: kept {norm['events_kept'].value}, rejected {norm['events_rejected'].value} "
              f"{norm['rejects_by_reason'].value}")
        print(alloc["largest_allocations"].value)
        print(f"totals: net {alloc['net_minor'].value}, bonus {alloc['bonus_floor_minor'].value}, carry "
              f"{alloc['carry_minor'].value}, payout {alloc['payout_minor'].value}")
        digest, url = tr["output_digest"].value, tr["transcript_url"].value
        print(f"output_digest {digest}\ntranscript    {url}")
        report = verify_transcript(url)
        print(f"vgos verify: {report.line()}")
        auth = _materialization(run, "authorization").metadata
        print(f"gate with the evidence on file so far: ALLOW {auth['allow'].value}, HOLD {auth['hold'].value}")

        step("2. evidence: finance ACK + compliance CT table dropped into <drop zone>/proofs/ → acceptance → gate")
        issued = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=60)
        for p in demo_proofs(SEED_WINDOW, "default", digest, issued=issued):
            zone.put(f"proofs/{SEED_WINDOW}-{p['kind']}-{p['subject_id']}-{digest[:12]}.json", orjson.dumps(p),
                     write_once=False)
        run2 = _run_assets(instance, ["acceptance_bundle", "authorization"])
        print(_materialization(run2, "acceptance_bundle").metadata["acceptance_matrix"].value)
    decisions = latest_decisions(SEED_WINDOW)
    print(_decisions_table(decisions))

    step("3. disbursement: pain.001 released at the gate, NetSuite bills, camt.054 recon, SPV, payout items, ledger")
    seal = current_seal(SEED_WINDOW)
    ref = current_transcript(SEED_WINDOW)
    with netsuite_sandbox() as ns_url:
        print(f"local NetSuite sandbox at {ns_url}")
        disburse_and_book(seal, ref.output_digest, ref.url, decisions, out_dir=home / "batches")
    print(f"\nDone. Window {SEED_WINDOW} sealed as {digest}. Browse the lineage with `make ui`.")
    return 0


def _decisions_table(decisions: list[dict]) -> str:
    return _table(["principal_id", "payout_minor", "decision", "reason_code"],
                  [[d["principal_id"], d["payout_minor"], d["decision"], d["reason_code"] or ""] for d in decisions])


def disburse_and_book(seal: dict, digest: str, transcript_url: str, decisions: list[dict], *,
                      out_dir: Path) -> None:
    """Stamp NetSuite bills, release the pain.001 batch, reconcile a camt.054 for it, record SPV, print the books."""
    from connectors.netsuite.pipeline import demo_sync
    from recon.service import run_demo_recon
    from vgos import ledger, payouts
    from vgos.acceptance import demo_issuers, submit_proof

    w = seal["window"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    recon = run_demo_recon(w["window_id"], out_dir=out_dir, as_of=now, issuer_key=demo_issuers()["recon"])
    batch = recon["batch"]
    if recon["refused"]:
        print(f"no new batch (the window was paid before): {recon['refused']}")
    else:
        print(f"pain.001 {recon['batch_path']}: {len(batch['items'])} transactions, CtrlSum "
              f"{batch['ctrl_sum_minor']} minor, provider_batch_id {batch['provider_batch_id']} (gate evaluated "
              f"at release; not paid: {', '.join(f'{p} {r}' for p, r in recon['excluded']) or 'none'})")
    sync, drift = demo_sync(os.environ["NETSUITE_BASE_URL"], tenant_id=w["tenant_id"], window_id=w["window_id"],
                            currency=w["currency"], output_digest=digest, transcript_url=transcript_url,
                            allocations=seal["allocations"], decisions=decisions,
                            provider_batch_id=batch["provider_batch_id"])
    print(f"NetSuite vendor bills: {sync.counts()}; read-back drift: {'none' if drift and drift.ok else drift}")
    r = recon["recon"]
    found = {k: v for k, v in r["discrepancies_by_type"].items() if v}
    print(f"camt.054 {recon['report_url'] or '(already ingested)'} → reconciliation: {r['matched']}/{r['expected']} "
          f"matched ({r['matched_share']}), fully reconciled: {r['fully_reconciled']}, discrepancies: "
          f"{found or 'none'}")
    for p in recon["spv_proofs"]:
        res = submit_proof(p, as_of=now, source="demo-recon")
        print(f"SPV proof for batch {p['subject_id']}: {p['status']} ({'accepted' if res.accepted else res.reason})")
    items = [i for i in payouts.items(w["window_id"], w["tenant_id"]) if i.live]
    print("payout items (`vgos payouts show` has the details):")
    print(_table(["principal_id", "kind", "amount_minor", "state", "batch"],
                 [[i.principal_id, i.kind, i.amount_minor, i.state, i.provider_batch_id or ""] for i in items]))
    check = payouts.ledger_check(w["window_id"], w["tenant_id"])
    print(ledger.format_trial_balance(check["trial_balance"], f"trial balance, window {w['window_id']}"))
    print(f"ledger against the registry: {'OK' if check['passed'] else check['mismatches']}")


def _table(headers: list[str], rows: list[list]) -> str:
    from vgos.report import table

    return table(headers, rows)
