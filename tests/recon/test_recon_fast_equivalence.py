"""The columnar reconciliation (recon.fast) is the exact rules (recon.match), result for result, digest for digest.

Windows are drawn at random with every kind of receipt the readers produce (bookings, batch bookings with their
detail lines, statuses, fees, notices; pending, info, flagged, reversed, credited, fee-bearing, foreign-currency,
off-by-one, keyless returns naming a payee, NACHA stand-in ids), so the clean fast path must leave every doubtful
payment to the rules and agree with them on everything else.
"""

from __future__ import annotations

import hashlib

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.psp.receipts import BOOKED, BOOKING, DETAIL, FEE, INFO, NOTICE, PENDING, STATUS, Receipt
from recon.digest import result_digest
from recon.fast import reconcile_frames, split_clean
from recon.frames import MatchFrame, receipt_frame
from recon.match import reconcile
from tests.examples import examples
from vgos.canonical import jcs_bytes, sha256_hex

WINDOW, DIGEST = "2025-09-23", "d" * 64
FILES = [hashlib.sha256(bytes([n])).hexdigest() for n in range(2)]


def _e2e(n: int) -> str:
    return f"VG20250923-{hashlib.sha256(str(n).encode()).hexdigest()[:20]}"


@st.composite
def windows(draw):
    n_batches = draw(st.integers(1, 2))
    n = draw(st.integers(1, 14))
    items = []
    for i in range(n):
        bid = f"VGB20250923-{draw(st.integers(0, n_batches - 1)):016d}"
        items.append({"provider_batch_id": bid, "end_to_end_id": _e2e(i), "principal_id": f"P{i:03d}",
                      "amount_minor": draw(st.sampled_from([100, 250, 999, 1000])), "currency": "EUR",
                      "payee_ref": draw(st.sampled_from(["DE89 3704", "de893704", "FR76", "GB29"])),
                      "payout_item_id": None})
    items.sort(key=lambda i: (i["provider_batch_id"], i["end_to_end_id"]))
    batches = []
    for b in sorted({i["provider_batch_id"] for i in items}):
        its = [i for i in items if i["provider_batch_id"] == b]
        batches.append({"provider_batch_id": b, "tenant_id": "default", "window_id": WINDOW,
                        "output_digest": DIGEST, "rail": "pain001", "payment_info_id": "VGP" + b[3:],
                        "currency": "EUR", "execution_date": "2025-09-24", "created_at": "2025-09-23T21:00:00Z",
                        "ctrl_sum_minor": sum(i["amount_minor"] for i in its), "n_items": len(its),
                        "sha256": "b" * 64, "location": None, "attempt": 1})
    receipts: list[Receipt] = []
    seq = dict.fromkeys(FILES, 0)

    def add(**kw):
        f = kw.pop("file")
        seq[f] += 1
        base = dict(provider="bank", format="camt053", kind=BOOKING, level="TX", provider_ref=None, batch_ref=None,
                    end_to_end_id=None, window_ref=None, payee_ref=None, amount_minor=None, currency="EUR",
                    fee_minor=0, direction="DBIT", status="BOOK", reason=None, booked_at="2025-09-24",
                    source=f"{f[:6]}.xml:{seq[f]}", line=seq[f], seq=seq[f], raw_sha256=f,
                    booking_date="2025-09-24", value_date="2025-09-24")
        r = Receipt(**(base | kw))
        receipts.append(r)
        return r

    parents = {}
    for b in batches:
        if draw(st.booleans()):
            f = draw(st.sampled_from(FILES))
            parents[b["provider_batch_id"]] = add(
                file=f, level="BATCH", batch_ref=b["payment_info_id"], n_txs=draw(st.sampled_from([b["n_items"], 1])),
                amount_minor=b["ctrl_sum_minor"] + draw(st.sampled_from([0, 0, 1])),
                booking=draw(st.sampled_from([BOOKED, BOOKED, PENDING])),
                reversal=draw(st.booleans()) and draw(st.booleans()),
                flagged=draw(st.sampled_from([None, None, "BALANCE_MISMATCH"])), bank_ref=f"B-{b['rail']}")
        if draw(st.integers(0, 5)) == 0:
            add(file=draw(st.sampled_from(FILES)), kind=STATUS, level="BATCH", batch_ref=b["provider_batch_id"],
                status="RJCT", reversal=True, return_code="AM04")
    for it in items:
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3]))):
            f = draw(st.sampled_from(FILES))
            way = draw(st.sampled_from(["e2e", "e2e", "e2e", "ref", "ach", "ach", "payee", "payee", "other"]))
            kind = draw(st.sampled_from([BOOKING, BOOKING, DETAIL, DETAIL, STATUS, FEE, NOTICE]))
            parent = parents.get(it["provider_batch_id"])
            on_file = parent is not None and parent.raw_sha256 == f
            back = draw(st.integers(0, 3)) == 0
            add(file=f, kind=kind,
                end_to_end_id={"e2e": it["end_to_end_id"], "ach": "VG" + it["end_to_end_id"][-13:],
                               "other": _e2e(999)}.get(way),
                provider_ref=it["end_to_end_id"] if way == "ref" else None,
                payee_ref=it["payee_ref"] if way == "payee" or draw(st.booleans()) else None,
                amount_minor=draw(st.sampled_from([it["amount_minor"]] * 4 + [it["amount_minor"] + 1, None])),
                currency=draw(st.sampled_from(["EUR"] * 6 + ["USD"])),
                fee_minor=draw(st.sampled_from([0] * 6 + [5])),
                direction="CRDT" if back and draw(st.booleans()) else "DBIT", reversal=back,
                booking=draw(st.sampled_from([BOOKED] * 6 + [PENDING, INFO])),
                flagged=draw(st.sampled_from([None] * 6 + ["TOTALS_MISMATCH"])),
                batch_ref=parent.batch_ref if on_file and kind == DETAIL else None,
                parent_seq=parent.seq if on_file and kind == DETAIL else None,
                booking_date=draw(st.sampled_from(["2025-09-24"] * 4 + ["2025-09-27", None])),
                bank_ref=draw(st.sampled_from([None, "X1", "X2", f"T-{it['end_to_end_id'][-4:]}"])),
                status="RJCT" if kind == STATUS else "BOOK")
    return batches, items, receipts, draw(st.sampled_from([0, 0, 1]))


