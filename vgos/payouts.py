"""The payout registry: what each principal is owed per seal, and where that money is, so it moves at most once.

Items (`vgos.store.payouts`): one per (tenant, window, principal, seal) — a PAYOUT of the difference between the
seal's payout and the money already out for the principal in that window, or a RECOVERY when the seal pays less
than what already went out (money owed back: a receivable, never a negative payment). States:

    AUTHORIZED ─batch─► BATCHED ─sent─► SENT ─evidence─► SETTLED ─return─► RETURNED
        │                  │ └─cancel─► CANCELLED          └─reject─► FAILED
        └─re-seal─► CANCELLED (SUPERSEDED)                 RECOVERY ─re-seal─► CANCELLED (SUPERSEDED)

An item in AUTHORIZED, FAILED, RETURNED or CANCELLED (by an operator voiding its batch) may be batched (again);
an item BATCHED, SENT or SETTLED never is, on any rail. Every transition is an append-only row (who, when, why,
evidence) and posts its double-entry ledger entry in the same transaction:

    accrual (new PAYOUT)     DR expense:payouts        CR liability:payable:<p>
    accrual (new RECOVERY)   DR asset:receivable:<p>   CR expense:payouts
    superseded               the accrual reversed
    BATCHED                  DR liability:payable:<p>  CR asset:clearing:<rail>
    SETTLED                  DR asset:clearing:<rail>  CR asset:bank
    FAILED / RETURNED / CANCELLED from a batch: the money is owed again (CR liability:payable:<p>)

The position sync keeps, per principal, Σ live PAYOUT − Σ open RECOVERY = the current seal's payout. Every
mutation of a window first takes the window's lock row, so concurrent writers are serialized per window.
Times are inputs (`now`, read by the caller at its boundary and recorded); this module reads no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from vgos.canonical import digest as canonical_digest
from vgos.errors import InputError
from vgos.store.payouts import PayoutItem, PayoutTransition, PayoutWindowLock

AUTHORIZED, BATCHED, SENT, SETTLED = "AUTHORIZED", "BATCHED", "SENT", "SETTLED"
RETURNED, FAILED, CANCELLED, RECOVERY = "RETURNED", "FAILED", "CANCELLED", "RECOVERY"
STATES = (AUTHORIZED, BATCHED, SENT, SETTLED, RETURNED, FAILED, CANCELLED, RECOVERY)
PAYOUT_KIND, RECOVERY_KIND = "PAYOUT", "RECOVERY"
SUPERSEDED = "SUPERSEDED"
MOVING = (BATCHED, SENT, SETTLED)  # money out (or committed to a provider file) and not returned
BATCHABLE = (AUTHORIZED, FAILED, RETURNED, CANCELLED)
NEXT: dict[str | None, tuple[str, ...]] = {
    None: (AUTHORIZED, RECOVERY),
    AUTHORIZED: (BATCHED, CANCELLED),
    BATCHED: (SENT, SETTLED, FAILED, RETURNED, CANCELLED),
    SENT: (SETTLED, FAILED, RETURNED),
    SETTLED: (RETURNED,),
    RETURNED: (BATCHED, CANCELLED),
    FAILED: (BATCHED, CANCELLED),
    CANCELLED: (BATCHED, CANCELLED),
    RECOVERY: (CANCELLED, SETTLED),
}
EXPENSE = "expense:payouts"
BANK = "asset:bank"

_I = PayoutItem.__table__
_T = PayoutTransition.__table__
_K = PayoutWindowLock.__table__


def payable(principal_id: str) -> str:
    """What VGOS owes one principal."""
    return f"liability:payable:{principal_id}"


def receivable(principal_id: str) -> str:
    """What one principal owes back after a re-seal lowered a payout that already went out."""
    return f"asset:receivable:{principal_id}"


def clearing(rail: str) -> str:
    """Money handed to a provider and not yet evidenced as settled."""
    return f"asset:clearing:{rail}"


@dataclass(frozen=True)
class Item:
    """An item with its current state (its newest transition)."""

    item_id: str
    tenant_id: str
    window_id: str
    principal_id: str
    output_digest: str
    seal_ref: int
    generation: int
    kind: str
    currency: str
    sealed_payout_minor: int
    prior_net_minor: int
    amount_minor: int
    created_at: str
    state: str
    reason: str
    seq: int
    provider_batch_id: str | None
    at: str

    @property
    def live(self) -> bool:
        """False once a re-seal replaced it."""
        return not (self.state == CANCELLED and self.reason == SUPERSEDED)

    @property
    def batchable(self) -> bool:
        """A PAYOUT nobody is paying right now."""
        return self.kind == PAYOUT_KIND and self.live and self.state in BATCHABLE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Seal:
    """What the registry needs of the window's current seal."""

    seal_ref: int
    output_digest: str
    currency: str
    payouts: Mapping[str, int]  # principal_id -> payout_minor


