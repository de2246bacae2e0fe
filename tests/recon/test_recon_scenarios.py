"""Reconciliation scenarios on a window of a few thousand payees, each through real bank files (camt.053 and
camt.054 v08 valid against the XSD, pain.002) parsed by the production readers.

Each scenario ends with the payment outcomes (what moves the payout items), the discrepancies, and the batch
verdicts that become SPV proofs."""

from __future__ import annotations

import hashlib
import itertools
import random
from functools import cache

import pytest

from connectors.psp.batch import Batch, build_batch
from connectors.psp.payees import Payee
from connectors.psp.reports import parse_bytes
from recon.match import reconcile
from tests.recon.bankfiles import Entry, Tx, nacha_returns, statement
from tests.recon.demo import pain002_for

WINDOW, DIGEST = "2025-09-23", "ab" * 32
N = 2000


@cache
def big_batch(n: int = N, attempt: int = 1) -> Batch:
    decisions = [{"principal_id": f"P{i:05d}", "payout_minor": 1000 + (i * 7919) % 90_000, "decision": "ALLOW",
                  "output_digest": DIGEST} for i in range(n)]
    payees = {d["principal_id"]: Payee(d["principal_id"], name=f"Payee {d['principal_id']}",
                                       iban=f"DE{89 + i % 10:02d}370400440532013{i:03d}"[:22])
              for i, d in enumerate(decisions)}
    return build_batch("csv", tenant_id="default", window_id=WINDOW, output_digest=DIGEST, currency="USD",
                       decisions=decisions, debtor={"name": "Platform", "iban": "CH9300762011623852957"},
                       execution_date="2025-09-24", payees=payees, created_at="2025-09-23T21:00:00Z",
                       attempt=attempt)


def _rail_batch(rail: str, n: int, base: int, coords) -> Batch:
    """n payees paid base+i minor units on a rail, with the payment coordinates `coords(i)` gives."""
    decisions = [{"principal_id": f"R{i}", "payout_minor": base + i, "decision": "ALLOW", "output_digest": DIGEST}
                 for i in range(n)]
    payees = {d["principal_id"]: Payee(d["principal_id"], name="Payee", **coords(i)) for i, d in enumerate(decisions)}
    return build_batch(rail, tenant_id="default", window_id=WINDOW, output_digest=DIGEST, currency="USD",
                       decisions=decisions, debtor={"name": "Platform", "iban": "CH9300762011623852957"},
                       execution_date="2025-09-24", payees=payees, created_at="2025-09-23T21:00:00Z")


def batch_entry(b: Batch, *, skip: set[str] = frozenset(), amount: int | None = None, ref: str = "B-1",
                details: bool = True, **kw) -> Entry:
    """The bank's one debit for the whole batch, with a TxDtls per payment (unless details=False)."""
    txs = [Tx(i.end_to_end_id, i.amount_minor, i.payee_ref, f"T-{n:05d}") for n, i in enumerate(b.items)
           if i.end_to_end_id not in skip]
    total = sum(t.amount for t in txs) if amount is None else amount
    return Entry(total, bank_ref=ref, batch=(b.provider_batch_id, b.payment_info_id),
                 n_txs=None if details else len(b.items), txs=txs if details else [], **kw)


def receipts(*files: tuple[str, bytes]) -> list:
    out = []
    for fmt, data in files:
        res = parse_bytes(fmt, data, f"{fmt}-{hashlib.sha256(data).hexdigest()[:8]}.xml")  # named by content
        assert res.ok, res.quarantined
        out += res.receipts
    return out


def run(b: Batch | list[Batch], *files: tuple[str, bytes], **kw):
    return reconcile(WINDOW, DIGEST, None, b if isinstance(b, list) else [b], receipts(*files), **kw)


def outcomes(res) -> dict[str, int]:
    c: dict[str, int] = {}
    for v in res.outcomes.values():
        c[v] = c.get(v, 0) + 1
    return c


def types(res) -> list[str]:
    return sorted(d.type for d in res.discrepancies)