def _with_items(batches, items):
    return [b | {"items": [i for i in items if i["provider_batch_id"] == b["provider_batch_id"]]} for b in batches]


@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(windows(), st.randoms(use_true_random=False))
def test_columnar_reconcile_is_the_exact_rules(window, rnd):
    batches, items, receipts, tol = window
    want = reconcile(WINDOW, DIGEST, None, _with_items(batches, items), receipts, amount_tolerance_minor=tol)
    shuffled = receipts[:]
    rnd.shuffle(shuffled)
    got = reconcile_frames(WINDOW, DIGEST, batches, pl.DataFrame(items), receipt_frame(shuffled),
                           amount_tolerance_minor=tol)
    assert isinstance(got.matches, MatchFrame)
    assert list(got.matches) == list(want.matches)
    assert got.discrepancies == want.discrepancies
    assert (got.outcomes, got.batches, got.pending, got.fees) == (want.outcomes, want.batches, want.pending,
                                                                 want.fees)
    assert (got.n_expected, got.n_receipts, got.fully_reconciled) == (want.n_expected, want.n_receipts,
                                                                     want.fully_reconciled)
    assert got.to_dict() == want.to_dict()
    assert got.result_digest == want.result_digest == sha256_hex(jcs_bytes(want.to_dict()))


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=6), st.text(max_size=6), st.none() | st.text(max_size=4),
                          st.integers(0, 100)), min_size=0, max_size=8, unique_by=lambda t: t[0]))
def test_columnar_digest_escapes_like_the_canonical_form(rows):
    """Text that needs JSON escaping (quotes, backslashes, control and non-ASCII characters) hashes the same, in
    matches and in outcome keys (whose canonical order is by UTF-16 code units)."""
    from recon.match import Match, ReconResult

    ms = sorted((Match(e, p, b, "r:1:1", "end_to_end_id", c) for e, p, b, c in rows), key=lambda m: m.end_to_end_id)
    res = ReconResult("default", WINDOW, DIGEST, len(ms), matches=MatchFrame(pl.DataFrame(
        [tuple(m.__getattribute__(f) for f in Match.__dataclass_fields__) for m in ms],
        schema=list(Match.__dataclass_fields__), orient="row")),
        outcomes={m.end_to_end_id: "SETTLED" for m in ms})
    assert result_digest(res) == sha256_hex(jcs_bytes(res.to_dict()))
    plain = ReconResult("default", WINDOW, DIGEST, 3, matches=MatchFrame(pl.DataFrame(schema=dict.fromkeys(
        Match.__dataclass_fields__, pl.String)).cast({"confidence_pct": pl.Int64})),
        outcomes={"VG-b": "SETTLED", "VG-a": "RETURNED", "VG-c": "PENDING"})
    assert result_digest(plain) == sha256_hex(jcs_bytes(plain.to_dict()))


def _r(seq: int, e2e: str | None, f: int = 0, **kw) -> Receipt:
    base = dict(provider="bank", format="camt053", kind=BOOKING, level="TX", provider_ref=None, batch_ref=None,
                end_to_end_id=e2e, window_ref=None, payee_ref=None, amount_minor=100, currency="EUR", fee_minor=0,
                direction="DBIT", status="BOOK", reason=None, booked_at="2025-09-24", source=f"f{f}.xml:{seq}",
                line=seq, seq=seq, raw_sha256=FILES[f], booking_date="2025-09-24", bank_ref=f"A{seq}")
    return Receipt(**(base | kw))