@dataclass
class Change:
    """Transitions and ledger lines gathered in one locked transaction."""

    transitions: list[dict[str, Any]]
    lines: list[Any]
    created: int = 0
    superseded: int = 0


class Actor:
    """Who makes a change and when (the real clock, read by the caller at its boundary)."""

    def __init__(self, actor_id: str, actor_type: str, at: str) -> None:
        self.actor_id, self.actor_type, self.at = actor_id, actor_type, at

    @classmethod
    def now(cls) -> Actor:
        """The operator at the real clock, read here: commands call it at their boundary, never take a time in."""
        import datetime as dt

        from vgos.acceptance import fmt_ts

        return cls.from_env(fmt_ts(dt.datetime.now(dt.UTC).replace(microsecond=0)))

    @classmethod
    def from_env(cls, at: str) -> Actor:
        """The operator running a command: `VGOS_ACTOR`/`VGOS_ACTOR_TYPE`, else the OS user."""
        import getpass
        import os

        return cls(os.environ.get("VGOS_ACTOR") or getpass.getuser(), os.environ.get("VGOS_ACTOR_TYPE") or "user",
                   at)


# ---------------------------------------------------------------------------------------------- reading


def _current_seal_row(conn: Connection, tenant_id: str, window_id: str) -> Any:
    from vgos.store.acceptance import TranscriptIndex

    t = TranscriptIndex.__table__
    return conn.execute(select(t).where(t.c.tenant_id == tenant_id, t.c.window_id == window_id)
                        .order_by(t.c.id.desc()).limit(1)).first()


def load_items(conn: Connection, tenant_id: str, window_id: str) -> list[Item]:
    """Every item of the window with its current state, in (principal_id, seal_ref, generation) order."""
    last: dict[str, Any] = {}
    batch_of: dict[str, str | None] = {}
    for t in conn.execute(select(_T).where(_T.c.tenant_id == tenant_id, _T.c.window_id == window_id)
                          .order_by(_T.c.item_id, _T.c.seq)):
        last[t.item_id] = t
        if t.provider_batch_id:
            batch_of[t.item_id] = t.provider_batch_id
    out = []
    for r in conn.execute(select(_I).where(_I.c.tenant_id == tenant_id, _I.c.window_id == window_id)):
        t = last.get(r.item_id)
        if t is None:
            continue  # an item whose first transition is not committed yet does not exist
        out.append(Item(r.item_id, r.tenant_id, r.window_id, r.principal_id, r.output_digest, int(r.seal_ref),
                        int(r.generation), r.kind, r.currency, int(r.sealed_payout_minor), int(r.prior_net_minor),
                        int(r.amount_minor), r.created_at, t.to_state, t.reason, int(t.seq),
                        batch_of.get(r.item_id), t.at))
    out.sort(key=lambda i: (i.principal_id, i.seal_ref, i.generation))
    return out


def items(window_id: str, tenant_id: str = "default", db_url: str | None = None) -> list[Item]:
    """The window's items and their states (read-only)."""
    from vgos.store.db import get_engine

    with get_engine(db_url).connect() as conn:
        return load_items(conn, tenant_id, window_id)


def history(window_id: str, tenant_id: str = "default", db_url: str | None = None) -> list[dict[str, Any]]:
    """Every transition of the window's items, oldest first."""
    from vgos.store.db import get_engine

    with get_engine(db_url).connect() as conn:
        rows = conn.execute(select(_T, _I.c.principal_id).join(_I, _I.c.item_id == _T.c.item_id)
                            .where(_T.c.tenant_id == tenant_id, _T.c.window_id == window_id).order_by(_T.c.id))
        return [dict(r._mapping) for r in rows]


