"""recon.evidence.movements clusters in linear time and exactly as the plain first-match scan it replaced."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.psp.receipts import BOOKED, BOOKING, FEE, PENDING, Receipt
from recon.evidence import Movement, _state, _value_key, movements
from tests.examples import examples

FILES = {f"f{n}": (hashlib.sha256(bytes([n])).hexdigest(), fmt)
         for n, fmt in enumerate(("camt053", "camt053", "camt054", "mt940", "camt052"))}


def _reference(receipts):
    """The quadratic scan of the first version: the oracle."""
    def elsewhere(a, b):
        if {r.format for r in a} & {r.format for r in b} or {r.raw_sha256 for r in a} & {r.raw_sha256 for r in b}:
            return False
        return len({r.account for r in a + b if r.account}) <= 1

    rs = sorted(receipts, key=lambda r: (r.raw_sha256, r.seq))
    by_ref, loose, nth = {}, [], {}
    for r in rs:
        if r.bank_ref:
            base = (r.kind == FEE, r.bank_ref, r.direction, r.reversal)
            k = nth[(r.raw_sha256, *base)] = nth.get((r.raw_sha256, *base), -1) + 1
            by_ref.setdefault((*base, k), []).append(r)
        else:
            loose.append(r)
    clusters, same = [], {}
    for _, c in sorted(by_ref.items(), key=lambda kv: min(r.receipt_id for r in kv[1])):
        peers = same.setdefault((_value_key(c[0]), c[0].kind == FEE), [])
        home = next((h for h in peers if elsewhere(h, c)), None)
        if home is None:
            clusters.append(list(c))
            peers.append(clusters[-1])
        else:
            home.extend(c)
    for r in loose:
        peers = same.setdefault((_value_key(r), r.kind == FEE), [])
        home = next((c for c in peers if all(x.raw_sha256 != r.raw_sha256 for x in c)), None)
        if home is None:
            clusters.append([r])
            peers.append(clusters[-1])
        else:
            home.append(r)
    return sorted((Movement(tuple(c), _state(c)) for c in clusters), key=lambda m: m.rep.receipt_id)


def _r(file: str, seq: int, amount: int, bank_ref: str | None, account: str | None, kind: str = BOOKING,
       booking: str = BOOKED) -> Receipt:
    sha, fmt = FILES[file]
    return Receipt(provider="bank", format=fmt, kind=kind, level="TX", provider_ref=None, batch_ref=None,
                   end_to_end_id=None, window_ref=None, payee_ref=None, amount_minor=amount, currency="EUR",
                   fee_minor=0, direction="DBIT", status="BOOK", reason=None, booked_at=None, source=f"{file}:{seq}",
                   line=seq, seq=seq, raw_sha256=sha, booking_date="2025-09-24", bank_ref=bank_ref, account=account,
                   booking=booking)


receipt = st.builds(lambda f, a, b, acct, k, bk: (f, a, b, acct, k, bk), st.sampled_from(sorted(FILES)),
                    st.sampled_from([100, 100, 200]), st.sampled_from([None, None, "R1", "R2", "R3"]),
                    st.sampled_from([None, None, "CH93", "DE89"]), st.sampled_from([BOOKING, BOOKING, FEE]),
                    st.sampled_from([BOOKED, BOOKED, PENDING]))


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(receipt, max_size=30))
def test_movements_are_the_first_match_scan(spec):
    rs = [_r(f, n, a, b, acct, k, bk) for n, (f, a, b, acct, k, bk) in enumerate(spec, 1)]
    assert movements(rs) == _reference(rs)


def test_many_bookings_of_one_value_cluster_in_linear_time():
    """20,000 distinct bookings of the same amount (a window's unexplained leftovers) plus 2,000 without a
    reference: each loose one joins the first booking of the other file (the first-match scan needed ~10^8
    comparisons for this; the indexed one runs it in well under a second)."""
    def window(n: int, m: int) -> list[Receipt]:
        return [_r(f"f{k % 2}", k, 500, f"B{k}", "CH93") for k in range(n)] + \
            [_r("f0", 100_000 + k, 500, None, None) for k in range(m)]

    small = window(400, 40)
    assert movements(small) == _reference(small)
    out = movements(window(20_000, 2_000))
    assert len(out) == 20_000 and sum(len(m.receipts) for m in out) == 22_000
    joined = [m for m in out if len(m.receipts) == 2]
    assert len(joined) == 2_000 and all({r.raw_sha256 for r in m.receipts} == {FILES["f0"][0], FILES["f1"][0]}
                                        for m in joined)