def spv(res, batch: Batch | None = None) -> str:
    """The SPV verdict recon would sign for the (first) batch."""
    import datetime as dt

    from recon.spv import spv_proofs

    proofs = spv_proofs(res, issued_at=dt.datetime(2025, 9, 25, tzinfo=dt.UTC))
    bid = batch.provider_batch_id if batch is not None else None
    return next(p["status"] for p in proofs if bid is None or p["subject_id"] == bid)


def _group_reject(b: Batch) -> bytes:
    """pain.002 whose group status is RJCT (the bank refused the whole message)."""
    data = pain002_for(b, {})
    return data.replace(b"<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>",
                        b"<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><GrpSts>RJCT</GrpSts>"
                        b"<StsRsnInf><Rsn><Cd>AM05</Cd></Rsn></StsRsnInf>")


def test_exact_one_debit_batch_with_details_settles_every_payment():
    b = big_batch()
    res = run(b, ("camt053", statement([batch_entry(b)])))
    assert res.fully_reconciled and res.discrepancies == []
    assert outcomes(res) == {"SETTLED": N} and res.batches == {b.provider_batch_id: "MATCHED"}
    assert {m.method for m in res.matches} == {"end_to_end_id"} and spv(res) == "CONFIRMED"


def test_one_debit_without_details_is_checked_against_total_and_count():
    b = big_batch()
    res = run(b, ("camt053", statement([batch_entry(b, details=False)])))
    assert res.fully_reconciled and {m.method for m in res.matches} == {"batch_total"}
    # the debit must equal the batch total: one unit short settles nothing
    short = run(b, ("camt053", statement([batch_entry(b, details=False, amount=b.ctrl_sum_minor - 1)])))
    assert types(short) == ["MISSING_RECEIPT"] * N + ["PROVIDER_TOTALS_MISMATCH"]
    assert short.outcomes == {} and short.batches[b.provider_batch_id] == "UNMATCHED"
    # and the count: the same total said to cover one payment fewer
    e = batch_entry(b, details=False)
    e.n_txs = N - 1
    assert "PROVIDER_TOTALS_MISMATCH" in types(run(b, ("camt053", statement([e]))))


def test_missing_payment_is_missing_and_the_batch_debit_disagrees():
    b = big_batch()
    gone = b.items[17].end_to_end_id
    res = run(b, ("camt053", statement([batch_entry(b, skip={gone})])))  # the bank debited the lines it paid
    assert types(res) == ["MISSING_RECEIPT", "PROVIDER_TOTALS_MISMATCH"]
    assert res.discrepancies[0].subject == gone and res.discrepancies[0].batch_id == b.provider_batch_id
    assert res.discrepancies[1].expected_minor == b.ctrl_sum_minor
    assert outcomes(res) == {"SETTLED": N - 1} and res.batches[b.provider_batch_id] == "PARTIAL"
    # a statement whose batch entry claims the full total over the lines it lists contradicts itself
    odd = run(b, ("camt053", statement([batch_entry(b, skip={gone}, amount=b.ctrl_sum_minor)])))
    assert outcomes(odd) == {} and {d.type for d in odd.discrepancies} >= {"UNCONFIRMED_STATEMENT"}


def test_payment_booked_twice_is_a_critical_duplicate_payment():
    b = big_batch()
    it = b.items[5]
    again = Entry(it.amount_minor, bank_ref="X-2", date="2025-09-25",
                  txs=[Tx(it.end_to_end_id, it.amount_minor, it.payee_ref, "X-2")])
    res = run(b, ("camt053", statement([batch_entry(b)])), ("camt053", statement([again], stmt_id="S2")))
    [d] = res.discrepancies
    assert (d.type, d.severity, d.subject) == ("DUPLICATE_PAYMENT", "CRITICAL", it.end_to_end_id)
    assert res.batches[b.provider_batch_id] == "PARTIAL" and not res.fully_reconciled


