"""Gate semantics of issue #10 ("money moves at most once"), end to end through submit_proof + authorize.

- CT is about the payee: the newest CT per (issuer, principal) stands whatever the window's digest or the window it
  was filed under; a HOLD in force holds regardless of freshness.
- Any REJECTED ACK in force vetoes (ACK_REJECTED).
- Quorum counts distinct keys, never issuer names; weak HMAC secrets are refused.
- Proofs dated in the future (real clock + skew) are refused at intake, whatever `as_of` the caller passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.acceptance.helpers import SEED_EVENTS, SEED_WINDOW, T0, ProofFactory, ts
from vgos.acceptance import register_issuer, sign_proof, submit_proof
from vgos.gate import authorize

SECRET = "0123456789abcdef0123456789abcdef"  # 32 bytes: the minimum accepted HMAC secret


def _submit(db_url, *proofs):
    for p in proofs:
        res = submit_proof(p, db_url=db_url, as_of=T0)
        assert res.accepted, res


def _reasons(res):
    return [(d["principal_id"], d["decision"], d["reason_code"]) for d in res.decisions]


def _fold(tmp_path, lines, manifest=None, *, with_seed=False):
    from vgos.fold import fold_files
    from vgos.policy import load_policy, policy_from_manifest

    f = tmp_path / f"ev{len(list(tmp_path.glob('ev*.jsonl')))}.jsonl"
    f.write_text("\n".join(lines) + "\n")
    files = [SEED_EVENTS, f] if with_seed else [f]
    return fold_files(files, SEED_WINDOW, policy_from_manifest(manifest) if manifest else load_policy(None))


def _new_ct_issuer(issuer_id):
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    register_issuer(issuer_id, public_key_pem=pem, kinds=("CT",))
    return key


def _high_value_window(tmp_path, db_url):
    """A window above the high-value line: ACK quorum 2."""
    from vgos.transcript import publish_transcript

    ev = ('{"event_id":"x1","ts_occurred":"2025-09-23T10:00:00Z","principal_id":"CRE-0001",'
          '"amount_minor":100000,"source_type":"earning"}')
    result = _fold(tmp_path, [ev], {"acceptance": {"ACK": {"high_value_minor": 100000}}})
    publish_transcript(result, db_url=db_url)
    return result


# ---------------------------------------------------------------- 1. CT is about the payee


def test_reseal_a_b_a_keeps_the_ct_hold_filed_while_at_b(vgos_home, tmp_path, seed_result, issuer_keys, db_url):
    from vgos.transcript import publish_transcript

    publish_transcript(seed_result, db_url=db_url)  # seal A
    a = ProofFactory(issuer_keys, seed_result.output_digest)
    _submit(db_url, a.ack(), a.ct("CRE-0001"), a.ct("CRE-0002"), a.ct("CRE-0003"))
    assert [d["decision"] for d in authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions] == ["ALLOW"] * 3

    extra = ('{"event_id":"late-1","ts_occurred":"2025-09-23T12:00:00Z","principal_id":"CRE-0003",'
             '"amount_minor":10,"source_type":"earning"}')
    b_result = _fold(tmp_path, [extra], with_seed=True)
    assert b_result.output_digest != seed_result.output_digest
    publish_transcript(b_result, db_url=db_url)  # seal B
    b = ProofFactory(issuer_keys, b_result.output_digest)
    _submit(db_url, b.ct("CRE-0001", "HOLD", issued=T0 - dt.timedelta(hours=1), reason="KYC_EXPIRED"))

    publish_transcript(seed_result, db_url=db_url)  # back to seal A
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert res.output_digest == seed_result.output_digest
    assert _reasons(res) == [("CRE-0001", "HOLD", "CT_HOLD"), ("CRE-0002", "ALLOW", None),
                             ("CRE-0003", "ALLOW", None)]
    row = res.matrix.row("CT", "CRE-0001")
    assert "KYC_EXPIRED" in row.detail


def test_ct_hold_filed_under_another_window_holds_the_payee(published, proofs, db_url):
    _submit(db_url, proofs.ack(), proofs.ct("CRE-0001"), proofs.ct("CRE-0002"), proofs.ct("CRE-0003"))
    body = {"window_id": "2025-09-22", "kind": "CT", "subject_id": "CRE-0002", "status": "HOLD",
            "reason": "SANCTIONS_HIT", "issued_at": ts(T0 - dt.timedelta(hours=2)),
            "expires_at": ts(T0 + dt.timedelta(days=30)), "output_digest": "cd" * 32, "issuer": "compliance"}
    _submit(db_url, sign_proof(body, proofs.keys["compliance"]))
    assert _reasons(authorize(SEED_WINDOW, as_of=T0, db_url=db_url)) == [
        ("CRE-0001", "ALLOW", None), ("CRE-0002", "HOLD", "CT_HOLD"), ("CRE-0003", "ALLOW", None)]
    # a newer CLEAR from the same issuer (filed under this window) replaces it
    _submit(db_url, proofs.ct("CRE-0002", issued=T0 - dt.timedelta(hours=1)))
    assert [d["decision"] for d in authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions] == ["ALLOW"] * 3


def test_ct_hold_in_force_holds_regardless_of_freshness(published, proofs, db_url):
    kyc2 = _new_ct_issuer("kyc-2")
    # compliance's HOLD is 40 days old (CT freshness is 30 days) but has not expired: it still holds
    old_hold = proofs.ct("CRE-0001", "HOLD", issued=T0 - dt.timedelta(days=40), expires=T0 + dt.timedelta(days=5))
    clear2 = proofs.make("CT", "CRE-0001", "CLEAR", "kyc-2", T0 - dt.timedelta(days=1), key=kyc2)
    _submit(db_url, proofs.ack(), old_hold, clear2, proofs.ct("CRE-0002"), proofs.ct("CRE-0003"))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert _reasons(res)[0] == ("CRE-0001", "HOLD", "CT_HOLD")
    # once it has expired it no longer holds; the other issuer's fresh CLEAR meets the quorum
    later = authorize(SEED_WINDOW, as_of=T0 + dt.timedelta(days=5), db_url=db_url)
    assert later.matrix.row("CT", "CRE-0001").status == "OK"


def test_a_veto_counts_within_the_intake_skew_and_an_approval_only_from_its_issue_time(published, proofs, db_url):
    _submit(db_url, proofs.ack(), proofs.ct("CRE-0001"), proofs.ct("CRE-0002"), proofs.ct("CRE-0003"),
            proofs.ct("CRE-0001", "HOLD", issued=T0 + dt.timedelta(minutes=1)),
            proofs.ct("CRE-0003", "HOLD", issued=T0 + dt.timedelta(minutes=10)))
    # a HOLD dated up to the intake skew (300 s) ahead is in force as soon as it is accepted; one further ahead
    # (only a what-if can be that far behind the clock) is not yet
    at_t0 = _reasons(authorize(SEED_WINDOW, as_of=T0, db_url=db_url))
    assert at_t0[0] == ("CRE-0001", "HOLD", "CT_HOLD") and at_t0[2] == ("CRE-0003", "ALLOW", None)
    later = authorize(SEED_WINDOW, as_of=T0 + dt.timedelta(minutes=11), db_url=db_url)
    assert _reasons(later)[2] == ("CRE-0003", "HOLD", "CT_HOLD")


# ---------------------------------------------------------------- 2. a REJECTED ACK vetoes


def test_any_rejected_ack_in_force_vetoes(published, proofs, db_url):
    from vgos import acceptance

    _submit(db_url, proofs.ack("finance-1"), proofs.ct("CRE-0001"), proofs.ct("CRE-0003"),
            proofs.make("ACK", SEED_WINDOW, "REJECTED", "finance-2", T0 - dt.timedelta(minutes=2)))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert {(d["decision"], d["reason_code"]) for d in res.decisions} == {("HOLD", "ACK_REJECTED")}
    assert res.matrix.row("ACK").status == "ACK_REJECTED"
    assert "ACK_REJECTED" in acceptance.__doc__
    # the same issuer accepting later replaces its rejection
    _submit(db_url, proofs.ack("finance-2", issued=T0 - dt.timedelta(minutes=1)))
    assert authorize(SEED_WINDOW, as_of=T0, db_url=db_url).matrix.row("ACK").status == "OK"


# ---------------------------------------------------------------- 3. quorum counts distinct keys


def test_one_ed25519_key_under_two_issuer_ids_counts_once(vgos_home, tmp_path, issuer_keys, db_url):
    from vgos.acceptance import load_issuers

    result = _high_value_window(tmp_path, db_url)
    reg = load_issuers()
    register_issuer("finance-1-alias", public_key_pem=reg["finance-1"].public_key_pem, kinds=("ACK",))
    reg = load_issuers()
    der = serialization.load_pem_public_key(reg["finance-1"].public_key_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert reg["finance-1"].key_fingerprint == hashlib.sha256(der).hexdigest()
    assert reg["finance-1-alias"].key_fingerprint == reg["finance-1"].key_fingerprint
    assert reg["finance-2"].key_fingerprint != reg["finance-1"].key_fingerprint

    pf = ProofFactory(issuer_keys, result.output_digest)
    _submit(db_url, pf.ct("CRE-0001"), pf.ack("finance-1"),
            pf.ack("finance-1-alias", key=issuer_keys["finance-1"]))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert res.decisions[0]["reason_code"] == "INSUFFICIENT_QUORUM"
    assert (res.matrix.row("ACK").quorum, res.matrix.row("ACK").fresh) == (2, 1)
    _submit(db_url, pf.ack("finance-2"))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert (res.decisions[0]["decision"], res.matrix.row("ACK").fresh) == ("ALLOW", 2)


def test_hmac_issuers_sharing_a_secret_count_once(vgos_home, tmp_path, issuer_keys, db_url, monkeypatch):
    from vgos.acceptance import load_issuers

    result = _high_value_window(tmp_path, db_url)
    for iid in ("erp-a", "erp-b"):
        register_issuer(iid, algorithm="hmac-sha256", kinds=("ACK",))
    monkeypatch.setenv("VGOS_ISSUER_SECRET_ERP_A", SECRET)
    monkeypatch.setenv("VGOS_ISSUER_SECRET_ERP_B", SECRET)
    reg = load_issuers()
    assert reg["erp-a"].key_fingerprint == reg["erp-b"].key_fingerprint == hashlib.sha256(
        SECRET.encode()).hexdigest()
    pf = ProofFactory(issuer_keys, result.output_digest)
    _submit(db_url, pf.ct("CRE-0001"), pf.ack("erp-a", key=SECRET.encode()), pf.ack("erp-b", key=SECRET.encode()))
    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert res.decisions[0]["reason_code"] == "INSUFFICIENT_QUORUM"
    assert res.matrix.row("ACK").fresh == 1


def test_weak_hmac_secret_is_quarantined(published, proofs, db_url, monkeypatch):
    from vgos.acceptance import load_proofs, quarantine_list

    register_issuer("erp-bot", algorithm="hmac-sha256", kinds=("ACK",))
    weak = SECRET[:31]
    monkeypatch.setenv("VGOS_ISSUER_SECRET_ERP_BOT", weak)
    res = submit_proof(proofs.ack("erp-bot", key=weak.encode()), db_url=db_url, as_of=T0)
    assert (res.accepted, res.reason) == (False, "WEAK_SECRET")
    assert quarantine_list(db_url)[-1]["reason_code"] == "WEAK_SECRET"
    assert load_proofs(SEED_WINDOW, db_url=db_url) == []
    monkeypatch.setenv("VGOS_ISSUER_SECRET_ERP_BOT", SECRET)
    assert submit_proof(proofs.ack("erp-bot", key=SECRET.encode()), db_url=db_url, as_of=T0).accepted


# ---------------------------------------------------------------- 4. future-dated proofs


def _real_now():
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_future_dated_proof_refused_whatever_as_of_says(published, proofs, db_url, monkeypatch):
    from vgos.acceptance import load_proofs, parse_ts, quarantine_list
    from vgos.errors import InputError

    now = _real_now()
    future = proofs.ack(issued=now + dt.timedelta(hours=1))
    res = submit_proof(future, db_url=db_url, as_of=now + dt.timedelta(days=1))  # a caller-supplied future
    assert (res.accepted, res.reason) == (False, "FUTURE_PROOF")
    q = quarantine_list(db_url)[-1]
    assert q["reason_code"] == "FUTURE_PROOF"
    assert abs(parse_ts(q["received_at"]) - _real_now()) < dt.timedelta(minutes=5)  # the real clock
    assert load_proofs(SEED_WINDOW, db_url=db_url) == []

    within = proofs.ack(issued=now + dt.timedelta(seconds=60))  # inside the default 300 s skew
    assert submit_proof(within, db_url=db_url, as_of=T0).accepted
    from sqlalchemy import select

    from vgos.store.acceptance import ProofRecord
    from vgos.store.db import session

    with session(db_url) as s:
        received = s.scalars(select(ProofRecord.received_at)).one()
    assert abs(parse_ts(received) - _real_now()) < dt.timedelta(minutes=5)  # not the as_of passed in

    monkeypatch.setenv("VGOS_PROOF_MAX_FUTURE_SKEW_S", "0")
    res = submit_proof(proofs.ack("finance-2", issued=now + dt.timedelta(seconds=60)), db_url=db_url)
    assert res.reason == "FUTURE_PROOF"
    monkeypatch.setenv("VGOS_PROOF_MAX_FUTURE_SKEW_S", "five minutes")
    with pytest.raises(InputError, match="VGOS_PROOF_MAX_FUTURE_SKEW_S"):
        submit_proof(proofs.ack("finance-2"), db_url=db_url)


def test_cli_refuses_future_dated_proof(published, proofs, vgos_home, tmp_path):
    f = tmp_path / "future-ack.json"
    f.write_bytes(orjson.dumps(proofs.ack(issued=_real_now() + dt.timedelta(hours=2))))
    vgos_bin = Path(sys.executable).parent / "vgos"
    assert vgos_bin.exists(), vgos_bin
    env = {**os.environ, "VGOS_HOME": str(vgos_home)}
    env.pop("VGOS_DATABASE_URL", None)
    env.pop("VGOS_ISSUERS", None)
    out = subprocess.run([str(vgos_bin), "proof", "submit", str(f)], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "QUARANTINED FUTURE_PROOF" in out.stderr


# ---------------------------------------------------------------- 5. evaluate_matrix stays pure


def test_evaluate_matrix_is_pure_and_deterministic(published, proofs, db_url, monkeypatch):
    from vgos import acceptance
    from vgos.store import db as store_db

    _submit(db_url, proofs.ack(), proofs.ct("CRE-0001"), proofs.ct("CRE-0002", "HOLD"))
    stored = acceptance.load_proofs(SEED_WINDOW, db_url=db_url)

    def boom(*a, **k):
        raise AssertionError("evaluate_matrix must not read the clock or the store")

    monkeypatch.setattr(acceptance, "_now", boom)
    monkeypatch.setattr(store_db, "session", boom)
    policy = {"acceptance": {"ACK": {"required": True, "freshness_s": 1800, "quorum": 1},
                             "CT": {"required": True, "freshness_s": 2_592_000, "quorum": 1}}}
    args = (SEED_WINDOW, published.output_digest, T0, policy)
    principals = ["CRE-0003", "CRE-0001", "CRE-0002"]
    m1 = acceptance.evaluate_matrix(*args, stored, principals, 1111)
    m2 = acceptance.evaluate_matrix(*args, list(stored), list(principals), 1111)
    assert m1.to_dict() == m2.to_dict()
    assert [r.status for r in m1.rows] == ["OK", "MISSING_SPV", "OK", "CT_HOLD", "MISSING_CT"]


@pytest.mark.postgres
def test_cross_window_ct_on_postgresql_chunked_and_ties_by_submission(vgos_home, pg_url, seed_result, proofs,
                                                                     monkeypatch):
    from vgos import acceptance
    from vgos.transcript import publish_transcript

    monkeypatch.setattr(acceptance, "_IN_CHUNK", 1)  # one principal per query: exercises the chunking
    publish_transcript(seed_result, db_url=pg_url)
    same_time = T0 - dt.timedelta(hours=3)

    def other_window(principal, status):
        body = {"window_id": "2025-09-22", "kind": "CT", "subject_id": principal, "status": status,
                "issued_at": ts(same_time), "expires_at": ts(T0 + dt.timedelta(days=30)),
                "output_digest": "cd" * 32, "issuer": "compliance"}
        if status == "HOLD":
            body["reason"] = "KYC_EXPIRED"
        return sign_proof(body, proofs.keys["compliance"])

    _submit(pg_url, proofs.ack(), proofs.ct("CRE-0002"),
            other_window("CRE-0001", "HOLD"), proofs.ct("CRE-0001", issued=same_time),  # CLEAR submitted last
            proofs.ct("CRE-0003", issued=same_time), other_window("CRE-0003", "HOLD"))  # HOLD submitted last
    stored = acceptance.load_proofs(SEED_WINDOW, db_url=pg_url)
    assert [p["window_id"] for p in stored] == [SEED_WINDOW, SEED_WINDOW, "2025-09-22", SEED_WINDOW, SEED_WINDOW,
                                                "2025-09-22"]
    assert _reasons(authorize(SEED_WINDOW, as_of=T0, db_url=pg_url)) == [
        ("CRE-0001", "ALLOW", None), ("CRE-0002", "ALLOW", None), ("CRE-0003", "HOLD", "CT_HOLD")]
