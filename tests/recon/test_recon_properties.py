"""Properties of evidence per payment: whatever the bank reports, in however many files (advice, statement,
copies) and in whatever order, each payment's outcome is what the bank really did, and money is never confirmed
twice or confirmed when it did not move."""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.psp.reports import parse_bytes
from recon.match import reconcile
from tests.examples import examples
from tests.recon.bankfiles import Entry, Tx, statement
from tests.recon.test_recon_scenarios import DIGEST, WINDOW, big_batch

N = 12
FATES = ("settled", "pending", "missing", "returned", "twice")


def _files(b, fates: list[str], advice_too: list[bool], copies: list[bool]) -> list[tuple[str, bytes]]:
    """Per payment one entry in the statement (its fate), optionally also in an advice and a bank copy."""
    eod, adv, later = [], [], []
    for n, (it, fate) in enumerate(zip(b.items, fates, strict=True)):
        if fate == "missing":
            continue
        tx = [Tx(it.end_to_end_id, it.amount_minor, it.payee_ref)]
        e = Entry(it.amount_minor, status="PDNG" if fate == "pending" else "BOOK", bank_ref=f"E-{n}", txs=tx)
        eod.append(e)
        if advice_too[n]:
            adv.append(e)
        if fate == "returned":
            later.append(Entry(it.amount_minor, direction="CRDT", reversal=True, bank_ref=f"R-{n}",
                               date="2025-09-27", subfamily="RRTN", txs=[Tx(it.end_to_end_id, it.amount_minor,
                                                                            return_code="AC04")]))
        if fate == "twice":
            later.append(Entry(it.amount_minor, bank_ref=f"D-{n}", date="2025-09-26", txs=tx))
    files = [("camt053", statement(eod, stmt_id="EOD"))]
    if adv:
        files.append(("camt054", statement(adv, message="camt054", stmt_id="ADV")))
    if any(copies):
        files.append(("camt053", statement(eod, stmt_id="EOD", copy="DUPL", created="2025-09-25T07:00:00Z")))
    if later:
        files.append(("camt053", statement(later, stmt_id="LATER", created="2025-09-27T18:00:00Z")))
    return files


def _run(b, files):
    rs = []
    for fmt, data in files:
        res = parse_bytes(fmt, data, f"{fmt}-{hashlib.sha256(data).hexdigest()[:8]}.xml")
        assert res.ok and not res.flags
        rs += res.receipts
    return reconcile(WINDOW, DIGEST, None, [b], rs)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fates=st.lists(st.sampled_from(FATES), min_size=N, max_size=N),
       advice_too=st.lists(st.booleans(), min_size=N, max_size=N),
       copies=st.lists(st.booleans(), min_size=1, max_size=1), order=st.randoms(use_true_random=False))
def test_outcome_is_what_the_bank_did_in_any_file_order(fates, advice_too, copies, order):
    b = big_batch(N)
    files = _files(b, fates, advice_too, copies)
    res = _run(b, files)
    shuffled = files[:]
    order.shuffle(shuffled)
    again = _run(b, shuffled)
    assert again.result_digest == res.result_digest  # format and order independence
    want = {"settled": "SETTLED", "pending": "PENDING", "returned": "RETURNED", "twice": "SETTLED"}
    for it, fate in zip(b.items, fates, strict=True):
        assert res.outcomes.get(it.end_to_end_id) == want.get(fate), (fate, it.end_to_end_id)
    kinds = {d.subject: d.type for d in res.discrepancies}
    for it, fate in zip(b.items, fates, strict=True):
        expect = {"missing": "MISSING_RECEIPT", "returned": "RETURNED", "twice": "DUPLICATE_PAYMENT"}.get(fate)
        assert kinds.get(it.end_to_end_id) == expect, (fate, kinds.get(it.end_to_end_id))
    # confirmed at most once: every settled payment has exactly one match
    assert len({m.end_to_end_id for m in res.matches}) == len(res.matches)
    assert res.fully_reconciled == all(f == "settled" for f in fates)
