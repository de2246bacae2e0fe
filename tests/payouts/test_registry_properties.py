"""Property: over random sequences of seal, re-seal, batch, settle, return and fail, money moves at most once.

For every principal, the money out (batched, sent or settled, not returned) never exceeds what the latest seal
pays plus what is recorded as owed back (RECOVERY); what is out plus what is open equals the latest seal; and the
ledger balances and agrees with the registry after every step. Batches are rendered by the real rail code; the
gate's decisions are given (ALLOW for every principal) because the registry, not the gate, is under test here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples

WINDOW = "2025-09-23"
PRINCIPALS = ("P1", "P2", "P3")

amounts = st.fixed_dictionaries({p: st.integers(-300, 900) for p in PRINCIPALS})
steps = st.lists(st.one_of(
    st.tuples(st.just("seal"), amounts),
    st.tuples(st.just("batch"), st.sampled_from(["csv", "pain001", "stripe"])),
    st.tuples(st.sampled_from(["settle", "return", "fail", "cancel"]), st.integers(0, 10)),
), min_size=1, max_size=9)


def _payees():
    from connectors.psp.payees import parse_payees

    return parse_payees("principal_id,name,iban,bic,stripe_account\n" + "\n".join(
        f"{p},Payee {p},DE89370400440532013000,COBADEFFXXX,acct_{p}" for p in PRINCIPALS))


class World:
    """One fresh store and artifact folder; seals are published, batches released through the registry."""

    def __init__(self, root: Path) -> None:
        import os

        self.root = root
        self.db = f"sqlite:///{root / 'vgos.db'}"
        os.environ["VGOS_ARTIFACTS"] = str(root / "artifacts")  # one ledger (and its anchors) per example
        self.n = 0
        self.at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def actor(self):
        from vgos.acceptance import fmt_ts
        from vgos.payouts import Actor

        self.at += dt.timedelta(seconds=1)
        return Actor("hypothesis", "test", fmt_ts(self.at))

    def seal(self, amounts: dict[str, int]) -> dict[str, int]:
        from vgos.fold import fold_files
        from vgos.policy import load_policy
        from vgos.transcript import publish_transcript

        self.n += 1
        f = self.root / f"events-{self.n}.jsonl"
        f.write_bytes(b"".join(orjson.dumps({
            "event_id": f"s{self.n}-{p}", "ts_occurred": "2025-09-23T11:00:00Z", "principal_id": p,
            "amount_minor": a, "source_type": "earning"}) + b"\n" for p, a in amounts.items()))
        result = fold_files([f], WINDOW, load_policy(None))
        publish_transcript(result, db_url=self.db)
        self.digest = result.output_digest
        return {a.principal_id: a.payout_minor for a in result.allocations}

    def batch(self, rail: str) -> None:
        from connectors.psp.batch import build_batch
        from recon.service import read_debtor
        from vgos import payouts

        decisions = [{"principal_id": p, "decision": "ALLOW", "output_digest": self.digest, "payout_minor": 1}
                     for p in PRINCIPALS]

        def render(items, attempt):
            return build_batch(rail, tenant_id="default", window_id=WINDOW, output_digest=self.digest,
                               currency="USD", decisions=[
                                   {"principal_id": i.principal_id, "payout_minor": i.amount_minor,
                                    "decision": "ALLOW", "output_digest": self.digest} for i in items],
                               debtor=read_debtor(None), execution_date="2025-09-24", payees=_payees(),
                               created_at="2025-09-24T00:00:00Z", attempt=attempt)

        try:
            payouts.release(WINDOW, "default", output_digest=self.digest, rail=rail, decisions=decisions,
                            gate_ref="test", render=render, actor=self.actor(), db_url=self.db)
        except payouts.NothingToPay:
            pass

    def evidence(self, what: str, pick: int) -> None:
        from recon.persist import load_batches
        from vgos import payouts

        lines = [(b["provider_batch_id"], i["end_to_end_id"]) for b in load_batches(WINDOW, db_url=self.db)
                 for i in b["items"]]
        if not lines:
            return
        bid, e2e = lines[pick % len(lines)]
        if what == "cancel":
            try:
                payouts.mark_batch(bid, payouts.CANCELLED, "test", actor=self.actor(), db_url=self.db)
            except Exception as exc:  # noqa: BLE001 - a batch that reached the bank is refused: that is the rule
                assert "cannot be cancelled" in str(exc)
            return
        to = {"settle": payouts.SETTLED, "return": payouts.RETURNED, "fail": payouts.FAILED}[what]
        payouts.apply_evidence(WINDOW, "default", [payouts.Evidence(e2e, bid, to, what.upper(), "test")],
                               actor=self.actor(), db_url=self.db)


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=amounts, ops=steps)
def test_money_moves_at_most_once_and_the_books_agree(vgos_home: Path, monkeypatch, first: dict[str, int],
                                                      ops) -> None:
    from vgos import payouts

    monkeypatch.setenv("VGOS_ARTIFACTS", str(vgos_home / "artifacts"))  # restored after the test

    root = vgos_home / uuid.uuid4().hex
    root.mkdir()
    w = World(root)
    sealed = w.seal(first)
    for op, arg in ops:
        if op == "seal":
            sealed = w.seal(arg)
        elif op == "batch":
            w.batch(arg)
        else:
            w.evidence(op, arg)
        payouts.sync(WINDOW, "default", actor=w.actor(), db_url=w.db)
        items = payouts.items(WINDOW, "default", w.db)
        for p in PRINCIPALS:
            pos = payouts.position(items, p)
            assert pos["out_minor"] <= max(sealed.get(p, 0), 0) + pos["recovery_minor"], (p, pos, sealed)
            assert pos["out_minor"] + pos["open_minor"] - pos["recovery_minor"] == sealed.get(p, 0)
        for it in items:  # never a zero or negative item: a decrease is a RECOVERY, never a negative payment
            assert it.amount_minor > 0
        hist = payouts.history(WINDOW, "default", w.db)
        moving = {}
        for h in hist:
            if h["to_state"] == payouts.BATCHED:
                assert moving.get(h["item_id"]) is None, f"{h['item_id']} batched twice while moving"
                moving[h["item_id"]] = h["provider_batch_id"]
            elif h["to_state"] in (payouts.FAILED, payouts.RETURNED, payouts.CANCELLED):
                moving[h["item_id"]] = None
        check = payouts.ledger_check(WINDOW, "default", w.db)
        assert check["passed"], check["mismatches"]
