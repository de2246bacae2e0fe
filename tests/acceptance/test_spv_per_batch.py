"""SPV is judged per provider batch: a confirmed batch never hides a mismatched one (the acceptance side).

The pure part feeds `evaluate_matrix` plain proof dicts (one key per issuer unless `key_fingerprint` says
otherwise); the store part releases real batches in the payout registry, cancels one, and runs the gate.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from tests.acceptance.helpers import SEED_EVENTS, SEED_WINDOW, T0, ProofFactory, ts
from vgos.acceptance import evaluate_matrix

DIGEST = "a" * 64
OTHER = "b" * 64
POLICY = {"acceptance": {"ACK": {"required": True, "freshness_s": 1800, "quorum": 1},
                         "CT": {"required": True, "freshness_s": 2_592_000, "quorum": 1},
                         "SPV": {"required": True, "freshness_s": 86_400, "quorum": 1}}}


def spv(subject: str, status: str = "CONFIRMED", *, issuer: str = "recon", issued: dt.datetime = T0 - dt.timedelta(
        hours=1), digest: str = DIGEST, key: str | None = None, reason: str | None = None) -> dict:
    """A plain SPV proof dict as load_proofs returns it."""
    p = {"window_id": SEED_WINDOW, "kind": "SPV", "subject_id": subject, "status": status, "issuer": issuer,
         "issued_at": ts(issued), "expires_at": ts(issued + dt.timedelta(days=7)), "output_digest": digest,
         "reason": reason or ("MISSING_RECEIPT=1" if status == "MISMATCH" else None)}
    if key is not None:
        p["key_fingerprint"] = key
    return p


def matrix(proofs: list[dict], batches: list[str] | None = None, *, quorum: int = 1, as_of: dt.datetime = T0):
    """The window's matrix with the SPV quorum set; batches are the ones the window must account for."""
    policy = {"acceptance": {**POLICY["acceptance"], "SPV": {**POLICY["acceptance"]["SPV"], "quorum": quorum}}}
    return evaluate_matrix(SEED_WINDOW, DIGEST, as_of, policy, proofs, [], 0, spv_batches=batches)


# ---------------------------------------------------------------- pure evaluation


@pytest.mark.parametrize("mismatch_offset_h", [-3, 3], ids=["mismatch-older", "mismatch-newer"])
@pytest.mark.parametrize("batches", [["VGB-A", "VGB-B"], None], ids=["store-batches", "proof-subjects"])
def test_a_confirmed_batch_never_hides_a_mismatched_one(mismatch_offset_h, batches):
    t = T0 - dt.timedelta(hours=4)
    proofs = [spv("VGB-A", issued=t), spv("VGB-B", "MISMATCH", issued=t + dt.timedelta(hours=mismatch_offset_h))]
    m = matrix(proofs, batches)
    row = m.row("SPV")
    assert (row.subject, row.status) == ("*", "SPV_MISMATCH")
    assert "VGB-B" in row.detail and "VGB-A" not in row.detail and "MISSING_RECEIPT=1" in row.detail
    assert (m.row("SPV", "VGB-A").status, m.row("SPV", "VGB-B").status) == ("OK", "SPV_MISMATCH")


def test_every_batch_confirmed_is_ok_and_each_batch_has_its_row():
    m = matrix([spv("VGB-B", issued=T0 - dt.timedelta(hours=2)), spv("VGB-A")], ["VGB-B", "VGB-A"])
    assert [(r.kind, r.subject, r.status) for r in m.rows] == [
        ("ACK", SEED_WINDOW, "MISSING_ACK"), ("SPV", "*", "OK"), ("SPV", "VGB-A", "OK"), ("SPV", "VGB-B", "OK")]
    summary = m.row("SPV")
    assert summary.fresh == 1 and summary.expires == m.row("SPV", "VGB-B").expires  # the earliest batch expiry
    assert "| SPV | VGB-A | yes | 1 | 1 |" in m.to_markdown()
    assert [r["subject"] for r in m.to_dict()["rows"] if r["kind"] == "SPV"] == ["*", "VGB-A", "VGB-B"]


def test_a_newer_confirmation_of_the_same_batch_supersedes_its_mismatch():
    proofs = [spv("VGB-A"), spv("VGB-B", "MISMATCH", issued=T0 - dt.timedelta(hours=3)),
              spv("VGB-B", issued=T0 - dt.timedelta(hours=2))]
    assert matrix(proofs, ["VGB-A", "VGB-B"]).row("SPV").status == "OK"


def test_a_required_batch_without_proof_is_missing_spv():
    row = matrix([spv("VGB-A")], ["VGB-A", "VGB-B"]).row("SPV")
    assert row.status == "MISSING_SPV" and "batch VGB-B: MISSING_SPV" in row.detail and "1 of 2" in row.detail


def test_a_cancelled_batch_needs_no_proof_and_its_mismatch_is_ignored():
    """The store leaves a cancelled batch out of the batches to account for."""
    row = matrix([spv("VGB-A"), spv("VGB-X", "MISMATCH")], ["VGB-A"]).row("SPV")
    assert row.status == "OK" and "VGB-X" in row.detail  # named as ignored, never blocking