def test_unknown_booking_with_a_window_reference_is_external_only():
    b = big_batch()
    stranger = Entry(999, bank_ref="U-1", txs=[Tx("VG20250923-unknown000000000000", 999, None, "U-1")])
    res = run(b, ("camt053", statement([batch_entry(b), stranger])))
    [d] = res.discrepancies
    assert (d.type, d.actual_minor) == ("EXTERNAL_ONLY", 999) and outcomes(res) == {"SETTLED": N}


def test_returned_payment_by_camt_reversal_with_and_without_a_reason_code():
    b = big_batch()
    a, c = b.items[3], b.items[4]
    back = [Entry(a.amount_minor, direction="CRDT", reversal=True, bank_ref="R-1", date="2025-09-26",
                  subfamily="RRTN", txs=[Tx(a.end_to_end_id, a.amount_minor, a.payee_ref, "R-1",
                                            return_code="AC04")]),
            Entry(c.amount_minor, direction="CRDT", reversal=True, bank_ref="R-2", date="2025-09-26",
                  subfamily="RRTN", txs=[Tx(c.end_to_end_id, c.amount_minor, c.payee_ref, "R-2", returned=True)])]
    res = run(b, ("camt053", statement([batch_entry(b)])), ("camt053", statement(back, stmt_id="S2")))
    assert res.outcomes[a.end_to_end_id] == "RETURNED" and res.outcomes[c.end_to_end_id] == "RETURNED"
    details = {d.subject: d.detail for d in res.discrepancies}
    assert "AC04" in details[a.end_to_end_id] and "no return reason" in details[c.end_to_end_id]
    assert types(res) == ["RETURNED", "RETURNED"] and outcomes(res) == {"SETTLED": N - 2, "RETURNED": 2}


def test_pain002_rejection_fails_the_payment_and_a_group_reject_fails_the_batch():
    b = big_batch()
    x = b.items[9]
    sts = pain002_for(b, {x.end_to_end_id: ("RJCT", "AC01")})
    res = run(b, ("camt053", statement([batch_entry(b, skip={x.end_to_end_id})])), ("pain002", sts))
    assert res.outcomes[x.end_to_end_id] == "FAILED" and "AC01" in res.discrepancies[0].detail
    assert outcomes(res) == {"SETTLED": N - 1, "FAILED": 1}
    assert spv(res) == "MISMATCH"  # a rejected line is not a confirmed batch
    # the whole group rejected before anything was booked: every line FAILED, nothing settled
    whole = _group_reject(b)
    res = run(b, ("pain002", whole))
    assert outcomes(res) == {"FAILED": N} and res.batches[b.provider_batch_id] == "UNMATCHED"


def test_pending_entries_keep_payments_open_without_a_discrepancy():
    b = big_batch()
    res = run(b, ("camt053", statement([batch_entry(b, status="PDNG")])))
    assert res.discrepancies == [] and outcomes(res) == {"PENDING": N}
    assert res.batches[b.provider_batch_id] == "PENDING" and not res.fully_reconciled and spv(res) == "MISMATCH"
    # the booked statement later (same bank reference) settles them
    res = run(b, ("camt053", statement([batch_entry(b, status="PDNG")])),
              ("camt053", statement([batch_entry(b)], stmt_id="S2")))
    assert res.fully_reconciled and outcomes(res) == {"SETTLED": N}


def test_info_entry_is_not_money():
    b = big_batch()
    info = batch_entry(b, status="INFO", ref="I-1")
    res = run(b, ("camt053", statement([batch_entry(b), info])))
    assert res.fully_reconciled and outcomes(res) == {"SETTLED": N}


def test_batch_debited_twice_and_batch_reversed():
    b = big_batch()
    twice = run(b, ("camt053", statement([batch_entry(b, details=False)])),
                ("camt053", statement([batch_entry(b, details=False, ref="B-2", date="2025-09-25")], stmt_id="S2")))
    assert "BATCH_DEBITED_TWICE" in types(twice) and twice.batches[b.provider_batch_id] != "MATCHED"
    assert not twice.fully_reconciled
    rev = Entry(b.ctrl_sum_minor, direction="CRDT", reversal=True, bank_ref="B-R", date="2025-09-26",
                batch=(b.provider_batch_id, b.payment_info_id), n_txs=len(b.items), subfamily="RRTN")
    res = run(b, ("camt053", statement([batch_entry(b)])), ("camt053", statement([rev], stmt_id="S2")))
    assert "BATCH_REVERSED" in types(res) and outcomes(res) == {"RETURNED": N}
    assert res.batches[b.provider_batch_id] == "UNMATCHED" and spv(res) == "MISMATCH"
    assert spv(twice) == "MISMATCH"


