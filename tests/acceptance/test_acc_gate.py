"""The authorization gate on the seed window: decisions, freshness, quorum, digest binding, determinism."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.acceptance.helpers import SEED_WINDOW, T0, ProofFactory
from vgos.acceptance import submit_proof
from vgos.gate import authorize, latest_decisions


def _submit(db_url, *proofs):
    for p in proofs:
        res = submit_proof(p, db_url=db_url, as_of=T0)
        assert res.accepted, res


def _seed_ct(proofs):
    return [proofs.ct("CRE-0001"), proofs.ct("CRE-0002", "HOLD"), proofs.ct("CRE-0003")]


def _table(res):
    return [(d["principal_id"], d["payout_minor"], d["decision"], d["reason_code"]) for d in res.decisions]


def test_seed_demo_decisions(published, proofs, db_url):
    _submit(db_url, proofs.ack(), *_seed_ct(proofs))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert _table(res) == [("CRE-0001", 380, "ALLOW", None), ("CRE-0002", 275, "HOLD", "CT_HOLD"),
                           ("CRE-0003", 456, "ALLOW", None)]
    assert all(d["output_digest"] == published.output_digest for d in res.decisions)
    assert res.verify()
    assert res.response["decisions_digest"] == res.decisions_digest
    assert latest_decisions(SEED_WINDOW, db_url=db_url) == res.decisions
    assert res.inputs["replay"]["ok"] and len(res.inputs["proofs_used"]) == 4


def test_ack_older_than_freshness_holds_everyone(published, proofs, db_url):
    _submit(db_url, proofs.ack(issued=T0 - dt.timedelta(seconds=1801)), *_seed_ct(proofs))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert {(d["decision"], d["reason_code"]) for d in res.decisions} == {("HOLD", "STALE_PROOF")}
    # the same ACK is still fresh at an earlier evaluation time: as_of is an input
    earlier = authorize(SEED_WINDOW, as_of=T0 - dt.timedelta(seconds=2), db_url=db_url)
    assert [d["decision"] for d in earlier.decisions] == ["ALLOW", "HOLD", "ALLOW"]


def test_ack_expiring_before_freshness_window_is_stale(published, proofs, db_url):
    _submit(db_url, proofs.ack(expires=T0 - dt.timedelta(seconds=1)), *_seed_ct(proofs))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert {d["reason_code"] for d in res.decisions} == {"STALE_PROOF"}


def test_proof_for_an_older_digest_does_not_count(published, proofs, db_url):
    old = "ab" * 32
    res = submit_proof(proofs.ack(digest=old), db_url=db_url, as_of=T0)
    assert res.accepted and res.warning and res.warning.startswith("STALE_PROOF")
    _submit(db_url, *_seed_ct(proofs))
    gate = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert {d["reason_code"] for d in gate.decisions} == {"STALE_PROOF"}
    # CT is about the payee, not the digest (issue #10): a newer CT CLEAR bound to the old digest replaces
    # the issuer's HOLD on CRE-0003, and a newer HOLD bound to the old digest holds CRE-0001
    _submit(db_url, proofs.ack(issuer="finance-2"), proofs.ct("CRE-0003", issued=T0 - dt.timedelta(hours=1),
                                                              status="HOLD", reason="KYC_EXPIRED"))
    _submit(db_url, proofs.ct("CRE-0003", issued=T0 - dt.timedelta(minutes=1), digest=old),
            proofs.ct("CRE-0001", issued=T0 - dt.timedelta(minutes=1), status="HOLD", digest=old))
    gate = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert [(d["principal_id"], d["reason_code"]) for d in gate.decisions] == [
        ("CRE-0001", "CT_HOLD"), ("CRE-0002", "CT_HOLD"), ("CRE-0003", None)]


def test_missing_ack_and_missing_ct(published, proofs, db_url):
    _submit(db_url, proofs.ct("CRE-0001"))
    assert {d["reason_code"] for d in authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions} == {
        "MISSING_ACK"}
    _submit(db_url, proofs.ack())
    assert _table(authorize(SEED_WINDOW, as_of=T0, db_url=db_url)) == [
        ("CRE-0001", 380, "ALLOW", None), ("CRE-0002", 275, "HOLD", "MISSING_CT"),
        ("CRE-0003", 456, "HOLD", "MISSING_CT")]


def test_proof_issued_after_as_of_does_not_count(published, proofs, db_url):
    _submit(db_url, proofs.ack(issued=T0 + dt.timedelta(minutes=1)), *_seed_ct(proofs))
    assert {d["reason_code"] for d in authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions} == {
        "STALE_PROOF"}


def test_later_ct_clear_from_same_issuer_supersedes_hold(published, proofs, db_url):
    _submit(db_url, proofs.ack(), *_seed_ct(proofs), proofs.ct("CRE-0002", issued=T0 - dt.timedelta(hours=2)))
    assert [d["decision"] for d in authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions] == [
        "ALLOW", "ALLOW", "ALLOW"]


def test_same_inputs_same_decisions_and_append_only(published, proofs, db_url):
    from sqlalchemy import func, select

    from vgos.store.acceptance import GateDecision, GateRun
    from vgos.store.db import session

    _submit(db_url, proofs.ack(), *_seed_ct(proofs))
    a = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    b = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert a.decisions == b.decisions and a.decisions_digest == b.decisions_digest
    assert a.signature == b.signature  # Ed25519 is deterministic: the same response gives the same signature
    assert a.run_id != b.run_id
    with session(db_url) as s:
        assert s.scalar(select(func.count()).select_from(GateRun)) == 2
        assert s.scalar(select(func.count()).select_from(GateDecision)) == 6
    c = authorize(SEED_WINDOW, as_of=T0 + dt.timedelta(hours=1), db_url=db_url)
    assert c.decisions_digest != a.decisions_digest  # ACK is stale one hour later


def test_replay_mismatch_holds_everyone_with_digest_mismatch(vgos_home, seed_result, proofs, db_url):
    import dataclasses

    import orjson

    from vgos.canonical import jcs_bytes, sha256_hex
    from vgos.transcript import publish_transcript
    from vgos_app.cli import main

    seal = orjson.loads(seed_result.seal_bytes)
    seal["allocations"][1]["payout_minor"] = 2750
    seal["totals"]["payout_minor"] += 2475
    data = jcs_bytes(seal)
    lying = dataclasses.replace(seed_result, seal=seal, seal_bytes=data, output_digest=sha256_hex(data))
    publish_transcript(lying, db_url=db_url)
    proofs.digest = lying.output_digest
    _submit(db_url, proofs.ack(), *_seed_ct(proofs))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert {(d["decision"], d["reason_code"]) for d in res.decisions} == {("HOLD", "DIGEST_MISMATCH")}
    assert res.inputs["replay"]["diff"] == [
        {"principal_id": "CRE-0002", "field": "payout_minor", "sealed": 2750, "replayed": 275}]
    assert main(["replay", SEED_WINDOW]) == 1


def _fold(tmp_path, lines, manifest):
    from vgos.fold import fold_files
    from vgos.policy import policy_from_manifest

    f = tmp_path / "ev.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return fold_files([f], SEED_WINDOW, policy_from_manifest(manifest))


def test_high_value_window_needs_two_distinct_ack_issuers(vgos_home, tmp_path, issuer_keys, db_url):
    from vgos.transcript import publish_transcript

    ev = ('{"event_id":"x1","ts_occurred":"2025-09-23T10:00:00Z","principal_id":"CRE-0001",'
          '"amount_minor":100000,"source_type":"earning"}')
    result = _fold(tmp_path, [ev], {"acceptance": {"ACK": {"high_value_minor": 100000}}})
    publish_transcript(result, db_url=db_url)
    pf = ProofFactory(issuer_keys, result.output_digest)
    _submit(db_url, pf.ct("CRE-0001"), pf.ack("finance-1"))
    assert authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions[0]["reason_code"] == "INSUFFICIENT_QUORUM"
    _submit(db_url, pf.ack("finance-1", issued=T0 - dt.timedelta(minutes=1)))  # same issuer again
    assert authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions[0]["reason_code"] == "INSUFFICIENT_QUORUM"
    _submit(db_url, pf.ack("finance-2"))
    d = authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions[0]
    assert (d["decision"], d["payout_minor"]) == ("ALLOW", 110000)


def test_nothing_to_pay(vgos_home, tmp_path, issuer_keys, db_url):
    from vgos.transcript import publish_transcript

    lines = [
        '{"event_id":"y1","ts_occurred":"2025-09-23T10:00:00Z","principal_id":"CRE-0009","amount_minor":100,'
        '"source_type":"earning"}',
        '{"event_id":"y2","ts_occurred":"2025-09-23T10:01:00Z","principal_id":"CRE-0009","amount_minor":-100,'
        '"source_type":"refund"}',
    ]
    result = _fold(tmp_path, lines, {})
    publish_transcript(result, db_url=db_url)
    pf = ProofFactory(issuer_keys, result.output_digest)
    _submit(db_url, pf.ack(), pf.ct("CRE-0009"))
    d = authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions
    assert [(x["principal_id"], x["payout_minor"], x["decision"], x["reason_code"]) for x in d] == [
        ("CRE-0009", 0, "HOLD", "NOTHING_TO_PAY")]


def test_authorize_without_transcript_is_input_error(vgos_home, db_url):
    from vgos.errors import InputError

    with pytest.raises(InputError, match="no published transcript"):
        authorize(SEED_WINDOW, as_of=T0, db_url=db_url)


def test_acceptance_matrix_markdown(published, proofs, db_url):
    from vgos.acceptance import acceptance_matrix

    _submit(db_url, proofs.ack(), *_seed_ct(proofs))
    m = acceptance_matrix(SEED_WINDOW, as_of=T0, db_url=db_url)
    md = m.to_markdown()
    assert "| kind | subject | required | quorum | fresh | expires | status |" in md
    assert "| ACK | 2025-09-23 | yes | 1 | 1 | 2025-09-23T22:25:00Z | OK |" in md
    assert "| CT | CRE-0002 | yes | 1 | 0 | — | CT_HOLD |" in md
    late = acceptance_matrix(SEED_WINDOW, as_of=T0 + dt.timedelta(hours=1), db_url=db_url)
    assert late.row("ACK").status == "STALE_PROOF"


def test_cli_authorize_and_acceptance_show(published, proofs, db_url, capsys):
    from vgos_app.cli import main

    _submit(db_url, proofs.ack(), *_seed_ct(proofs))
    assert main(["authorize", SEED_WINDOW, "--as-of", "2025-09-23T22:00:00Z"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["principal_id", "payout", "decision", "reason_code"]  # amounts as `3.80 USD`
    assert out[2].split() == ["CRE-0001", "3.80", "USD", "ALLOW"]
    assert out[3].split() == ["CRE-0002", "2.75", "USD", "HOLD", "CT_HOLD"]
    assert out[4].split() == ["CRE-0003", "4.56", "USD", "ALLOW"]
    assert main(["acceptance", "show", SEED_WINDOW, "--as-of", "2025-09-23T23:00:00+01:00"]) == 0
    assert ["ACK", "2025-09-23", "yes", "1", "1", "2025-09-23T22:25:00Z", "OK"] in [
        line.split() for line in capsys.readouterr().out.splitlines()]
    assert main(["authorize", SEED_WINDOW, "--as-of", "2025-09-23 22:00"]) == 2
    assert main(["replay", SEED_WINDOW]) == 0


def test_demo_hook(vgos_home, seed_result, db_url):
    from vgos_app.cli_acceptance import demo_acceptance

    res = demo_acceptance(SEED_WINDOW, seed_result, as_of=T0)
    assert _table(res) == [("CRE-0001", 380, "ALLOW", None), ("CRE-0002", 275, "HOLD", "CT_HOLD"),
                           ("CRE-0003", 456, "ALLOW", None)]
    stale = demo_acceptance(SEED_WINDOW, seed_result, as_of=T0 + dt.timedelta(seconds=3600), ack_age_s=1801)
    assert {d["reason_code"] for d in stale.decisions} == {"STALE_PROOF"}
    assert "principal_id  payout_minor  decision  reason_code" in res.table()