# ---------------------------------------------------------------------------------------------- locking


def _lock(conn: Connection, tenant_id: str, window_id: str) -> int:
    """Take the window's lock row for the rest of the transaction; returns its new version."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the database-wide write lock, before anything is read
        from sqlalchemy.dialects.sqlite import insert as upsert
    else:
        from sqlalchemy.dialects.postgresql import insert as upsert
    conn.execute(upsert(_K).values(tenant_id=tenant_id, window_id=window_id, version=0)
                 .on_conflict_do_nothing(index_elements=["tenant_id", "window_id"]))
    conn.execute(update(_K).where(_K.c.tenant_id == tenant_id, _K.c.window_id == window_id)
                 .values(version=_K.c.version + 1))
    return int(conn.execute(select(_K.c.version).where(_K.c.tenant_id == tenant_id, _K.c.window_id == window_id))
               .scalar_one())


def _move(change: Change, item: Item, to_state: str, reason: str, actor: Actor, *, evidence: str | None = None,
          provider_batch_id: str | None = None, seq: int | None = None) -> int:
    """Queue one transition, refusing any the state machine does not allow. Returns its seq."""
    if to_state not in NEXT[item.state]:
        raise InputError(f"payout item {item.item_id} ({item.principal_id}): {item.state} → {to_state} "
                         "is not a valid transition")
    seq = (seq if seq is not None else item.seq) + 1
    change.transitions.append({
        "item_id": item.item_id, "seq": seq, "tenant_id": item.tenant_id, "window_id": item.window_id,
        "from_state": item.state, "to_state": to_state, "reason": reason, "evidence": evidence,
        "provider_batch_id": provider_batch_id, "actor_id": actor.actor_id, "actor_type": actor.actor_type,
        "at": actor.at})
    return seq


def _commit(conn: Connection, change: Change, *, window_id: str, output_digest: str, source_event_id: str,
            memo: str, action: str, resource: str, actor: Actor) -> str | None:
    """Write the queued transitions and their ledger entry (one entry for the whole change), in the caller's txn."""
    from vgos import ledger

    entry_id = None
    lines = _merge(change.lines)
    if lines:
        draft = ledger.Draft(window_id=window_id, output_digest=output_digest, entry_type="TRANSFER",
                             effective_at=actor.at, source="payouts", source_event_id=source_event_id,
                             lines=tuple(lines), memo=memo)
        ledger.append([draft], action=f"ledger.{action}", resource=resource, actor_id=actor.actor_id,
                      actor_type=actor.actor_type, recorded_at=actor.at, conn=conn)
        entry_id = draft.entry_id
    if change.transitions:
        from vgos import audit

        rows = [{**t, "ledger_entry_id": entry_id} for t in change.transitions]
        for i in range(0, len(rows), 5000):
            conn.execute(insert(_T), rows[i:i + 5000])
        moves: dict[str, int] = {}
        for t in change.transitions:
            moves[t["to_state"]] = moves.get(t["to_state"], 0) + 1
        audit.record_on(conn, actor.actor_id, actor.actor_type, action, resource, source_event_id, actor.at,
                        {"transitions": len(rows), "to_state": dict(sorted(moves.items())), "ledger_entry": entry_id},
                        window_id=window_id)
    return entry_id


def _anchor(db_url: str | None) -> None:
    """After a commit that posted entries: the signed head goes write-once outside the database."""
    from vgos import ledger

    ledger.anchor_pending(url=db_url)


def _merge(lines: Sequence[Any]) -> list[Any]:
    """One debit and one credit line per (account, currency), in first-seen order (a compact entry)."""
    from vgos.ledger import Line

    acc: dict[tuple[str, str], list[int]] = {}
    for ln in lines:
        t = acc.setdefault((ln.account, ln.currency), [0, 0])
        t[0] += ln.debit_minor
        t[1] += ln.credit_minor
    out = []
    for (account, ccy), (d, c) in acc.items():
        if d > c:
            out.append(Line(account, ccy, debit_minor=d - c))
        elif c > d:
            out.append(Line(account, ccy, credit_minor=c - d))
    return out