def test_advice_plus_statement_for_the_same_batch_count_once():
    b = big_batch()
    files = [("camt054", statement([batch_entry(b)], message="camt054", stmt_id="ADV")),
             ("camt053", statement([batch_entry(b)], stmt_id="EOD"))]
    res = run(b, *files)
    assert res.fully_reconciled and res.discrepancies == [] and outcomes(res) == {"SETTLED": N}


def test_bank_copy_marked_duplicate_is_not_a_second_payment():
    b = big_batch()
    res = run(b, ("camt053", statement([batch_entry(b)])),
              ("camt053", statement([batch_entry(b)], copy="DUPL", created="2025-09-25T06:00:00Z")))
    assert res.fully_reconciled and res.discrepancies == []


def test_fees_become_fee_lines_and_a_payment_short_by_its_fee_settles():
    b = big_batch()
    whole = batch_entry(b, charges=250, charges_included=True)
    whole.amount += 250  # the bank debited the batch plus its charge as one booking (ChrgInclInd true)
    res = run(b, ("camt053", statement([whole])))
    assert res.fully_reconciled and [f.amount_minor for f in res.fees] == [250]
    # booked per payment: one payee received the payout net of the provider's reported fee
    small = big_batch(5)
    it = small.items[0]
    entries = [Entry(i.amount_minor, bank_ref=f"P-{n}", txs=[Tx(i.end_to_end_id, i.amount_minor, i.payee_ref)])
               for n, i in enumerate(small.items[1:])]
    entries.append(Entry(it.amount_minor - 75, bank_ref="F-1", charges=75,
                         txs=[Tx(it.end_to_end_id, it.amount_minor - 75, it.payee_ref)]))
    res = run(small, ("camt053", statement(entries)))
    assert res.fully_reconciled and [f.amount_minor for f in res.fees] == [75]
    # the same shortfall without a reported fee is an amount mismatch
    entries[-1] = Entry(it.amount_minor - 75, bank_ref="F-1", txs=[Tx(it.end_to_end_id, it.amount_minor - 75)])
    assert types(run(small, ("camt053", statement(entries)))) == ["AMOUNT_MISMATCH"]


def test_a_separate_charge_booking_reported_twice_is_one_fee():
    b = big_batch(5)
    charge = Entry(250, batch=(b.provider_batch_id, b.payment_info_id), n_txs=0, subfamily="CHRG")  # no reference
    files = [("camt054", statement([batch_entry(b, details=False), charge], message="camt054", stmt_id="ADV")),
             ("camt053", statement([batch_entry(b, details=False), charge], stmt_id="EOD"))]
    res = run(b, *files)
    assert res.fully_reconciled and [f.amount_minor for f in res.fees] == [250]


def test_tolerance_differences_are_recorded_not_hidden():
    b = big_batch()
    it = b.items[1]
    e = batch_entry(b)
    e.txs[1].amount += 1
    e.amount += 1
    res = run(b, ("camt053", statement([e])), amount_tolerance_minor=1)
    assert res.fully_reconciled
    assert {(d.type, d.severity, d.subject) for d in res.discrepancies} >= {
        ("WITHIN_TOLERANCE", "INFO", it.end_to_end_id)}
    assert not run(b, ("camt053", statement([e]))).fully_reconciled


def test_self_contradicting_statement_confirms_nothing_until_a_consistent_one():
    b = big_batch()
    bad = statement([batch_entry(b)], totals={"n": 3})  # says 3 entries, lists 1
    res = run(b, ("camt053", bad))
    assert outcomes(res) == {} and {d.type for d in res.discrepancies} == {"UNCONFIRMED_STATEMENT"}
    assert res.batches[b.provider_batch_id] == "UNMATCHED"
    good = statement([batch_entry(b)], stmt_id="S-OK")
    assert run(b, ("camt053", bad), ("camt053", good)).fully_reconciled


