"""The payout assets release money only on a gate evaluated at the run's real time, once per item."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from dagster import DagsterInstance

from tests.dagster_ext.conftest import WINDOW, materialization, meta
from vgos_assets.definitions import defs

PAYOUT_ASSETS = ["payout_items", "payout_batch"]


def _run(instance: DagsterInstance, job: str, selection: list[str] | None = None, run_config: dict | None = None):
    from dagster import AssetKey

    return defs.resolve_job_def(job).execute_in_process(
        partition_key=WINDOW, instance=instance, run_config=run_config or {}, raise_on_error=False,
        asset_selection=[AssetKey(a) for a in selection] if selection else None)


def _drop_ct_hold(home: Path, digest: str, pid: str) -> None:
    from vgos.acceptance import demo_issuers, fmt_ts, sign_proof

    issued = dt.datetime.now(dt.UTC).replace(microsecond=0)
    body = {"window_id": WINDOW, "tenant_id": "default", "kind": "CT", "subject_id": pid, "status": "HOLD",
            "reason": "SANCTIONS", "issuer": "compliance", "output_digest": digest, "issued_at": fmt_ts(issued),
            "expires_at": fmt_ts(issued + dt.timedelta(days=30))}
    (home / "drop" / "proofs" / f"hold-{pid}.json").write_bytes(
        orjson.dumps(sign_proof(body, demo_issuers()["compliance"])))


def test_a_ct_hold_after_authorization_keeps_the_payee_out_and_a_rerun_pays_nothing(window_home: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        first = _run(instance, "settlement_window")
        assert first.success and meta(materialization(first, "authorization"), "allow") == 2
        digest = meta(materialization(first, "transcript"), "output_digest")
        _drop_ct_hold(window_home, digest, "CRE-0001")  # arrives after the authorization ran
        from vgos.acceptance import ingest_proof_drops

        assert all(r.accepted for r in ingest_proof_drops())
        paid = _run(instance, "disbursement_window", PAYOUT_ASSETS)
        assert paid.success
        batch = materialization(paid, "payout_batch")
        assert (meta(batch, "items"), meta(batch, "ctrl_sum_minor")) == (1, 456)
        assert {"principal_id": "CRE-0001", "reason": "CT_HOLD"} in meta(batch, "not_paid")
        items = materialization(paid, "payout_items")
        assert meta(items, "items") == 3
        again = _run(instance, "disbursement_window", PAYOUT_ASSETS)
        assert again.success and meta(materialization(again, "payout_batch"), "new_batch") is False
    from vgos import payouts

    assert {i.principal_id: i.state for i in payouts.items(WINDOW)} == {
        "CRE-0001": "AUTHORIZED", "CRE-0002": "AUTHORIZED", "CRE-0003": "BATCHED"}


def test_a_backdated_evaluation_time_in_run_config_releases_nothing(vgos_home: Path) -> None:
    """Stale evidence made ALLOW by a config `as_of` is a what-if: payout_batch evaluates at the real clock."""
    import shutil

    from tests.dagster_ext.conftest import drop_proofs
    from vgos_app.demo import seed_events_path

    folder = vgos_home / "drop" / "events" / WINDOW
    folder.mkdir(parents=True)
    shutil.copy(seed_events_path(), folder / "seed_events.jsonl")
    drop_proofs(vgos_home, issued=dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3))
    back = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3) + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cfg = {"ops": {a: {"config": {"as_of": back}} for a in ("acceptance_bundle", "authorization")}}
    with DagsterInstance.ephemeral() as instance:
        first = _run(instance, "settlement_window", run_config=cfg)
        assert first.success and meta(materialization(first, "authorization"), "allow") == 2
        paid = _run(instance, "disbursement_window", PAYOUT_ASSETS)
        assert not paid.success
        failure = [e for e in paid.all_events if e.event_type_value == "STEP_FAILURE"]
        assert "STALE_PROOF" in failure[0].event_specific_data.error.message
    from vgos import payouts

    assert not [i for i in payouts.items(WINDOW) if i.state == "BATCHED"]


@pytest.mark.slow
def test_a_late_event_reseals_and_the_next_batch_pays_only_the_delta(window_home: Path) -> None:
    from vgos.acceptance import demo_issuers, fmt_ts, sign_proof
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.demo import seed_events_path

    with DagsterInstance.ephemeral() as instance:
        assert _run(instance, "settlement_window").success
        paid = _run(instance, "disbursement_window", PAYOUT_ASSETS)
        assert paid.success and meta(materialization(paid, "payout_batch"), "ctrl_sum_minor") == 836
        late = window_home / "drop" / "events" / WINDOW / "late.jsonl"
        late.write_bytes(orjson.dumps({"event_id": "e5", "ts_occurred": "2025-09-23T11:20:00Z",
                                       "principal_id": "CRE-0001", "amount_minor": 100,
                                       "source_type": "earning"}) + b"\n")
        resealed = fold_files([seed_events_path(), late], WINDOW, load_policy())
        issued = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=30)
        body = {"window_id": WINDOW, "tenant_id": "default", "kind": "ACK", "subject_id": WINDOW,
                "status": "ACCEPTED", "issuer": "finance-1", "output_digest": resealed.output_digest,
                "issued_at": fmt_ts(issued), "expires_at": fmt_ts(issued + dt.timedelta(days=1))}
        (window_home / "drop" / "proofs" / "ack-resealed.json").write_bytes(
            orjson.dumps(sign_proof(body, demo_issuers()["finance-1"])))
        again = _run(instance, "settlement_window")
        assert again.success
        assert meta(materialization(again, "transcript"), "output_digest") == resealed.output_digest
        delta = _run(instance, "disbursement_window", PAYOUT_ASSETS)
        assert delta.success
        new = {a.principal_id: a.payout_minor for a in resealed.allocations}
        batch = materialization(delta, "payout_batch")
        assert (meta(batch, "items"), meta(batch, "ctrl_sum_minor")) == (1, new["CRE-0001"] - 380)
        assert meta(materialization(delta, "payout_items"), "superseded") == 1  # the held CRE-0002 accrual
