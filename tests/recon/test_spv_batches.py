"""SPV proofs are per provider batch: each batch is confirmed or mismatched on its own status and discrepancies."""

from __future__ import annotations

import datetime as dt

from recon.match import Discrepancy, ReconResult
from recon.spv import sign_spv_proofs, spv_proofs

WINDOW = "2025-09-23"
DIGEST = "c" * 64
AS_OF = dt.datetime(2025, 9, 25, 9, 0, tzinfo=dt.UTC)


def disc(kind: str, batch_id: str | None, severity: str = "HIGH", subject: str = "E1") -> Discrepancy:
    return Discrepancy(kind, severity, 100, subject, None, None, None, None, "test", batch_id=batch_id)


def result(batches: dict[str, str], *discrepancies: Discrepancy) -> ReconResult:
    return ReconResult("default", WINDOW, DIGEST, 4, discrepancies=list(discrepancies), batches=batches)


def by_batch(res: ReconResult, **kw) -> dict[str, dict]:
    return {p["subject_id"]: p for p in spv_proofs(res, issued_at=AS_OF, **kw)}


def test_a_mismatch_reason_lists_only_its_own_batch_discrepancies():
    res = result({"VGB-A": "MATCHED", "VGB-B": "PARTIAL"},
                 disc("AMOUNT_MISMATCH", "VGB-B"), disc("MISSING_RECEIPT", "VGB-B", subject="E2"),
                 disc("MISSING_RECEIPT", "VGB-B", subject="E3"), disc("EXTERNAL_ONLY", None, subject="X9"))
    proofs = by_batch(res)
    assert proofs["VGB-A"]["status"] == "CONFIRMED" and "reason" not in proofs["VGB-A"]
    assert proofs["VGB-B"]["status"] == "MISMATCH"
    assert proofs["VGB-B"]["reason"] == "MISSING_RECEIPT=2; AMOUNT_MISMATCH=1"  # type order, counts of B only


def test_a_matched_batch_with_an_open_discrepancy_is_not_confirmed():
    res = result({"VGB-A": "MATCHED", "VGB-B": "MATCHED"}, disc("FEE_MISMATCH", "VGB-A", "MEDIUM"))
    proofs = by_batch(res)
    assert (proofs["VGB-A"]["status"], proofs["VGB-A"]["reason"]) == ("MISMATCH", "FEE_MISMATCH=1")
    assert proofs["VGB-B"]["status"] == "CONFIRMED"


def test_an_info_difference_within_tolerance_does_not_block():
    res = result({"VGB-A": "MATCHED"}, disc("WITHIN_TOLERANCE", "VGB-A", "INFO"))
    assert by_batch(res)["VGB-A"]["status"] == "CONFIRMED"


def test_a_discrepancy_a_person_resolved_does_not_block():
    d = disc("FEE_MISMATCH", "VGB-A", "MEDIUM")
    res = result({"VGB-A": "MATCHED"}, d)
    res.resolved = frozenset({d.case_key})
    assert by_batch(res)["VGB-A"]["status"] == "CONFIRMED"


def test_an_unsettled_batch_without_discrepancy_says_its_status():
    res = result({"VGB-P": "PENDING", "VGB-U": "UNMATCHED"})
    proofs = by_batch(res)
    assert (proofs["VGB-P"]["status"], proofs["VGB-P"]["reason"]) == ("MISMATCH", "batch PENDING")
    assert (proofs["VGB-U"]["status"], proofs["VGB-U"]["reason"]) == ("MISMATCH", "batch UNMATCHED")


def test_proofs_are_one_per_batch_valid_and_signed(vgos_home):
    from vgos.acceptance import demo_issuers, load_issuers, validate_proof

    res = result({"VGB-B": "PARTIAL", "VGB-A": "MATCHED"}, disc("RETURNED", "VGB-B"))
    bodies = spv_proofs(res, issued_at=AS_OF, tenant_id="acme")
    assert [(b["subject_id"], b["kind"], b["output_digest"], b["tenant_id"]) for b in bodies] == [
        ("VGB-A", "SPV", DIGEST, "acme"), ("VGB-B", "SPV", DIGEST, "acme")]
    keys = demo_issuers(vgos_home)
    registry = load_issuers(vgos_home / "issuers.json")
    for p in sign_spv_proofs(bodies, keys["recon"]):
        assert validate_proof(p, registry) == p


def test_the_window_is_not_accepted_while_one_batch_mismatches():
    """From a recon result to the acceptance matrix: batch B's mismatch holds even with A confirmed later."""
    from vgos.acceptance import evaluate_matrix

    early = spv_proofs(result({"VGB-A": "PARTIAL", "VGB-B": "PARTIAL"}, disc("MISSING_RECEIPT", "VGB-A"),
                              disc("MISSING_RECEIPT", "VGB-B")), issued_at=AS_OF - dt.timedelta(hours=2))
    late = [p for p in spv_proofs(result({"VGB-A": "MATCHED", "VGB-B": "PARTIAL"}, disc("MISSING_RECEIPT", "VGB-B")),
                                  issued_at=AS_OF) if p["subject_id"] == "VGB-A"]
    policy = {"acceptance": {"SPV": {"required": True, "freshness_s": 604_800, "quorum": 1}}}
    m = evaluate_matrix(WINDOW, DIGEST, AS_OF, policy, early + late, [], 0, spv_batches=["VGB-A", "VGB-B"])
    row = m.row("SPV")
    assert row.status == "SPV_MISMATCH" and "batch VGB-B" in row.detail and "batch VGB-A" not in row.detail
    assert m.row("SPV", "VGB-A").status == "OK"