# ---------------------------------------------------------------------------------------------- the position sync


def item_id_for(tenant_id: str, window_id: str, principal_id: str, seal_ref: int, generation: int) -> str:
    """Deterministic item id."""
    return "pi_" + canonical_digest([tenant_id, window_id, principal_id, seal_ref, generation])[:40]


def _sync(conn: Connection, tenant_id: str, window_id: str, seal: Seal, actor: Actor, change: Change) -> list[Item]:
    """Bring the window's items in line with its current seal: supersede what no longer applies, add the deltas."""
    from vgos.ledger import cr, dr

    current = load_items(conn, tenant_id, window_id)
    by_p: dict[str, list[Item]] = {}
    for it in current:
        by_p.setdefault(it.principal_id, []).append(it)
    new_rows = []
    ccy = seal.currency
    for pid in sorted(set(seal.payouts) | set(by_p)):
        mine = [i for i in by_p.get(pid, []) if i.live]
        paid = sum(i.amount_minor for i in mine if i.kind == PAYOUT_KIND and i.state in MOVING)
        open_ = [i for i in mine if (i.kind == PAYOUT_KIND and i.state in BATCHABLE) or i.state == RECOVERY]
        open_net = sum(i.amount_minor if i.kind == PAYOUT_KIND else -i.amount_minor for i in open_)
        target = seal.payouts.get(pid, 0) - paid
        if open_net == target and all(i.output_digest == seal.output_digest for i in open_):
            continue  # already right for this sealed result (a re-publish of the same digest changes nothing)
        for i in open_:
            _move(change, i, CANCELLED, SUPERSEDED, actor, evidence=f"seal {seal.output_digest}")
            change.superseded += 1
            if i.kind == PAYOUT_KIND:
                change.lines += [dr(payable(pid), i.currency, i.amount_minor), cr(EXPENSE, i.currency, i.amount_minor)]
            else:
                change.lines += [dr(EXPENSE, i.currency, i.amount_minor),
                                 cr(receivable(pid), i.currency, i.amount_minor)]
        if target == 0:
            continue
        generation = 1 + sum(1 for i in by_p.get(pid, []) if i.seal_ref == seal.seal_ref)
        kind = PAYOUT_KIND if target > 0 else RECOVERY_KIND
        amount = abs(target)
        iid = item_id_for(tenant_id, window_id, pid, seal.seal_ref, generation)
        new_rows.append({"item_id": iid, "tenant_id": tenant_id, "window_id": window_id, "principal_id": pid,
                         "output_digest": seal.output_digest, "seal_ref": seal.seal_ref, "generation": generation,
                         "kind": kind, "currency": ccy, "sealed_payout_minor": seal.payouts.get(pid, 0),
                         "prior_net_minor": paid, "amount_minor": amount, "created_at": actor.at})
        change.transitions.append({
            "item_id": iid, "seq": 1, "tenant_id": tenant_id, "window_id": window_id, "from_state": None,
            "to_state": AUTHORIZED if kind == PAYOUT_KIND else RECOVERY,
            "reason": "SEALED" if paid == 0 and not by_p.get(pid) else "RESEAL_DELTA",
            "evidence": f"seal {seal.output_digest}", "provider_batch_id": None, "actor_id": actor.actor_id,
            "actor_type": actor.actor_type, "at": actor.at})
        change.created += 1
        if kind == PAYOUT_KIND:
            change.lines += [dr(EXPENSE, ccy, amount), cr(payable(pid), ccy, amount)]
        else:
            change.lines += [dr(receivable(pid), ccy, amount), cr(EXPENSE, ccy, amount)]
    for i in range(0, len(new_rows), 5000):
        conn.execute(insert(_I), new_rows[i:i + 5000])
    return current