def test_a_stale_proof_for_one_batch_is_stale():
    proofs = [spv("VGB-A"), spv("VGB-B", issued=T0 - dt.timedelta(days=2))]  # freshness is one day
    row = matrix(proofs, ["VGB-A", "VGB-B"]).row("SPV")
    assert row.status == "STALE_PROOF" and "batch VGB-B: STALE_PROOF" in row.detail


def test_mismatch_outranks_missing_and_stale():
    proofs = [spv("VGB-A", issued=T0 - dt.timedelta(days=2)), spv("VGB-C", "MISMATCH")]
    row = matrix(proofs, ["VGB-A", "VGB-B", "VGB-C"]).row("SPV")
    assert row.status == "SPV_MISMATCH" and all(f"batch {b}:" in row.detail for b in ("VGB-A", "VGB-B", "VGB-C"))


def test_quorum_counts_distinct_keys_per_batch():
    two_keys = [spv("VGB-A", issuer="recon", key="k1"), spv("VGB-A", issuer="bank", key="k2")]
    assert matrix(two_keys, ["VGB-A"], quorum=2).row("SPV").status == "OK"
    # one key each for two batches is not a quorum of two for either
    split = [spv("VGB-A", issuer="recon", key="k1"), spv("VGB-B", issuer="bank", key="k2")]
    row = matrix(split, ["VGB-A", "VGB-B"], quorum=2).row("SPV")
    assert row.status == "INSUFFICIENT_QUORUM" and row.fresh == 1
    # two issuer names signing with the same key are one key
    same_key = [*two_keys, spv("VGB-B", issuer="recon", key="k1"), spv("VGB-B", issuer="bank", key="k1")]
    row = matrix(same_key, ["VGB-A", "VGB-B"], quorum=2).row("SPV")
    assert row.status == "INSUFFICIENT_QUORUM" and "batch VGB-B: INSUFFICIENT_QUORUM" in row.detail
    assert "VGB-A" not in row.detail.split(";")[0]


def test_a_mismatch_by_one_issuer_vetoes_its_batch_whatever_the_quorum():
    proofs = [spv("VGB-A", issuer="recon", key="k1"), spv("VGB-A", "MISMATCH", issuer="bank", key="k2"),
              spv("VGB-A", issuer="auditor", key="k3")]
    assert matrix(proofs, ["VGB-A"]).row("SPV").status == "SPV_MISMATCH"


def test_without_batches_or_proofs_spv_is_missing_or_stale_as_before():
    assert [r.status for r in matrix([], None).rows] == ["MISSING_ACK", "MISSING_SPV"]
    assert [r.status for r in matrix([], []).rows] == ["MISSING_ACK", "MISSING_SPV"]
    assert matrix([spv("VGB-A", digest=OTHER)], None).row("SPV").status == "STALE_PROOF"
    # a batch bound to another digest is not one this digest accounts for
    assert matrix([spv("VGB-A", digest=OTHER), spv("VGB-B")], None).row("SPV").status == "OK"


def test_proofs_of_other_windows_never_count():
    other = {**spv("VGB-B", "MISMATCH"), "window_id": "2025-09-22"}
    assert matrix([spv("VGB-A"), other], None).row("SPV").status == "OK"


def test_gate_holds_on_a_mismatched_batch_only_when_spv_is_required():
    from vgos.gate import decide

    m = matrix([spv("VGB-A"), spv("VGB-B", "MISMATCH", issued=T0 - dt.timedelta(hours=3))], ["VGB-A", "VGB-B"])
    m.rows[0].status = "OK"  # the ACK row: only SPV is under test
    seal = {"allocations": [{"principal_id": "CRE-0001", "payout_minor": 380}]}
    acc = {**POLICY["acceptance"], "CT": {"required": False}}
    assert decide(seal, True, m, acc)[0]["reason_code"] == "SPV_MISMATCH"
    assert decide(seal, True, m, {**acc, "SPV": {"required": False}})[0]["decision"] == "ALLOW"


# ---------------------------------------------------------------- the store: batches, cancellation, the gate


@pytest.fixture
def spv_window(vgos_home, db_url):
    """The seed window sealed under a policy that requires SPV, with the demo issuers registered."""
    from vgos.acceptance import demo_issuers
    from vgos.fold import fold_files
    from vgos.policy import policy_from_manifest
    from vgos.transcript import publish_transcript

    result = fold_files([SEED_EVENTS], SEED_WINDOW, policy_from_manifest({"acceptance": {"SPV": {"required": True}}}))
    publish_transcript(result, db_url=db_url)
    return SimpleNamespace(digest=result.output_digest, proofs=ProofFactory(demo_issuers(), result.output_digest),
                           principals=[a.principal_id for a in result.allocations])