def test_one_bad_batch_does_not_hide_behind_a_good_one():
    b1, b2 = big_batch(200), big_batch(200, attempt=2)
    e2 = batch_entry(b2, ref="B-9")
    e2.txs[0].amount += 100  # the bank paid one payee of the second batch 1.00 too much
    e2.amount += 100
    res = run([b1, b2], ("camt053", statement([batch_entry(b1), e2])))
    assert res.batches == {b1.provider_batch_id: "MATCHED", b2.provider_batch_id: "PARTIAL"}
    assert types(res) == ["AMOUNT_MISMATCH", "PROVIDER_TOTALS_MISMATCH"]
    assert {d.batch_id for d in res.discrepancies} == {b2.provider_batch_id}
    assert spv(res, b1) == "CONFIRMED" and spv(res, b2) == "MISMATCH"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_evidence_in_any_file_order_gives_the_same_result(seed: int):
    b = big_batch(300)
    it = b.items[2]
    files = [("camt052", None), ("camt054", statement([batch_entry(b)], message="camt054", stmt_id="ADV")),
             ("camt053", statement([batch_entry(b)], stmt_id="EOD")),
             ("camt053", statement([batch_entry(b)], stmt_id="EOD", copy="COPY", created="2025-09-25T01:00:00Z")),
             ("camt053", statement([Entry(it.amount_minor, direction="CRDT", reversal=True, bank_ref="R-1",
                                          subfamily="RRTN", txs=[Tx(it.end_to_end_id, it.amount_minor, None, "R-1",
                                                                    return_code="AC06")])], stmt_id="RET"))]
    files = [f for f in files if f[1] is not None]
    digests = set()
    for perm in itertools.islice(itertools.permutations(files), 0, None, 5):
        digests.add(run(b, *perm).result_digest)
    rnd = random.Random(seed)
    shuffled = files[:]
    rnd.shuffle(shuffled)
    digests.add(run(b, *shuffled).result_digest)
    assert len(digests) == 1
    res = run(b, *files)
    assert res.outcomes[it.end_to_end_id] == "RETURNED" and outcomes(res) == {"SETTLED": 299, "RETURNED": 1}


def test_nacha_r01_return_by_ach_id_returns_the_payment():
    from connectors.psp.ids import ach_individual_id

    b = big_batch()
    it = b.items[11]
    ret = nacha_returns([(ach_individual_id(it.end_to_end_id), it.amount_minor, "091000019/123456789", "R01")])
    res = run(b, ("camt053", statement([batch_entry(b)])), ("nacha", ret))
    assert res.outcomes[it.end_to_end_id] == "RETURNED" and outcomes(res) == {"SETTLED": N - 1, "RETURNED": 1}
    [d] = res.discrepancies
    assert d.type == "RETURNED" and "R01" in d.detail


def test_nacha_return_naming_only_the_account_is_matched_by_payee_amount_and_date():
    b = _rail_batch("csv", 50, 5000, lambda i: {"account_id": f"091000019/{7000 + i}"})
    it = b.items[7]
    ret = nacha_returns([("UNRELATED-ID", it.amount_minor, it.payee_ref, "R03")])
    res = run(b, ("camt053", statement([batch_entry(b)])), ("nacha", ret))
    assert res.outcomes[it.end_to_end_id] == "RETURNED" and "R03" in res.discrepancies[0].detail
    # the same return for an amount nobody was paid stays unmatched (and is not this window's business)
    other = nacha_returns([("UNRELATED-ID", 1, it.payee_ref, "R03")])
    assert run(b, ("camt053", statement([batch_entry(b)])), ("nacha", other)).fully_reconciled