def _seal_of(conn: Connection, tenant_id: str, window_id: str, expect_digest: str | None) -> Seal:
    from vgos.transcript import TranscriptRef, read_seal

    row = _current_seal_row(conn, tenant_id, window_id)
    if row is None:
        raise InputError(f"window {window_id} (tenant {tenant_id}): no published transcript")
    if expect_digest is not None and row.output_digest != expect_digest:
        raise InputError(f"window {window_id} was re-sealed as {row.output_digest} while this ran (expected "
                         f"{expect_digest}); run it again")
    seal = read_seal(TranscriptRef(row.url, row.window_id, row.tenant_id, row.output_digest, row.transcript_root,
                                   row.key_id))
    return Seal(int(row.id), row.output_digest, seal["window"]["currency"],
                {a["principal_id"]: int(a["payout_minor"]) for a in seal["allocations"]})


def _sync_committed(conn: Connection, tenant_id: str, window_id: str, seal: Seal, actor: Actor, version: int
                    ) -> Change:
    """Run the position sync and queue its transitions and accrual entry in the open transaction."""
    change = Change([], [])
    _sync(conn, tenant_id, window_id, seal, actor, change)
    if change.transitions:
        _commit(conn, change, window_id=window_id, output_digest=seal.output_digest,
                source_event_id=f"{tenant_id}/{window_id}/sync/{version}", memo="payout registry: seal",
                action="payouts.sync", resource=f"window/{tenant_id}/{window_id}", actor=actor)
    return change


def sync(window_id: str, tenant_id: str = "default", *, actor: Actor, db_url: str | None = None
         ) -> dict[str, Any]:
    """Create the current seal's items (accruals, held payees included) and supersede what it replaced."""
    from vgos.store.db import get_engine

    with get_engine(db_url).connect() as conn:
        version = _lock(conn, tenant_id, window_id)
        seal = _seal_of(conn, tenant_id, window_id, None)
        change = _sync_committed(conn, tenant_id, window_id, seal, actor, version)
        conn.commit()
    _anchor(db_url)
    return {"output_digest": seal.output_digest, "created": change.created, "superseded": change.superseded}


# ---------------------------------------------------------------------------------------------- release


@dataclass(frozen=True)
class Selection:
    """What a release may pay now, and why the rest is not paid."""

    pay: list[Item]
    excluded: list[tuple[str, str]]  # (principal_id, reason)


def _select(live: list[Item], decisions: Mapping[str, Mapping[str, Any]]) -> Selection:
    pay, excluded = [], []
    for it in live:
        if not it.live:
            continue
        if it.state in MOVING:
            excluded.append((it.principal_id, f"ALREADY_{'PAID' if it.state == SETTLED else it.state} "
                                              f"in batch {it.provider_batch_id}"))
            continue
        if it.kind == RECOVERY_KIND:
            excluded.append((it.principal_id, f"RECOVERY {it.amount_minor} owed back"))
            continue
        if it.state not in BATCHABLE:
            continue
        d = decisions.get(it.principal_id)
        if d is None or d.get("decision") != "ALLOW":
            excluded.append((it.principal_id, (d or {}).get("reason_code") or "NOT_AUTHORIZED"))
            continue
        pay.append(it)
    return Selection(pay, excluded)