E0, E1 = _e2e(0), _e2e(1)
ITEMS = [{"provider_batch_id": "VGB1", "end_to_end_id": e, "principal_id": p, "amount_minor": 100, "currency": "EUR",
          "payee_ref": a, "payout_item_id": None} for e, p, a in ((E0, "P0", "DE89 3704"), (E1, "P1", "FR76"))]
BATCHES = [{"provider_batch_id": "VGB1", "payment_info_id": "VGP1", "ctrl_sum_minor": 200, "currency": "EUR",
            "n_items": 2, "execution_date": "2025-09-24"}]
CASES = {
    # a second debit filed under the payment by its NACHA stand-in id: a duplicate, not a clean settlement
    "ach stand-in": [_r(1, E0), _r(2, "VG" + E0[-13:], bank_ref="B"), _r(3, E1)],
    # a second receipt naming the payment only in provider_ref
    "provider_ref": [_r(1, E0), _r(2, None, provider_ref=E0, bank_ref="B"), _r(3, E1)],
    # a return without our id, found by payee + amount + date
    "keyless return": [_r(1, E0), _r(2, E1), _r(3, None, direction="CRDT", reversal=True, payee_ref="de893704",
                                                 booking_date="2025-09-27", bank_ref="R", return_code="R01")],
    # a detail line inherits its batch booking's pending state
    "pending batch booking": [_r(1, None, level="BATCH", batch_ref="VGP1", amount_minor=200, booking=PENDING, n_txs=2),
                              _r(2, E0, kind=DETAIL, parent_seq=1, batch_ref="VGP1"),
                              _r(3, E1, kind=DETAIL, parent_seq=1, batch_ref="VGP1")],
    # the batch booking is reversed: its presettled lines are returned too
    "batch reversed": [_r(1, None, level="BATCH", batch_ref="VGP1", amount_minor=200, n_txs=2),
                       _r(2, E0, kind=DETAIL, parent_seq=1, batch_ref="VGP1"),
                       _r(3, E1, kind=DETAIL, parent_seq=1, batch_ref="VGP1"),
                       _r(4, None, 1, level="BATCH", batch_ref="VGP1", amount_minor=200, direction="CRDT",
                          reversal=True, bank_ref="RV")],
    "status after booking": [_r(1, E0), _r(2, E0, kind=STATUS, status="RJCT", reversal=True), _r(3, E1)],
    "fee line": [_r(1, E0), _r(2, E0, kind=FEE, amount_minor=5, bank_ref="F"), _r(3, E1)],
    "reversed booking": [_r(1, E0, reversal=True, return_code="AC04"), _r(2, E1)],
    # one clean booking keyed only by the provider reference, or by the NACHA stand-in id: settled by the join too
    "provider_ref only": [_r(1, None, provider_ref=E0), _r(2, E1)],
    "ach only": [_r(1, "VG" + E0[-13:]), _r(2, E1)],
    # one booking that names two payouts (EndToEndId of one, provider reference of the other): the rules file it
    # under its EndToEndId only, the other payout stays missing
    "names two payouts": [_r(1, E0, provider_ref=E1)],
    # the detail line of a reversed batch booking names only a payee account: the rules read it as a return
    # (it inherits the reversal) and file it under the payment with that payee and amount
    "detail of a reversed batch booking": [
        _r(1, None, level="BATCH", batch_ref="VGP9", amount_minor=100, reversal=True, n_txs=1),
        _r(2, None, kind=DETAIL, parent_seq=1, batch_ref="VGP9", payee_ref="DE893704"), _r(3, E0), _r(4, E1)],
    "notice only": [_r(1, E0), _r(2, E0, kind=NOTICE, bank_ref="N"), _r(3, E1)],
}


def test_columnar_reconcile_on_the_doubtful_cases():
    """Each case has one payment the fast path must leave to the rules; both give the same result."""
    for name, rs in CASES.items():
        want = reconcile(WINDOW, DIGEST, None, _with_items(BATCHES, ITEMS), rs)
        got = reconcile_frames(WINDOW, DIGEST, BATCHES, pl.DataFrame(ITEMS), receipt_frame(rs))
        assert got.to_dict() == want.to_dict(), name
        assert got.result_digest == want.result_digest, name
    assert {d.type for d in reconcile(WINDOW, DIGEST, None, _with_items(BATCHES, ITEMS), CASES["ach stand-in"])
            .discrepancies} == {"DUPLICATE_PAYMENT"}
    # the clean ones are settled by the join, whichever way the receipt names the payment
    for name in ("provider_ref only", "ach only"):
        assert split_clean(pl.DataFrame(ITEMS).drop("payout_item_id"), receipt_frame(CASES[name]))[0].height == 2
    assert split_clean(pl.DataFrame(ITEMS).drop("payout_item_id"), receipt_frame(CASES["ach stand-in"]))[0].height == 1