def _stripe_report(rows: list[tuple[str, str, int, int, str, str]]) -> bytes:
    """A Stripe balance report: (balance_transaction_id, category, gross cents, fee cents, e2e, account)."""
    head = ("balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,connected_account,"
            "transfer_metadata[end_to_end_id],transfer_metadata[provider_batch_id],transfer_group\n")

    def dec(c: int) -> str:
        return f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}"

    body = "".join(f"{t},2025-09-24 10:00:00,usd,{dec(g)},{dec(f)},{dec(g - f)},{cat},{acct},{e2e},,{WINDOW}\n"
                   for t, cat, g, f, e2e, acct in rows)
    return (head + body).encode()


def test_stripe_transfers_settle_and_a_transfer_reversal_returns():
    b = _rail_batch("stripe", 40, 2000, lambda i: {"stripe_account": f"acct_{i:06d}"})
    rows = [(f"txn_{n}", "transfer", -i.amount_minor, 0, i.end_to_end_id, i.payee_ref) for n, i in enumerate(b.items)]
    it = b.items[4]
    rows.append(("txn_rev", "transfer_reversal", it.amount_minor, 0, it.end_to_end_id, it.payee_ref))
    rows.append(("txn_fee", "fee", -30, 0, "", ""))
    res = run(b, ("stripe", _stripe_report(rows)))
    assert res.outcomes[it.end_to_end_id] == "RETURNED"
    assert outcomes(res) == {"SETTLED": 39, "RETURNED": 1}
    assert [d.type for d in res.discrepancies] == ["RETURNED"]
    clean = run(b, ("stripe", _stripe_report(rows[:-2])))
    assert clean.fully_reconciled and res.batches[b.provider_batch_id] != "MATCHED"


def _mt940(items, *, day: str = "250924", opening: int = 10_000_000) -> bytes:
    """An MT940 statement of the same account booking each payment (its own bank references, EREF in :86:)."""
    lines = [":20:STMT-MT", ":25:CH9300762011623852957", ":28C:1/1",
             f":60F:C250923USD{opening // 100},{opening % 100:02d}"]
    total = 0
    for n, it in enumerate(items):
        total += it.amount_minor
        amt = f"{it.amount_minor // 100},{it.amount_minor % 100:02d}"
        lines += [f":61:{day}{day[2:]}D{amt}NTRFNONREF//MT-{n}", f":86:EREF+{it.end_to_end_id}"]
    closing = opening - total
    lines.append(f":62F:C{day}USD{closing // 100},{closing % 100:02d}")
    return ("\r\n".join(lines) + "\r\n-").encode()


def test_the_same_bookings_in_camt053_and_mt940_count_once():
    b = big_batch(30)
    entries = [Entry(i.amount_minor, bank_ref=f"E-{n}", txs=[Tx(i.end_to_end_id, i.amount_minor, i.payee_ref)])
               for n, i in enumerate(b.items)]
    res = run(b, ("camt053", statement(entries)), ("mt940", _mt940(b.items)))
    assert res.fully_reconciled and res.discrepancies == [], res.discrepancies[:2]
    # a second MT940 line for one payment on another day is a second debit
    it = b.items[3]
    again = run(b, ("camt053", statement(entries)), ("mt940", _mt940(b.items)),
                ("mt940", _mt940([it], day="250926")))
    assert [d.type for d in again.discrepancies] == ["DUPLICATE_PAYMENT"]


@pytest.mark.parametrize("fmt", ["camt053", "camt054", "mt940"])
def test_the_bank_format_does_not_change_the_outcome(fmt: str):
    """The same bookings (one per payment, one payment missing) told as a camt.053, a camt.054 or an MT940."""
    b = big_batch(40)
    paid = [i for n, i in enumerate(b.items) if n != 6]
    if fmt == "mt940":
        data = _mt940(paid)
    else:
        data = statement([Entry(i.amount_minor, bank_ref=f"E-{n}", txs=[Tx(i.end_to_end_id, i.amount_minor)])
                          for n, i in enumerate(paid)], message=fmt)
    res = run(b, (fmt, data))
    assert outcomes(res) == {"SETTLED": 39} and types(res) == ["MISSING_RECEIPT"]
    assert res.discrepancies[0].subject == b.items[6].end_to_end_id