def release(window_id: str, tenant_id: str, *, output_digest: str, rail: str,
            decisions: Sequence[Mapping[str, Any]], gate_ref: str,
            render: Callable[[list[Item], int], Any], actor: Actor, db_url: str | None = None,
            location: str | None = None) -> tuple[Any, Selection]:
    """Batch every payable item once: under the window lock, sync, select ALLOW items nobody is paying, render,
    record the batch and its BATCHED transitions and ledger entry, commit. Refuses when nothing is payable."""
    from vgos.ledger import cr, dr
    from vgos.store.db import get_engine
    from vgos.store.recon import PayoutBatch, PayoutBatchItem

    allow = {d["principal_id"]: d for d in decisions if d.get("output_digest") == output_digest}
    with get_engine(db_url).connect() as conn:
        version = _lock(conn, tenant_id, window_id)
        _sync_committed(conn, tenant_id, window_id, _seal_of(conn, tenant_id, window_id, output_digest), actor,
                        version)
        sel = _select(load_items(conn, tenant_id, window_id), allow)
        if not sel.pay:
            conn.commit()  # the sync (if any) stands; nothing was released
            _anchor(db_url)
            why = "; ".join(f"{p}: {r}" for p, r in sel.excluded[:10]) or "no payout items"
            more = f" (+{len(sel.excluded) - 10} more)" if len(sel.excluded) > 10 else ""
            raise NothingToPay(f"window {window_id}: nothing to pay on rail {rail} — {why}{more}")
        pb = PayoutBatch.__table__
        attempt = 1 + int(conn.execute(select(func.count()).select_from(pb).where(  # any rail: ids stay unique
            pb.c.tenant_id == tenant_id, pb.c.window_id == window_id, pb.c.output_digest == output_digest))
            .scalar_one())
        batch = render(sel.pay, attempt)
        by_pid = {it.principal_id: it for it in sel.pay}
        conn.execute(insert(pb), [{
            "provider_batch_id": batch.provider_batch_id, "tenant_id": tenant_id, "window_id": window_id,
            "output_digest": output_digest, "rail": rail, "payment_info_id": batch.payment_info_id,
            "currency": batch.currency, "execution_date": batch.execution_date, "created_at": batch.created_at,
            "ctrl_sum_minor": batch.ctrl_sum_minor, "n_items": len(batch.items), "sha256": batch.sha256,
            "location": location, "attempt": attempt}])
        conn.execute(insert(PayoutBatchItem.__table__), [{
            "provider_batch_id": batch.provider_batch_id, "end_to_end_id": b.end_to_end_id,
            "principal_id": b.principal_id, "amount_minor": b.amount_minor, "currency": b.currency,
            "payee_ref": b.payee_ref, "payout_item_id": by_pid[b.principal_id].item_id} for b in batch.items])
        change = Change([], [])
        for b in batch.items:
            it = by_pid[b.principal_id]
            if b.amount_minor != it.amount_minor:
                raise InputError(f"batch {batch.provider_batch_id}: {it.principal_id} rendered {b.amount_minor}, "
                                 f"the registry item is {it.amount_minor}")
            _move(change, it, BATCHED, "BATCH_CREATED", actor, evidence=f"{gate_ref}; file sha256 {batch.sha256}",
                  provider_batch_id=batch.provider_batch_id)
            change.lines += [dr(payable(it.principal_id), it.currency, it.amount_minor),
                             cr(clearing(rail), it.currency, it.amount_minor)]
        _commit(conn, change, window_id=window_id, output_digest=output_digest,
                source_event_id=f"{tenant_id}/{window_id}/batch/{batch.provider_batch_id}",
                memo=f"payout batch {batch.provider_batch_id} ({rail})", action="payouts.batch",
                resource=f"window/{tenant_id}/{window_id}", actor=actor)
        conn.commit()
    _anchor(db_url)
    return batch, sel


class NothingToPay(InputError):
    """A release found no item it may pay (all held, already batched, or owed back)."""


# ---------------------------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Evidence:
    """A fact about one batch line: it was sent, settled, returned or failed."""

    end_to_end_id: str
    provider_batch_id: str
    to_state: str
    reason: str
    ref: str  # receipt id, report file, operator note