def _release(db_url: str, digest: str, principals: list[str]) -> str:
    """Batch the principals' items through the registry (a minimal rendered file); returns the batch id."""
    from vgos import payouts

    def render(items, attempt):
        lines = [SimpleNamespace(end_to_end_id=f"E{attempt}-{i.principal_id}", principal_id=i.principal_id,
                                 amount_minor=i.amount_minor, currency=i.currency, payee_ref="IBAN")
                 for i in items]
        return SimpleNamespace(provider_batch_id=f"VGB-{attempt}", payment_info_id=f"PMT-{attempt}", currency="USD",
                               execution_date="2025-09-24", created_at="2025-09-24T00:00:00Z",
                               ctrl_sum_minor=sum(i.amount_minor for i in lines), items=lines, sha256="0" * 64)

    decisions = [{"principal_id": p, "decision": "ALLOW", "output_digest": digest} for p in principals]
    batch, _ = payouts.release(SEED_WINDOW, "default", output_digest=digest, rail="csv", decisions=decisions,
                               gate_ref="test", render=render, actor=_actor(), db_url=db_url)
    return batch.provider_batch_id


def _actor():
    from vgos.payouts import Actor

    return Actor("tester", "user", "2025-09-24T00:00:00Z")


def _cancel(db_url: str, batch_id: str) -> None:
    from vgos import payouts

    payouts.mark_batch(batch_id, payouts.CANCELLED, "voided", actor=_actor(), db_url=db_url)


def _submit(db_url: str, *proofs: dict) -> None:
    from vgos.acceptance import submit_proof

    for p in proofs:
        assert submit_proof(p, db_url=db_url).accepted


def _spv(w, batch_id: str, status: str = "CONFIRMED", issued: dt.datetime = T0 - dt.timedelta(hours=1)) -> dict:
    return w.proofs.make("SPV", batch_id, status, "recon", issued,
                         reason="MISSING_RECEIPT=1" if status == "MISMATCH" else None)


def test_spv_batches_are_the_live_batches_of_the_digest(spv_window, db_url):
    from vgos.acceptance import spv_batches

    w = spv_window
    assert spv_batches(SEED_WINDOW, w.digest, db_url=db_url) == []
    a = _release(db_url, w.digest, ["CRE-0001"])
    b = _release(db_url, w.digest, ["CRE-0002"])
    c = _release(db_url, w.digest, ["CRE-0003"])
    _cancel(db_url, c)
    assert spv_batches(SEED_WINDOW, w.digest, db_url=db_url) == [a, b]
    d = _release(db_url, w.digest, ["CRE-0003"])  # the voided line's item batched again: its old batch stays void
    assert spv_batches(SEED_WINDOW, w.digest, db_url=db_url) == [a, b, d]
    assert spv_batches(SEED_WINDOW, OTHER, db_url=db_url) == []
    assert spv_batches(SEED_WINDOW, w.digest, tenant_id="acme", db_url=db_url) == []


def test_gate_with_spv_required_looks_at_every_batch(spv_window, db_url):
    from vgos.acceptance import acceptance_matrix
    from vgos.gate import authorize

    w = spv_window
    _submit(db_url, w.proofs.ack(), *(w.proofs.ct(p) for p in w.principals))
    a = _release(db_url, w.digest, ["CRE-0001"])
    b = _release(db_url, w.digest, ["CRE-0002", "CRE-0003"])
    _submit(db_url, _spv(w, b, "MISMATCH", T0 - dt.timedelta(hours=3)), _spv(w, a))

    res = authorize(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert {d["reason_code"] for d in res.decisions} == {"SPV_MISMATCH"}
    spv_row = res.matrix.row("SPV")
    assert b in spv_row.detail and f"batch {a}" not in spv_row.detail
    assert res.inputs["matrix"]["rows"][1]["subject"] == "*"

    _submit(db_url, _spv(w, b, issued=T0 - dt.timedelta(minutes=30)))  # recon re-ran: b now reconciles
    assert [d["decision"] for d in authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions] == ["ALLOW"] * 3
    assert acceptance_matrix(SEED_WINDOW, as_of=T0, db_url=db_url).row("SPV").status == "OK"


def test_a_cancelled_batch_needs_no_proof_at_the_gate(spv_window, db_url):
    from vgos.acceptance import acceptance_matrix
    from vgos.gate import authorize

    w = spv_window
    _submit(db_url, w.proofs.ack(), *(w.proofs.ct(p) for p in w.principals))
    voided = _release(db_url, w.digest, w.principals)
    _submit(db_url, _spv(w, voided, "MISMATCH"))
    _cancel(db_url, voided)
    live = _release(db_url, w.digest, w.principals)
    m = acceptance_matrix(SEED_WINDOW, as_of=T0, db_url=db_url)
    assert (m.row("SPV").status, [r.subject for r in m.rows if r.kind == "SPV"]) == ("MISSING_SPV", ["*", live])
    _submit(db_url, _spv(w, live))
    assert [d["decision"] for d in authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions] == ["ALLOW"] * 3