def apply_evidence(window_id: str, tenant_id: str, evidence: Sequence[Evidence], *, actor: Actor,
                   db_url: str | None = None) -> dict[str, int]:
    """Move batch lines' items by evidence (idempotent; evidence about a superseded attempt is ignored)."""
    from vgos.store.db import get_engine
    from vgos.store.recon import PayoutBatch, PayoutBatchItem

    bi, pb = PayoutBatchItem.__table__, PayoutBatch.__table__
    counts = {"moved": 0, "unchanged": 0, "ignored": 0}
    if not evidence:
        return counts
    with get_engine(db_url).connect() as conn:
        version = _lock(conn, tenant_id, window_id)
        lines = {(r.provider_batch_id, r.end_to_end_id): r for r in conn.execute(
            select(bi.c.provider_batch_id, bi.c.end_to_end_id, bi.c.payout_item_id, pb.c.rail, pb.c.output_digest)
            .join(pb, pb.c.provider_batch_id == bi.c.provider_batch_id)
            .where(pb.c.tenant_id == tenant_id, pb.c.window_id == window_id))}
        state = {i.item_id: i for i in load_items(conn, tenant_id, window_id)}
        change = Change([], [])
        digest = None
        for ev in evidence:
            line = lines.get((ev.provider_batch_id, ev.end_to_end_id))
            it = state.get(line.payout_item_id) if line is not None and line.payout_item_id else None
            if it is None or it.provider_batch_id != ev.provider_batch_id:
                counts["ignored"] += 1  # not ours, or the item has been batched again since
                continue
            digest = line.output_digest
            if it.state == ev.to_state or (ev.to_state == SENT and it.state in (SETTLED, RETURNED, FAILED)) or (
                    ev.to_state == CANCELLED and it.state != BATCHED):  # only a batch line can be voided
                counts["unchanged"] += 1
                continue
            steps = [SENT, SETTLED] if ev.to_state == SETTLED and it.state == BATCHED else [ev.to_state]
            for to in steps:
                if to not in NEXT[it.state]:
                    counts["ignored"] += 1  # e.g. a settlement seen after the return: the return stands
                    break
                seq = _move(change, it, to, ev.reason, actor, evidence=ev.ref, provider_batch_id=ev.provider_batch_id)
                change.lines += _evidence_lines(it, it.state, to, line.rail)
                it = replace(it, state=to, reason=ev.reason, seq=seq)
                state[it.item_id] = it
                counts["moved"] += 1
        if change.transitions:
            _commit(conn, change, window_id=window_id, output_digest=digest or "0" * 64,
                    source_event_id=f"{tenant_id}/{window_id}/evidence/{version}", memo="payout evidence",
                    action="payouts.evidence", resource=f"window/{tenant_id}/{window_id}", actor=actor)
            _sync_committed(conn, tenant_id, window_id, _seal_of(conn, tenant_id, window_id, None), actor, version)
        conn.commit()
    _anchor(db_url)
    return counts


def _evidence_lines(it: Item, frm: str, to: str, rail: str) -> list[Any]:
    from vgos.ledger import cr, dr

    a, ccy, pid = it.amount_minor, it.currency, it.principal_id
    if to == SETTLED:
        return [dr(clearing(rail), ccy, a), cr(BANK, ccy, a)]
    if to in (RETURNED, FAILED, CANCELLED):
        source = BANK if frm == SETTLED else clearing(rail)
        return [dr(source, ccy, a), cr(payable(pid), ccy, a)]
    return []


def mark_batch(provider_batch_id: str, to_state: str, reason: str, *, actor: Actor, tenant_id: str = "default",
               db_url: str | None = None) -> dict[str, int]:
    """Operator evidence for a whole batch: SENT (uploaded to the bank) or CANCELLED (voided before sending)."""
    from vgos.store.db import get_engine
    from vgos.store.recon import PayoutBatch, PayoutBatchItem

    if to_state not in (SENT, CANCELLED):
        raise InputError(f"batch {provider_batch_id}: an operator may mark a batch SENT or CANCELLED, not {to_state}")
    pb, bi = PayoutBatch.__table__, PayoutBatchItem.__table__
    with get_engine(db_url).connect() as conn:
        row = conn.execute(select(pb.c.window_id).where(pb.c.provider_batch_id == provider_batch_id,
                                                        pb.c.tenant_id == tenant_id)).first()
        lines = conn.execute(select(bi.c.end_to_end_id).where(bi.c.provider_batch_id == provider_batch_id)
                             .order_by(bi.c.end_to_end_id)).scalars().all()
    if row is None:
        raise InputError(f"batch {provider_batch_id}: no such batch (tenant {tenant_id})")
    if to_state == CANCELLED:
        live = [i for i in items(row.window_id, tenant_id, db_url)
                if i.provider_batch_id == provider_batch_id and i.state != BATCHED and i.state in MOVING]
        if live:
            raise InputError(f"batch {provider_batch_id}: {len(live)} item(s) already {live[0].state}; "
                             "a batch that reached the bank cannot be cancelled (wait for its return or failure)")
    return apply_evidence(row.window_id, tenant_id,
                          [Evidence(e, provider_batch_id, to_state, reason, f"operator: {reason}") for e in lines],
                          actor=actor, db_url=db_url)


def voided_lines(window_id: str, tenant_id: str = "default", db_url: str | None = None) -> set[tuple[str, str]]:
    """(provider_batch_id, item_id) of batch lines that must never be booked: voided (CANCELLED) by an operator or
    rejected (FAILED) by the provider. A booking on one of them means money moved that the registry released
    again elsewhere."""
    return {(h["provider_batch_id"], h["item_id"]) for h in history(window_id, tenant_id, db_url)
            if h["provider_batch_id"] and h["to_state"] in (CANCELLED, FAILED)}


# ---------------------------------------------------------------------------------------------- views


def summary(window_items: Sequence[Item]) -> dict[str, dict[str, int]]:
    """Per state: number of live items and their amount."""
    out: dict[str, dict[str, int]] = {}
    for it in window_items:
        if not it.live:
            continue
        s = out.setdefault(it.state, {"items": 0, "amount_minor": 0})
        s["items"] += 1
        s["amount_minor"] += it.amount_minor
    return {k: out[k] for k in STATES if k in out}


def position(window_items: Sequence[Item], principal_id: str) -> dict[str, int]:
    """Money out and not returned, open to pay, and owed back for one principal."""
    mine = [i for i in window_items if i.principal_id == principal_id and i.live]
    return {"out_minor": sum(i.amount_minor for i in mine if i.kind == PAYOUT_KIND and i.state in MOVING),
            "open_minor": sum(i.amount_minor for i in mine if i.batchable),
            "recovery_minor": sum(i.amount_minor for i in mine if i.state == RECOVERY)}


def ledger_check(window_id: str, tenant_id: str = "default", db_url: str | None = None) -> dict[str, Any]:
    """The window's ledger against its registry: balanced, expense = Σ sealed payouts, payables = open items,
    clearing = money at the providers, receivables = open recoveries (the tenant's registry entries only)."""
    from vgos import ledger
    from vgos.store.db import get_engine

    with get_engine(db_url).connect() as conn:
        seal = _seal_of(conn, tenant_id, window_id, None)
        its = [i for i in load_items(conn, tenant_id, window_id) if i.live]
    rows = ledger.trial_balance(window_id, url=db_url, source=("payouts", f"{tenant_id}/{window_id}/"))
    bal = {(r["account"], r["currency"]): r["balance_minor"] for r in rows}
    ccy = seal.currency
    per_ccy: dict[str, int] = {}
    for r in rows:
        per_ccy[r["currency"]] = per_ccy.get(r["currency"], 0) + r["balance_minor"]
    want: dict[str, int] = {EXPENSE: sum(seal.payouts.values())} if its else {}
    for i in its:
        if i.kind == PAYOUT_KIND and i.batchable:
            want[payable(i.principal_id)] = want.get(payable(i.principal_id), 0) - i.amount_minor
        elif i.state == RECOVERY:
            want[receivable(i.principal_id)] = want.get(receivable(i.principal_id), 0) + i.amount_minor
    wrong = [{"account": a, "expected_minor": v, "ledger_minor": bal.get((a, ccy), 0)}
             for a, v in sorted(want.items()) if bal.get((a, ccy), 0) != v]
    wrong += [{"account": a, "expected_minor": 0, "ledger_minor": v} for (a, c), v in sorted(bal.items())
              if c == ccy and v and a not in want and (a.startswith("liability:payable:") or
                                                        a.startswith("asset:receivable:"))]
    in_flight = sum(i.amount_minor for i in its if i.kind == PAYOUT_KIND and i.state in (BATCHED, SENT))
    settled = sum(i.amount_minor for i in its if i.kind == PAYOUT_KIND and i.state == SETTLED)
    at_providers = sum(v for (a, c), v in bal.items() if c == ccy and a.startswith("asset:clearing:"))
    if at_providers != -in_flight:
        wrong.append({"account": "asset:clearing:*", "expected_minor": -in_flight, "ledger_minor": at_providers})
    if bal.get((BANK, ccy), 0) != -settled:
        wrong.append({"account": BANK, "expected_minor": -settled, "ledger_minor": bal.get((BANK, ccy), 0)})
    balanced = all(v == 0 for v in per_ccy.values())
    return {"passed": balanced and not wrong, "balanced": balanced, "mismatches": wrong,
            "expense_minor": bal.get((EXPENSE, ccy), 0), "sealed_payout_minor": sum(seal.payouts.values()),
            "output_digest": seal.output_digest, "trial_balance": rows}
