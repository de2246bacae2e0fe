"""Append-only double-entry journal with a signed hash chain: the record of what VGOS caused to move.

Accounts (minor units, one currency per line):
- `expense:payouts`                 DR when a principal's payout is authorized (gate ALLOW)
- `liability:payable:<principal>`   CR when authorized, DR when the payout goes out in a provider batch
- `asset:clearing:<provider>`       CR when a batch goes to the provider, DR on settlement evidence
- `asset:bank`                      CR when the provider settles (money left the bank), CR for fees paid
- `expense:fees`                    DR for provider fees

Postings (each idempotent by unique (source, source_event_id); first write wins):
- authorization: one TRANSFER entry per ALLOW principal, key `<window>/<output_digest>/<principal>`
- batch:         one TRANSFER entry per provider batch, key `<provider>/<provider_batch_id>`
- settlement:    one TRANSFER entry per matched receipt, key `<provider>/<receipt_id>`
- fee:           one FEE entry, key `<provider>/<fee_id>`
- reversal:      one REVERSAL entry mirroring the original, key `<entry_id>` (the only correction)

Each entry's hash is SHA-256 over the RFC 8785 bytes of its body (which includes `seq` and `prev_hash`);
after each posting batch the new chain head is signed with the transcript signer, in the same transaction.
Balances are always derived from the lines by query.

Anchors: the signed head of each posting batch is also written, after the database commit, as a write-once object
`ledger/anchors/<seq, 20 digits>.json` in the artifact store (a local folder, or S3 with Object Lock when
VGOS_S3_OBJECT_LOCK_DAYS is set), outside the database. `verify_chain` checks the database chain against the
newest anchor: a chain that ends before it is LEDGER_TRUNCATED (a removed tail, a wiped database), a different
entry at its sequence number is LEDGER_REWRITTEN. `append` refuses to extend a chain that contradicts the newest
anchor. A posting made inside a caller's transaction (`append(conn=...)`) cannot be anchored before the caller
commits: the caller calls `anchor_pending()` after its commit, and any committed head newer than the newest anchor
is anchored anyway by the next self-committed `append` and by `verify_chain` ("catch-up").
Signatures (head rows, anchors, proof packages) are checked only against keys the verifier already trusts
(`vgos.trust.trusted_keys`), never against a key shipped with what is verified.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import BigInteger, Connection, cast, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from vgos import audit, money
from vgos.canonical import CanonicalError, digest, jcs_bytes
from vgos.errors import InputError, VerificationError
from vgos.store.ledger import (
    GENESIS_HASH,
    LedgerChainHead,
    LedgerEntry,
    LedgerHeadSignature,
    LedgerLine,
)

if TYPE_CHECKING:
    from vgos.storage import BlobStore
    from vgos.trust import TrustedKey

log = logging.getLogger(__name__)

ENTRY_SCHEMA = "vgos.ledger.entry/1"
HEAD_SCHEMA = "vgos.ledger.head/1"
PROOF_SCHEMA = "vgos.ledger.proof/1"
ANCHOR_SCHEMA = "vgos.ledger.anchor/1"
ANCHOR_PREFIX = "ledger/anchors"
_ANCHOR_NAME = re.compile(r"([0-9]{20})\.json", re.ASCII)
ENTRY_TYPES = ("TRANSFER", "FEE", "ADJUSTMENT", "REVERSAL")
MAX_SAFE = 2**53 - 1
_FLUSH_ENTRIES = 5_000  # entries per INSERT round trip within the one posting transaction
_EXACT_LOOKUP_MAX = 2_000  # keys looked up one by one when not found in their window

EXPENSE_PAYOUTS = "expense:payouts"
EXPENSE_FEES = "expense:fees"
BANK = "asset:bank"

_E = LedgerEntry.__table__
_L = LedgerLine.__table__
_H = LedgerChainHead.__table__
_S = LedgerHeadSignature.__table__
_ENTRY_KEYS = (
    "schema",
    "seq",
    "entry_id",
    "window_id",
    "output_digest",
    "entry_type",
    "reverses",
    "effective_at",
    "source",
    "source_event_id",
    "memo",
    "lines",
    "prev_hash",
)


def payable(principal_id: str) -> str:
    """Account of what VGOS owes one principal after authorization."""
    return f"liability:payable:{principal_id}"


def clearing(provider: str) -> str:
    """Account of money handed to a provider and not yet evidenced as settled."""
    return f"asset:clearing:{provider}"


class UnbalancedEntry(InputError):
    """An entry whose debits and credits differ in some currency (refused before insert)."""


@dataclass(frozen=True)
class Line:
    """One side of an entry: exactly one of debit_minor / credit_minor is positive."""

    account: str
    currency: str
    debit_minor: int = 0
    credit_minor: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Canonical form: the non-zero side only."""
        side = {"debit_minor": self.debit_minor} if self.debit_minor else {"credit_minor": self.credit_minor}
        return {"account": self.account, "currency": self.currency, **side}


def dr(account: str, currency: str, amount_minor: int) -> Line:
    """A debit line."""
    return Line(account, currency, debit_minor=amount_minor)


def cr(account: str, currency: str, amount_minor: int) -> Line:
    """A credit line."""
    return Line(account, currency, credit_minor=amount_minor)


@dataclass(frozen=True)
class Draft:
    """An entry before it gets its place in the chain (seq, prev_hash, hash)."""

    window_id: str
    output_digest: str
    entry_type: str
    effective_at: str
    source: str
    source_event_id: str
    lines: tuple[Line, ...]
    reverses: str | None = None
    memo: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_event_id)

    @property
    def entry_id(self) -> str:
        return entry_id_for(self.source, self.source_event_id)


@dataclass(frozen=True)
class SignedHead:
    """A chain head with its signature: a `ledger_head_signatures` row, and the content of an anchor object."""

    seq: int
    entry_id: str
    head_hash: str
    algorithm: str
    key_id: str
    signature_b64: str

    def anchor_bytes(self) -> bytes:
        """The anchor object: canonical JSON, so anchoring one head twice writes the same bytes."""
        return jcs_bytes(
            {
                "schema": ANCHOR_SCHEMA,
                "seq": self.seq,
                "entry_id": self.entry_id,
                "hash": self.head_hash,
                "algorithm": self.algorithm,
                "key_id": self.key_id,
                "signature_b64": self.signature_b64,
            }
        )


@dataclass
class PostResult:
    """Outcome of one posting batch: entries appended now, entries that already existed, the new head.

    `signed_head` is the head signed by this batch (None when nothing was posted); `anchor_url` is where it was
    anchored (None inside a caller's transaction, or when the artifact store could not be written)."""

    posted: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    signed_head: SignedHead | None = None
    anchor_url: str | None = None


def entry_id_for(source: str, source_event_id: str) -> str:
    """Deterministic entry id from the idempotency key, so a replayed posting names the same entry."""
    return "je_" + digest([source, source_event_id])[:32]


def check_balanced(lines: Sequence[Line], where: str = "entry") -> None:
    """Refuse an entry whose lines are malformed or whose debits and credits differ in any currency."""
    if not lines:
        raise UnbalancedEntry(f"{where}: no lines")
    totals: dict[str, list[int]] = {}
    for i, ln in enumerate(lines):
        for name in ("debit_minor", "credit_minor"):
            v = getattr(ln, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_SAFE:
                raise UnbalancedEntry(f"{where}: lines[{i}].{name} must be an integer 0..2^53-1, got {v!r}")
        if (ln.debit_minor > 0) == (ln.credit_minor > 0):
            raise UnbalancedEntry(f"{where}: lines[{i}] must have exactly one positive side")
        if not isinstance(ln.account, str) or not ln.account:
            raise UnbalancedEntry(f"{where}: lines[{i}].account must be a non-empty string")
        try:
            money.exponent(ln.currency)
        except money.MoneyError as exc:
            raise UnbalancedEntry(f"{where}: lines[{i}].currency: {exc}") from exc
        t = totals.setdefault(ln.currency, [0, 0])
        t[0] += ln.debit_minor
        t[1] += ln.credit_minor
    for ccy, (d, c) in sorted(totals.items()):
        if d != c:
            raise UnbalancedEntry(f"{where}: {ccy} debits {d} != credits {c}")


def entry_body(seq: int, draft: Draft, prev_hash: str) -> dict[str, Any]:
    """The object the entry hash covers (everything but the hash itself)."""
    return {
        "schema": ENTRY_SCHEMA,
        "seq": seq,
        "entry_id": draft.entry_id,
        "window_id": draft.window_id,
        "output_digest": draft.output_digest,
        "entry_type": draft.entry_type,
        "reverses": draft.reverses,
        "effective_at": draft.effective_at,
        "source": draft.source,
        "source_event_id": draft.source_event_id,
        "memo": draft.memo,
        "lines": [ln.as_dict() for ln in draft.lines],
        "prev_hash": prev_hash,
    }


def entry_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 over the RFC 8785 bytes of the entry body (which chains prev_hash)."""
    return digest(dict(body))


def head_message(seq: int, entry_id: str | None, head_hash: str) -> bytes:
    """Bytes the chain-head signature covers."""
    return jcs_bytes({"schema": HEAD_SCHEMA, "seq": seq, "entry_id": entry_id, "hash": head_hash})


# ---------------------------------------------------------------------------------------------- validation


def _text(value: Any, name: str, max_len: int = 512) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InputError(f"{name}: expected a non-empty string of at most {max_len} characters, got {value!r}")
    return value


def _amount(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name}: expected integer minor units, got {value!r}")
    if abs(value) > MAX_SAFE:
        raise InputError(f"{name}: {value} is outside ±(2^53-1)")
    return value


def _currency(value: Any, name: str) -> str:
    try:
        money.exponent(value)
    except money.MoneyError as exc:
        raise InputError(f"{name}: {exc}") from exc
    return value


def _validated(draft: Draft) -> Draft:
    where = f"entry {draft.source}/{draft.source_event_id}"
    _text(draft.window_id, f"{where}: window_id", 64)
    _text(draft.output_digest, f"{where}: output_digest", 64)
    _text(draft.source, f"{where}: source", 32)
    _text(draft.source_event_id, f"{where}: source_event_id", 512)
    if draft.entry_type not in ENTRY_TYPES:
        raise InputError(f"{where}: entry_type must be one of {ENTRY_TYPES}, got {draft.entry_type!r}")
    if (draft.entry_type == "REVERSAL") != (draft.reverses is not None):
        raise InputError(f"{where}: only REVERSAL entries (and all of them) name the entry they reverse")
    check_balanced(draft.lines, where)
    return draft


# ---------------------------------------------------------------------------------------------- appending


def _lock_head(conn: Connection, *, begin: bool = True) -> tuple[int, str | None, str]:
    """Serialise appends: BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE of the head row elsewhere."""
    if conn.dialect.name == "sqlite":
        if begin:
            conn.exec_driver_sql("PRAGMA cache_size = -65536")  # 64 MiB: big windows touch many index pages
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        row = conn.execute(select(_H.c.seq, _H.c.entry_id, _H.c.hash).where(_H.c.id == 1)).one()
    else:
        row = conn.execute(select(_H.c.seq, _H.c.entry_id, _H.c.hash).where(_H.c.id == 1).with_for_update()).one()
    return int(row.seq), row.entry_id, row.hash


def _existing(conn: Connection, drafts: Sequence[Draft]) -> dict[tuple[str, str], str]:
    """Entries already posted under the drafts' idempotency keys (one query per source and window set)."""
    keys = {d.key for d in drafts}
    windows_of: dict[str, set[str]] = {}
    for d in drafts:
        windows_of.setdefault(d.source, set()).add(d.window_id)
    found: dict[tuple[str, str], str] = {}
    for source, windows in windows_of.items():
        stmt = select(_E.c.source_event_id, _E.c.entry_id).where(
            _E.c.source == source, _E.c.window_id.in_(sorted(windows))
        )
        for r in conn.execute(stmt):
            if (source, r.source_event_id) in keys:
                found[(source, r.source_event_id)] = r.entry_id
    rest = sorted(keys - found.keys())
    if len(rest) <= _EXACT_LOOKUP_MAX:  # same key under another window: still the same posting
        for i in range(0, len(rest), 500):
            cond = [(_E.c.source == s) & (_E.c.source_event_id == e) for s, e in rest[i : i + 500]]
            for r in conn.execute(select(_E.c.source, _E.c.source_event_id, _E.c.entry_id).where(or_(*cond))):
                found[(r.source, r.source_event_id)] = r.entry_id
    return found


def append(
    drafts: Iterable[Draft],
    *,
    action: str,
    resource: str,
    actor_id: str = "vgos",
    actor_type: str = "system",
    correlation_id: str | None = None,
    recorded_at: datetime | str | None = None,
    url: str | None = None,
    conn: Connection | None = None,
) -> PostResult:
    """Append new drafts to the chain in one transaction, sign the new head, and audit it; replays are no-ops.

    `recorded_at` is the audit time of the posting (an I/O edge: defaults to the clock); entries carry only
    their explicit `effective_at`. With `conn`, the drafts join the caller's open write transaction (SQLite:
    begun IMMEDIATE) and the caller commits, so a state change and its entry commit together or not at all;
    the caller then calls `anchor_pending()` (an anchor for an uncommitted head would be wrong).

    Before posting, the chain is checked against the newest anchor (VerificationError LEDGER_TRUNCATED or
    LEDGER_REWRITTEN: the application never extends a chain someone cut or replaced). After its own commit the
    new head (or a committed head still unanchored) is anchored; a failure to write the anchor is logged, not
    raised, since the posting is committed: the next append or `verify_chain` writes it."""
    from vgos.signing import load_signer
    from vgos.store.db import get_engine

    unique: dict[tuple[str, str], Draft] = {}
    for d in drafts:
        _validated(d)
        prior = unique.get(d.key)
        if prior is not None and prior != d:
            raise InputError(f"entry {d.source}/{d.source_event_id}: two different entries share one key")
        unique[d.key] = d
    ordered = list(unique.values())
    result = PostResult()
    if not ordered:
        return result
    audit_at = audit.utc_text(recorded_at if recorded_at is not None else datetime.now(UTC), "recorded_at")
    signer = load_signer()
    store = anchor_store()
    if conn is not None:
        # read-only; the caller holds the write lock (SQLite) or reads committed rows per statement (PostgreSQL)
        _check_against_anchor(conn, store, own=False)
        _append_on(conn, ordered, result, signer, audit_at, action, resource, actor_id, actor_type, correlation_id,
                   begun=True)
        return result
    engine = get_engine(url)
    with engine.connect() as check:
        newest = _check_against_anchor(check, store, own=True)
        check.rollback()
    with engine.connect() as own:
        _append_on(own, ordered, result, signer, audit_at, action, resource, actor_id, actor_type, correlation_id,
                   begun=False)
        own.commit()
    head = result.signed_head
    if head is None and result.head_seq > (newest.seq if newest else 0):
        with engine.connect() as c:  # nothing posted now: anchor a committed head a caller's transaction left
            head = _signed_head_at(c, result.head_seq)
        if head is not None and not _genuine(head):
            log.error("ledger head #%s: its stored signature is not by a trusted key; not anchored", head.seq)
            head = None
    if head is not None and (newest is None or head.seq > newest.seq):
        result.anchor_url = _write_anchor_logged(store, head)
    return result


def _append_on(conn: Connection, ordered: list[Draft], result: PostResult, signer: Any, audit_at: str, action: str,
               resource: str, actor_id: str, actor_type: str, correlation_id: str | None, *, begun: bool) -> None:
    """The body of `append` on one connection; the caller commits."""
    seq, head_entry, prev = _lock_head(conn, begin=not begun)
    known = _existing(conn, ordered)
    entry_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    windows: set[str] = set()
    lines_total = 0

    def flush() -> None:
        # lines first: the database admits an entry only once its lines are there and balance
        if entry_rows:
            try:
                conn.execute(insert(_L), line_rows)
                conn.execute(insert(_E), entry_rows)
            except IntegrityError as exc:
                raise InputError(f"the ledger refused the posting: {str(exc.orig).splitlines()[0]}") from exc
            entry_rows.clear()
            line_rows.clear()

    for d in ordered:
        if d.key in known:
            result.existing.append(known[d.key])
            continue
        seq += 1
        body = entry_body(seq, d, prev)
        h = entry_hash(body)
        eid = body["entry_id"]
        entry_rows.append(
            {
                "seq": seq,
                "entry_id": eid,
                "window_id": d.window_id,
                "output_digest": d.output_digest,
                "entry_type": d.entry_type,
                "reverses": d.reverses,
                "effective_at": d.effective_at,
                "source": d.source,
                "source_event_id": d.source_event_id,
                "memo": d.memo,
                "prev_hash": prev,
                "hash": h,
            }
        )
        line_rows.extend(
            {
                "entry_id": eid,
                "line_no": i,
                "account": ln.account,
                "currency": ln.currency,
                "debit_minor": ln.debit_minor,
                "credit_minor": ln.credit_minor,
            }
            for i, ln in enumerate(d.lines, start=1)
        )
        lines_total += len(d.lines)
        windows.add(d.window_id)
        result.posted.append(eid)
        prev, head_entry = h, eid
        if len(entry_rows) >= _FLUSH_ENTRIES:
            flush()
    flush()
    if result.posted:
        conn.execute(update(_H).where(_H.c.id == 1).values(seq=seq, entry_id=head_entry, hash=prev))
        signature = signer.sign(head_message(seq, head_entry, prev))
        signed = SignedHead(
            seq=seq,
            entry_id=head_entry,
            head_hash=prev,
            algorithm=signer.algorithm,
            key_id=signer.key_id,
            signature_b64=base64.b64encode(signature).decode("ascii"),
        )
        conn.execute(
            insert(_S),
            [
                {
                    "seq": seq,
                    "entry_id": head_entry,
                    "head_hash": prev,
                    "algorithm": signed.algorithm,
                    "key_id": signed.key_id,
                    "public_key_pem": signer.public_key_pem().decode("ascii"),
                    "signature_b64": signed.signature_b64,
                }
            ],
        )
        result.signed_head = signed
        audit.record_on(
            conn,
            actor_id,
            actor_type,
            action,
            resource,
            correlation_id,
            audit_at,
            {
                "entries_posted": len(result.posted),
                "entries_existing": len(result.existing),
                "lines": lines_total,
                "head_seq": seq,
                "head_hash": prev,
            },
            window_id=next(iter(windows)) if len(windows) == 1 else None,
        )
    result.head_seq, result.head_hash = seq, prev


# ---------------------------------------------------------------------------------------------- postings


def post_authorization(
    window_id: str,
    output_digest: str,
    currency: str,
    decisions: Sequence[Mapping[str, Any]],
    *,
    effective_at: datetime | str,
    actor_id: str = "vgos",
    actor_type: str = "system",
    correlation_id: str | None = None,
    recorded_at: datetime | str | None = None,
    url: str | None = None,
) -> PostResult:
    """DR expense:payouts / CR liability:payable:<principal> per ALLOW decision bound to `output_digest`."""
    _text(window_id, "window_id", 64)
    _text(output_digest, "output_digest", 64)
    _currency(currency, "currency")
    eff = audit.utc_text(effective_at, "effective_at")
    drafts: list[Draft] = []
    seen: set[str] = set()
    for i, dec in enumerate(decisions):
        where = f"decisions[{i}]"
        pid = _text(dec.get("principal_id"), f"{where}.principal_id", 128)
        if pid in seen:
            raise InputError(f"{where}.principal_id: {pid} appears twice")
        seen.add(pid)
        bound = dec.get("output_digest", output_digest)
        if bound != output_digest:
            raise InputError(f"{where}.output_digest: decision for {pid} is bound to {bound}, not {output_digest}")
        verdict = dec.get("decision")
        if verdict not in ("ALLOW", "HOLD"):
            raise InputError(f"{where}.decision: expected ALLOW or HOLD, got {verdict!r}")
        amount = _amount(dec.get("payout_minor"), f"{where}.payout_minor")
        if verdict != "ALLOW" or amount == 0:
            continue
        if amount < 0:
            raise InputError(f"{where}.payout_minor: ALLOW for {pid} with negative payout {amount}")
        drafts.append(
            Draft(
                window_id=window_id,
                output_digest=output_digest,
                entry_type="TRANSFER",
                effective_at=eff,
                source="authorization",
                source_event_id=f"{window_id}/{output_digest}/{pid}",
                lines=(dr(EXPENSE_PAYOUTS, currency, amount), cr(payable(pid), currency, amount)),
            )
        )
    return append(
        drafts,
        action="ledger.post_authorization",
        resource=f"window/{window_id}",
        actor_id=actor_id,
        actor_type=actor_type,
        correlation_id=correlation_id or output_digest,
        recorded_at=recorded_at,
        url=url,
    )


def post_batch(
    window_id: str,
    output_digest: str,
    provider_batch_id: str,
    items: Sequence[Mapping[str, Any]],
    *,
    provider: str,
    currency: str,
    effective_at: datetime | str,
    actor_id: str = "vgos",
    actor_type: str = "system",
    correlation_id: str | None = None,
    recorded_at: datetime | str | None = None,
    url: str | None = None,
) -> PostResult:
    """One entry per provider batch: DR payable per item / CR asset:clearing:<provider> per currency."""
    _text(provider, "provider", 100)
    _text(provider_batch_id, "provider_batch_id", 200)
    eff = audit.utc_text(effective_at, "effective_at")
    debits: list[Line] = []
    totals: dict[str, int] = {}
    for i, item in enumerate(items):
        where = f"items[{i}]"
        pid = _text(item.get("principal_id"), f"{where}.principal_id", 128)
        raw = item["amount_minor"] if "amount_minor" in item else item.get("payout_minor")
        amount = _amount(raw, f"{where}.amount_minor")
        if amount <= 0:
            raise InputError(f"{where}.amount_minor: batch item for {pid} must be positive, got {amount}")
        ccy = _currency(item.get("currency", currency), f"{where}.currency")
        debits.append(dr(payable(pid), ccy, amount))
        totals[ccy] = totals.get(ccy, 0) + amount
    if not debits:
        raise InputError(f"batch {provider_batch_id}: no items")
    lines = (*debits, *(cr(clearing(provider), ccy, t) for ccy, t in sorted(totals.items())))
    draft = Draft(
        window_id=window_id,
        output_digest=output_digest,
        entry_type="TRANSFER",
        effective_at=eff,
        source="batch",
        source_event_id=f"{provider}/{provider_batch_id}",
        lines=lines,
    )
    return append(
        [draft],
        action="ledger.post_batch",
        resource=f"window/{window_id}",
        actor_id=actor_id,
        actor_type=actor_type,
        correlation_id=correlation_id or provider_batch_id,
        recorded_at=recorded_at,
        url=url,
    )


def post_settlement(
    window_id: str,
    output_digest: str,
    receipts: Sequence[Mapping[str, Any]],
    *,
    provider: str,
    currency: str,
    effective_at: datetime | str,
    actor_id: str = "vgos",
    actor_type: str = "system",
    correlation_id: str | None = None,
    recorded_at: datetime | str | None = None,
    url: str | None = None,
) -> PostResult:
    """One entry per matched receipt: DR asset:clearing:<provider> / CR asset:bank (settlement evidence)."""
    _text(provider, "provider", 100)
    eff = audit.utc_text(effective_at, "effective_at")
    drafts: list[Draft] = []
    for i, rc in enumerate(receipts):
        where = f"receipts[{i}]"
        rid = next((rc[k] for k in ("receipt_id", "provider_ref", "end_to_end_id") if rc.get(k)), None)
        rid = _text(rid, f"{where}.receipt_id", 300)
        amount = _amount(rc.get("amount_minor"), f"{where}.amount_minor")
        if amount <= 0:
            raise InputError(f"{where}.amount_minor: receipt {rid} must be positive, got {amount}")
        ccy = _currency(rc.get("currency", currency), f"{where}.currency")
        drafts.append(
            Draft(
                window_id=window_id,
                output_digest=output_digest,
                entry_type="TRANSFER",
                effective_at=eff,
                source="settlement",
                source_event_id=f"{provider}/{rid}",
                lines=(dr(clearing(provider), ccy, amount), cr(BANK, ccy, amount)),
            )
        )
    return append(
        drafts,
        action="ledger.post_settlement",
        resource=f"window/{window_id}",
        actor_id=actor_id,
        actor_type=actor_type,
        correlation_id=correlation_id,
        recorded_at=recorded_at,
        url=url,
    )


def post_fee(
    window_id: str,
    output_digest: str,
    currency: str,
    amount_minor: int,
    fee_id: str,
    *,
    provider: str,
    effective_at: datetime | str,
    counter_account: str = BANK,
    actor_id: str = "vgos",
    actor_type: str = "system",
    correlation_id: str | None = None,
    recorded_at: datetime | str | None = None,
    url: str | None = None,
) -> PostResult:
    """DR expense:fees / CR asset:bank (or the given counter account) for one provider fee."""
    _text(provider, "provider", 100)
    _text(fee_id, "fee_id", 200)
    amount = _amount(amount_minor, "amount_minor")
    if amount <= 0:
        raise InputError(f"fee {fee_id}: amount_minor must be positive, got {amount}")
    _currency(currency, "currency")
    eff = audit.utc_text(effective_at, "effective_at")
    draft = Draft(
        window_id=window_id,
        output_digest=output_digest,
        entry_type="FEE",
        effective_at=eff,
        source="fee",
        source_event_id=f"{provider}/{fee_id}",
        lines=(dr(EXPENSE_FEES, currency, amount), cr(counter_account, currency, amount)),
    )
    return append(
        [draft],
        action="ledger.post_fee",
        resource=f"window/{window_id}",
        actor_id=actor_id,
        actor_type=actor_type,
        correlation_id=correlation_id,
        recorded_at=recorded_at,
        url=url,
    )


def get_entry(entry_id: str, *, url: str | None = None) -> dict[str, Any] | None:
    """One stored entry with its lines (canonical line form), or None."""
    from vgos.store.db import get_engine

    with get_engine(url).connect() as conn:
        row = conn.execute(select(_E).where(_E.c.entry_id == entry_id)).first()
        if row is None:
            return None
        lines = conn.execute(select(_L).where(_L.c.entry_id == entry_id).order_by(_L.c.line_no)).all()
    entry = dict(row._mapping)
    entry["lines"] = [_line_of(r).as_dict() for r in lines]
    return entry


def reverse(
    entry_id: str,
    reason: str,
    *,
    effective_at: datetime | str,
    actor_id: str = "vgos",
    actor_type: str = "system",
    correlation_id: str | None = None,
    recorded_at: datetime | str | None = None,
    url: str | None = None,
) -> str:
    """Post the mirror image of an entry (debits become credits); both stay in the journal. Returns its id."""
    _text(reason, "reason", 2000)
    eff = audit.utc_text(effective_at, "effective_at")
    original = get_entry(entry_id, url=url)
    if original is None:
        raise InputError(f"reverse: no ledger entry {entry_id}")
    if original["entry_type"] == "REVERSAL":
        raise InputError(f"reverse: {entry_id} is itself a reversal; post a new entry instead")
    lines = tuple(
        Line(
            ln["account"],
            ln["currency"],
            debit_minor=ln.get("credit_minor", 0),
            credit_minor=ln.get("debit_minor", 0),
        )
        for ln in original["lines"]
    )
    draft = Draft(
        window_id=original["window_id"],
        output_digest=original["output_digest"],
        entry_type="REVERSAL",
        effective_at=eff,
        source="reversal",
        source_event_id=entry_id,
        lines=lines,
        reverses=entry_id,
        memo=reason,
    )
    res = append(
        [draft],
        action="ledger.reverse",
        resource=f"window/{original['window_id']}",
        actor_id=actor_id,
        actor_type=actor_type,
        correlation_id=correlation_id or entry_id,
        recorded_at=recorded_at,
        url=url,
    )
    return (res.posted or res.existing)[0]


# ---------------------------------------------------------------------------------------------- balances


def trial_balance(window_id: str | None = None, *, url: str | None = None,
                  source: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """Per account and currency: debits, credits and balance (debit − credit), derived from the lines.

    `source` = (source, source_event_id prefix) narrows it to one poster's entries, e.g. one tenant's window."""
    from vgos.store.db import get_engine

    d = cast(func.coalesce(func.sum(_L.c.debit_minor), 0), BigInteger).label("debit_minor")
    c = cast(func.coalesce(func.sum(_L.c.credit_minor), 0), BigInteger).label("credit_minor")
    stmt = select(_L.c.account, _L.c.currency, d, c).select_from(_L.join(_E, _E.c.entry_id == _L.c.entry_id))
    if window_id is not None:
        stmt = stmt.where(_E.c.window_id == window_id)
    if source is not None:
        stmt = stmt.where(_E.c.source == source[0], _E.c.source_event_id.startswith(source[1], autoescape=True))
    stmt = stmt.group_by(_L.c.currency, _L.c.account).order_by(_L.c.currency, _L.c.account)
    with get_engine(url).connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        {
            "account": r.account,
            "currency": r.currency,
            "debit_minor": int(r.debit_minor),
            "credit_minor": int(r.credit_minor),
            "balance_minor": int(r.debit_minor) - int(r.credit_minor),
        }
        for r in rows
    ]


def balances(window_id: str | None = None, *, url: str | None = None) -> dict[tuple[str, str], int]:
    """(account, currency) -> debit − credit balance."""
    return {(r["account"], r["currency"]): r["balance_minor"] for r in trial_balance(window_id, url=url)}


def format_trial_balance(rows: Sequence[Mapping[str, Any]], title: str = "trial balance") -> str:
    """Printable trial balance with exact decimal amounts and a per-currency total that must balance."""
    if not rows:
        return f"{title}: no postings"
    width = max(len("account"), *(len(r["account"]) for r in rows))
    out = [title, f"{'account':<{width}}  ccy  {'debit':>14}  {'credit':>14}  {'balance':>14}"]
    totals: dict[str, list[int]] = {}
    for r in rows:
        ccy = r["currency"]
        out.append(
            f"{r['account']:<{width}}  {ccy}  {money.minor_to_decimal(r['debit_minor'], ccy):>14}  "
            f"{money.minor_to_decimal(r['credit_minor'], ccy):>14}  "
            f"{money.minor_to_decimal(r['balance_minor'], ccy):>14}"
        )
        t = totals.setdefault(ccy, [0, 0])
        t[0] += r["debit_minor"]
        t[1] += r["credit_minor"]
    for ccy, (dsum, csum) in sorted(totals.items()):
        state = "balanced" if dsum == csum else "NOT BALANCED"
        out.append(
            f"{'total':<{width}}  {ccy}  {money.minor_to_decimal(dsum, ccy):>14}  "
            f"{money.minor_to_decimal(csum, ccy):>14}  {state:>14}"
        )
    return "\n".join(out)


def check_window(
    window_id: str,
    output_digest: str,
    currency: str,
    decisions: Sequence[Mapping[str, Any]],
    *,
    url: str | None = None,
) -> dict[str, Any]:
    """Balance check for one window: debits = credits per currency, and authorized = Σ ALLOW payouts."""
    from vgos.store.db import get_engine

    rows = trial_balance(window_id, url=url)
    per_ccy: dict[str, dict[str, int]] = {}
    for r in rows:
        t = per_ccy.setdefault(r["currency"], {"debit_minor": 0, "credit_minor": 0})
        t["debit_minor"] += r["debit_minor"]
        t["credit_minor"] += r["credit_minor"]
    expected = sum(
        int(d["payout_minor"]) for d in decisions if d.get("decision") == "ALLOW" and int(d["payout_minor"]) > 0
    )
    net = cast(func.coalesce(func.sum(_L.c.debit_minor - _L.c.credit_minor), 0), BigInteger)
    stmt = (
        select(net)
        .select_from(_L.join(_E, _E.c.entry_id == _L.c.entry_id))
        .where(
            _E.c.window_id == window_id,
            _E.c.output_digest == output_digest,
            _L.c.account == EXPENSE_PAYOUTS,
            _L.c.currency == currency,
            _E.c.source.in_(("authorization", "reversal")),
        )
    )
    with get_engine(url).connect() as conn:
        authorized = int(conn.execute(stmt).scalar_one())
    balanced = all(t["debit_minor"] == t["credit_minor"] for t in per_ccy.values())
    return {
        "passed": balanced and authorized == expected,
        "balanced": balanced,
        "per_currency": per_ccy,
        "authorized_minor": authorized,
        "expected_authorized_minor": expected,
        "trial_balance": rows,
    }


def demo_ledger(
    window_id: str,
    output_digest: str,
    currency: str,
    decisions: Sequence[Mapping[str, Any]],
    *,
    effective_at: datetime | str | None = None,
    recorded_at: datetime | str | None = None,
    url: str | None = None,
) -> str:
    """Demo hook: post the window's authorization and return the printed trial balance of that window."""
    eff = effective_at or f"{window_id}T21:00:00Z"  # the window's default close (SPEC §2)
    res = post_authorization(
        window_id,
        output_digest,
        currency,
        decisions,
        effective_at=eff,
        actor_id="demo",
        actor_type="user",
        recorded_at=recorded_at,
        url=url,
    )
    text = format_trial_balance(trial_balance(window_id, url=url), f"trial balance, window {window_id}")
    return (
        f"ledger: {len(res.posted)} entries posted, {len(res.existing)} already present, "
        f"chain head #{res.head_seq} {res.head_hash[:16]}…\n{text}"
    )


# ---------------------------------------------------------------------------------------------- verification


def _line_of(r: Any) -> Line:
    return Line(r.account, r.currency, int(r.debit_minor), int(r.credit_minor))


def _draft_of_row(r: Any, lines: Sequence[Line]) -> Draft:
    return Draft(
        window_id=r.window_id,
        output_digest=r.output_digest,
        entry_type=r.entry_type,
        effective_at=r.effective_at,
        source=r.source,
        source_event_id=r.source_event_id,
        lines=tuple(lines),
        reverses=r.reverses,
        memo=r.memo,
    )


def _broken(reason: str, seq: int, entry_id: str, what: str) -> VerificationError:
    return VerificationError(reason, f"first broken entry #{seq} {entry_id}: {what}")


def _check_entry(body: dict[str, Any], stored_hash: str, expected_seq: int, prev: str, lines: Sequence[Line]) -> None:
    seq, eid = body["seq"], body["entry_id"]
    if seq != expected_seq:
        raise _broken("LEDGER_SEQ_GAP", seq, eid, f"expected sequence number {expected_seq}")
    if body["prev_hash"] != prev:
        raise _broken("LEDGER_CHAIN_BROKEN", seq, eid, "prev_hash does not match the previous entry's hash")
    if entry_id_for(body["source"], body["source_event_id"]) != eid:
        raise _broken("LEDGER_HASH_MISMATCH", seq, eid, "entry_id does not match its (source, source_event_id)")
    try:
        recomputed = entry_hash(body)
    except CanonicalError as exc:
        raise _broken("LEDGER_HASH_MISMATCH", seq, eid, f"not canonical ({exc})") from exc
    if recomputed != stored_hash:
        raise _broken("LEDGER_HASH_MISMATCH", seq, eid, "content does not match its hash")
    try:
        check_balanced(lines, f"entry {eid}")
    except InputError as exc:
        raise _broken("LEDGER_UNBALANCED", seq, eid, str(exc)) from exc


def _verify_signature(
    algorithm: str,
    key_id: str,
    message: bytes,
    sig_b64: str,
    trust: Sequence[TrustedKey],
    where: str,
    *,
    shipped_pem: bytes | None = None,
    invalid: str = "LEDGER_SIGNATURE_INVALID",
    at: str | None = None,
) -> TrustedKey:
    """Check a signature with the TRUSTED key of that key id (never with a key shipped alongside it); the key.

    `at`: the latest effective time the signature covers; the key must be valid then (a retired key signs
    nothing dated after its retirement)."""
    from vgos.signing import key_id_for_public_key, verify_signature
    from vgos.trust import match_trusted

    try:
        signature = base64.b64decode(sig_b64, validate=True)
        if shipped_pem is not None and key_id_for_public_key(shipped_pem) != key_id:
            raise VerificationError(invalid, f"{where}: key id {key_id} is not the shipped key's id")
    except (ValueError, TypeError) as exc:
        raise VerificationError(invalid, f"{where}: unreadable key or signature") from exc
    key = match_trusted(trust, key_id=key_id) if isinstance(key_id, str) else None
    if key is None:
        known = ", ".join(sorted({k.key_id for k in trust})) or "none: give --public-key or set VGOS_TRUSTED_KEYS"
        raise VerificationError("LEDGER_UNTRUSTED_KEY", f"{where}: signed by key {key_id}, not a trusted key "
                                                        f"(trusted: {known})")
    if key.algorithm != algorithm or not verify_signature(algorithm, key.public_key_pem, message, signature):
        raise VerificationError(invalid, f"{where}: signature does not verify under trusted key {key.key_id}")
    if at is not None and not key.valid_at(at):
        raise VerificationError("LEDGER_KEY_NOT_VALID", f"{where}: covers entries effective {at}, outside the "
                                                        f"validity of trusted key {key.describe()}")
    return key


def trusted_keys(public_key_pems: Sequence[bytes] = ()) -> list[TrustedKey]:
    """The keys this verifier trusts: only the given PEMs when any, else the trust file and the local signer."""
    from vgos.trust import trusted_keys as from_trust_store

    return from_trust_store(list(public_key_pems))


def trusted_key_ids(public_key_pems: Iterable[bytes]) -> set[str]:
    """Key ids of the public keys an auditor pins."""
    return {k.key_id for k in trusted_keys(list(public_key_pems))}


# ---------------------------------------------------------------------------------------------- anchors


@dataclass(frozen=True)
class Anchor:
    """A signed head read back from the artifact store, and where it is."""

    head: SignedHead
    url: str

    @property
    def seq(self) -> int:
        return self.head.seq


def anchor_key(seq: int) -> str:
    """Artifact-store key of the anchor of head #seq (zero-padded, so keys sort by sequence number)."""
    return f"{ANCHOR_PREFIX}/{seq:020d}.json"


def _store_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError]
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        errors += [BotoCoreError, ClientError]
    except ImportError:  # pragma: no cover - boto3 is a dependency
        pass
    return tuple(errors)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def anchor_store() -> BlobStore:
    """The artifact store that holds the anchors (VGOS_ARTIFACTS, else VGOS_HOME/artifacts)."""
    from vgos import config
    from vgos.storage import open_store

    root = config.artifacts_root()
    try:
        return open_store(root)
    except _store_errors() as exc:
        raise InputError(f"artifact store {root}: cannot open ({_first_line(exc)})") from exc


def _anchor_seqs(store: BlobStore, after: int | None) -> list[int]:
    """Sequence numbers of the anchors in the store, ascending: all of them, or only those > `after`."""
    from vgos.storage import LocalBlobStore, S3BlobStore

    try:
        if isinstance(store, S3BlobStore):  # S3 lists in key order: start after a known point, not at the beginning
            base = f"{store.prefix}/{ANCHOR_PREFIX}/" if store.prefix else f"{ANCHOR_PREFIX}/"
            kwargs: dict[str, Any] = {"Bucket": store.bucket, "Prefix": base}
            if after is not None and after >= 0:
                kwargs["StartAfter"] = base + anchor_key(after).rsplit("/", 1)[1]
            names = [
                obj["Key"][len(base):]
                for page in store.client.get_paginator("list_objects_v2").paginate(**kwargs)  # type: ignore[attr-defined]
                for obj in page.get("Contents", [])
            ]
        elif isinstance(store, LocalBlobStore):
            folder = Path(store.root) / ANCHOR_PREFIX
            try:
                with os.scandir(folder) as it:
                    names = [e.name for e in it if e.is_file()]
            except FileNotFoundError:
                names = []
        else:
            names = [k.rsplit("/", 1)[-1] for k in store.list(ANCHOR_PREFIX)]
    except _store_errors() as exc:
        raise InputError(f"ledger anchors at {store.root}/{ANCHOR_PREFIX}: cannot list ({_first_line(exc)})") from exc
    seqs = (int(m.group(1)) for n in names if (m := _ANCHOR_NAME.fullmatch(n)))
    return sorted(s for s in seqs if after is None or s > after)


def read_anchor(store: BlobStore, seq: int) -> Anchor:
    """The anchor of head #seq; LEDGER_ANCHOR_INVALID when it is not a well-formed anchor of that head."""
    from vgos.storage import BlobNotFound

    key = anchor_key(seq)
    where = f"anchor #{seq} ({store.url(key)})"
    try:
        data = store.get(key)
    except BlobNotFound as exc:
        raise VerificationError("LEDGER_ANCHOR_INVALID", f"{where}: listed but cannot be read") from exc
    except _store_errors() as exc:
        raise InputError(f"{where}: cannot read ({_first_line(exc)})") from exc
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise VerificationError("LEDGER_ANCHOR_INVALID", f"{where}: not JSON") from exc
    fields = {"schema", "seq", "entry_id", "hash", "algorithm", "key_id", "signature_b64"}
    if not isinstance(doc, dict) or set(doc) != fields or doc["schema"] != ANCHOR_SCHEMA:
        raise VerificationError("LEDGER_ANCHOR_INVALID", f"{where}: not a {ANCHOR_SCHEMA} object")
    if doc["seq"] != seq or isinstance(doc["seq"], bool):
        raise VerificationError("LEDGER_ANCHOR_INVALID", f"{where}: names head #{doc['seq']!r}, not #{seq}")
    if not all(isinstance(doc[k], str) and doc[k] for k in fields - {"seq"}):
        raise VerificationError("LEDGER_ANCHOR_INVALID", f"{where}: fields must be non-empty strings")
    head = SignedHead(seq, doc["entry_id"], doc["hash"], doc["algorithm"], doc["key_id"], doc["signature_b64"])
    return Anchor(head, store.url(key))


def newest_anchor(store: BlobStore, hint: int = 0) -> Anchor | None:
    """The anchor with the highest sequence number, or None. `hint` is where listing starts (any value is safe:
    when no anchor is at or after it, the whole prefix is listed)."""
    seqs = _anchor_seqs(store, hint - 1) if hint > 0 else []
    if not seqs:
        seqs = _anchor_seqs(store, None)
    return read_anchor(store, seqs[-1]) if seqs else None


def _head_seq(conn: Connection) -> int:
    return int(conn.execute(select(_H.c.seq).where(_H.c.id == 1)).scalar_one())


def _listing_hint(conn: Connection) -> int:
    """The signed head before the current one: its anchor is the newest one unless a caller left two unanchored."""
    head_seq = _head_seq(conn)
    prior = conn.execute(select(func.max(_S.c.seq)).where(_S.c.seq < head_seq)).scalar()
    return int(prior or head_seq)


def _verify_anchor(anchor: Anchor, trust: Sequence[TrustedKey]) -> TrustedKey:
    h = anchor.head
    return _verify_signature(
        h.algorithm,
        h.key_id,
        head_message(h.seq, h.entry_id, h.head_hash),
        h.signature_b64,
        trust,
        f"anchor #{h.seq} ({anchor.url})",
        invalid="LEDGER_ANCHOR_INVALID",
    )


def _anchor_problem(conn: Connection, anchor: Anchor, db_seq: int) -> VerificationError | None:
    """How the database contradicts the anchor, or None: the chain must reach it and hold its entry there."""
    a = anchor.head
    where = f"anchor #{a.seq} ({anchor.url})"
    if a.seq > db_seq:
        return VerificationError(
            "LEDGER_TRUNCATED",
            f"{where} but the database ends at #{db_seq}: entries removed behind the application",
        )
    row = conn.execute(select(_E.c.entry_id, _E.c.hash).where(_E.c.seq == a.seq)).first()
    if row is None:
        return VerificationError("LEDGER_TRUNCATED", f"{where} but the database has no entry #{a.seq}")
    if (row.entry_id, row.hash) != (a.entry_id, a.head_hash):
        return VerificationError(
            "LEDGER_REWRITTEN",
            f"{where} is {a.entry_id} {a.head_hash[:16]}… but the database has {row.entry_id} {row.hash[:16]}… "
            f"at #{a.seq}",
        )
    return None


def _check_against_anchor(conn: Connection, store: BlobStore, *, own: bool) -> Anchor | None:
    """Before an append: the newest anchor, after checking that the chain in `conn` still reaches and holds it.
    A contradiction is raised only for a genuine anchor (else LEDGER_ANCHOR_INVALID / LEDGER_UNTRUSTED_KEY).

    The anchors are listed BEFORE the head is read, and (on our `own` connection) in a new transaction: an anchor
    is written only after its head committed, so a concurrent posting can never look like a truncation."""
    hint = _listing_hint(conn)
    if own:
        conn.rollback()  # end the read (a SQLite snapshot would otherwise predate the listing)
    newest = newest_anchor(store, hint)
    if newest is None:
        return None
    problem = _anchor_problem(conn, newest, _head_seq(conn))
    if problem is not None:
        _verify_anchor(newest, trusted_keys())
        raise problem
    return newest


def _signed_head_at(conn: Connection, seq: int) -> SignedHead | None:
    """The (first) stored signature of head #seq, or None."""
    r = conn.execute(select(_S).where(_S.c.seq == seq).order_by(_S.c.id).limit(1)).first()
    if r is None:
        return None
    return SignedHead(int(r.seq), r.entry_id, r.head_hash, r.algorithm, r.key_id, r.signature_b64)


def _genuine(head: SignedHead, trust: Sequence[TrustedKey] | None = None) -> bool:
    """True when a stored head signature verifies under a trusted key (before it is anchored)."""
    try:
        _verify_signature(head.algorithm, head.key_id, head_message(head.seq, head.entry_id, head.head_hash),
                          head.signature_b64, trusted_keys() if trust is None else trust, f"head #{head.seq}")
    except VerificationError:
        return False
    return True


def write_anchor(store: BlobStore, head: SignedHead) -> str:
    """Write the anchor of a committed, signed head (write-once; the same head again is a no-op). Its URL."""
    return store.put(anchor_key(head.seq), head.anchor_bytes(), write_once=True)


def _write_anchor_logged(store: BlobStore, head: SignedHead) -> str | None:
    """write_anchor after a commit: never raises (the posting is committed); failures are logged, caught up later."""
    from vgos.storage import WriteOnceViolation

    try:
        return write_anchor(store, head)
    except WriteOnceViolation as exc:
        log.error("ledger anchor #%s: a different anchor exists (%s): run `vgos ledger verify`", head.seq, exc)
    except _store_errors() as exc:
        log.warning("ledger anchor #%s not written (%s); the next append or `vgos ledger verify` writes it",
                    head.seq, _first_line(exc))
    return None


def anchor_pending(*, url: str | None = None) -> dict[str, Any]:
    """Anchor the committed chain head when it is newer than the newest anchor; call after committing a
    transaction that posted through `append(conn=...)`. Refuses (VerificationError) a chain that contradicts the
    newest anchor or a head whose signature is not by a trusted key; a failed write is logged, not raised."""
    from vgos.store.db import get_engine

    store = anchor_store()
    with get_engine(url).connect() as conn:
        newest = _check_against_anchor(conn, store, own=True)
        head_seq = _head_seq(conn)
        head = _signed_head_at(conn, head_seq) if head_seq > (newest.seq if newest else 0) else None
    out: dict[str, Any] = {
        "head_seq": head_seq,
        "anchor_seq": newest.seq if newest else None,
        "anchor_url": newest.url if newest else None,
        "written": False,
    }
    if head is None:
        return out
    _verify_signature(head.algorithm, head.key_id, head_message(head.seq, head.entry_id, head.head_hash),
                      head.signature_b64, trusted_keys(), f"head signature at #{head.seq}")
    written = _write_anchor_logged(store, head)
    if written is not None:
        out.update(anchor_seq=head.seq, anchor_url=written, written=True)
    return out


# ---------------------------------------------------------------------------------------------- chain


def verify_chain(
    *,
    url: str | None = None,
    trusted: Sequence[TrustedKey] | None = None,
    anchors: bool = True,
    catch_up: bool = True,
) -> dict[str, Any]:
    """Recompute entry hashes, chain links, balances and head signatures, then check the chain against the newest
    anchor in the artifact store; raise naming the first break.

    Signatures count only under `trusted` keys (default: `trusted_keys()`, the trust file and the local signer).
    With `catch_up`, a verified head newer than the newest anchor is anchored (a posting committed in a caller's
    transaction); a failure to write it is reported in `anchor_error`, not raised."""
    from vgos.store.db import get_engine

    trust = list(trusted) if trusted is not None else trusted_keys()
    engine = get_engine(url)
    store = anchor_store() if anchors else None
    newest = None
    if store is not None:  # listed before the chain is read: a concurrent posting is never taken for a truncation
        with engine.connect() as c:
            hint = _listing_hint(c)
            c.rollback()
        newest = newest_anchor(store, hint)
    with engine.connect() as conn:
        # one snapshot for all the reads below, so postings committed meanwhile are simply not seen
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        elif conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # pysqlite would run each SELECT in its own snapshot
        lines_of: dict[str, list[Line]] = {}
        for r in conn.execute(select(_L).order_by(_L.c.entry_id, _L.c.line_no)):
            lines_of.setdefault(r.entry_id, []).append(_line_of(r))
        prev, expected, last_id = GENESIS_HASH, 1, None
        hash_at: dict[int, tuple[str, str]] = {}
        latest_at: dict[int, str] = {}  # seq -> the latest effective_at up to that entry
        for r in conn.execute(select(_E).order_by(_E.c.seq)):
            lines = lines_of.pop(r.entry_id, [])
            body = entry_body(int(r.seq), _draft_of_row(r, lines), r.prev_hash)
            body["entry_id"] = r.entry_id
            _check_entry(body, r.hash, expected, prev, lines)
            hash_at[int(r.seq)] = (r.entry_id, r.hash)
            latest_at[int(r.seq)] = max(r.effective_at, latest_at.get(int(r.seq) - 1, r.effective_at))
            prev, expected, last_id = r.hash, expected + 1, r.entry_id
        count = expected - 1
        if lines_of:
            orphan = sorted(lines_of)[0]
            raise VerificationError("LEDGER_ORPHAN_LINES", f"lines of unknown entry {orphan}")
        head = conn.execute(select(_H).where(_H.c.id == 1)).one()
        if int(head.seq) != count or head.hash != prev:
            raise VerificationError(
                "LEDGER_HEAD_MISMATCH",
                f"chain head row says #{head.seq} {head.hash[:16]}… but the journal ends at #{count} "
                f"{last_id or '(empty)'} {prev[:16]}… (entry removed or added behind the application)",
            )
        signed_to, keys, used = 0, set(), {}
        for s in conn.execute(select(_S).order_by(_S.c.seq, _S.c.id)):
            where = f"head signature at #{s.seq}"
            if hash_at.get(int(s.seq)) != (s.entry_id, s.head_hash):
                raise VerificationError(
                    "LEDGER_SIGNATURE_INVALID",
                    f"{where}: signs {s.entry_id} {s.head_hash[:16]}…, not the chain's entry",
                )
            key = _verify_signature(
                s.algorithm,
                s.key_id,
                head_message(int(s.seq), s.entry_id, s.head_hash),
                s.signature_b64,
                trust,
                where,
                shipped_pem=s.public_key_pem.encode("ascii"),
                at=latest_at.get(int(s.seq)),
            )
            signed_to, keys = max(signed_to, int(s.seq)), keys | {s.key_id}
            used[key.key_id] = key
        if signed_to != count:
            raise VerificationError(
                "LEDGER_HEAD_UNSIGNED", f"entries after #{signed_to} up to #{count} are not signed"
            )
        pending = None
        if store is not None:
            if newest is not None:
                anchor_key_ = _verify_anchor(newest, trust)
                used.setdefault(anchor_key_.key_id, anchor_key_)
                problem = _anchor_problem(conn, newest, count)
                if problem is not None:
                    raise problem
            if catch_up and count > (newest.seq if newest else 0):
                pending = _signed_head_at(conn, count)
    report: dict[str, Any] = {
        "entries": count,
        "head_seq": count,
        "head_hash": prev,
        "key_ids": sorted(keys),
        "trusted_keys": [used[k].describe() for k in sorted(used)],
        "anchor_seq": newest.seq if newest else None,
        "anchor_url": newest.url if newest else None,
        "anchored_now": False,
        "anchor_error": None,
    }
    if pending is not None and store is not None:
        written = _write_anchor_logged(store, pending)
        if written is None:
            report["anchor_error"] = f"head #{pending.seq} could not be anchored in {store.root} (see the log)"
        else:
            report.update(anchor_seq=pending.seq, anchor_url=written, anchored_now=True)
    return report


# ------------------------------------------------------------------------------------------ proof packages


def _day(day: str, name: str) -> date:
    try:
        return datetime.strptime(day, "%Y-%m-%d").date()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: expected a date YYYY-MM-DD, got {day!r}") from exc


def export_proof(date_from: str, date_to: str, out: str | Path, *, url: str | None = None) -> dict[str, Any]:
    """Write a signed proof package for entries effective on days [from, to]: the contiguous chain segment
    from the first such entry up to the first signed head covering the last one, with its signature."""
    from vgos.storage import atomic_write_bytes
    from vgos.store.db import get_engine

    lo, hi = _day(date_from, "--from"), _day(date_to, "--to")
    if lo > hi:
        raise InputError(f"--from {lo} is after --to {hi}")
    # every canonical UTC text of day D starts with "D" and sorts after "D" and before the next day's "D+1"
    start, stop = lo.isoformat(), (hi + timedelta(days=1)).isoformat()
    in_range = (_E.c.effective_at >= start) & (_E.c.effective_at < stop)
    with get_engine(url).connect() as conn:
        first, last, n = conn.execute(
            select(func.min(_E.c.seq), func.max(_E.c.seq), func.count()).where(in_range)
        ).one()
        if not n:
            raise InputError(f"no ledger entries effective between {lo} and {hi}")
        sig = conn.execute(select(_S).where(_S.c.seq >= last).order_by(_S.c.seq, _S.c.id).limit(1)).first()
        if sig is None:
            raise VerificationError("LEDGER_HEAD_UNSIGNED", f"no signed chain head at or after entry #{last}")
        end = int(sig.seq)
        rows = conn.execute(select(_E).where(_E.c.seq >= first, _E.c.seq <= end).order_by(_E.c.seq)).all()
        lines_of: dict[str, list[Line]] = {}
        for r in conn.execute(
            select(_L)
            .join(_E, _E.c.entry_id == _L.c.entry_id)
            .where(_E.c.seq >= first, _E.c.seq <= end)
            .order_by(_L.c.entry_id, _L.c.line_no)
        ):
            lines_of.setdefault(r.entry_id, []).append(_line_of(r))
    entries = []
    prev, expected = rows[0].prev_hash, int(first)
    anchor = {"seq": int(first) - 1, "hash": prev}
    for r in rows:
        lines = lines_of.get(r.entry_id, [])
        body = entry_body(int(r.seq), _draft_of_row(r, lines), r.prev_hash)
        body["entry_id"] = r.entry_id
        _check_entry(body, r.hash, expected, prev, lines)  # never export a proof that cannot verify
        entries.append({**body, "hash": r.hash})
        prev, expected = r.hash, expected + 1
    if prev != sig.head_hash or rows[-1].entry_id != sig.entry_id:
        raise VerificationError("LEDGER_HEAD_MISMATCH", f"signed head #{end} does not match the journal")
    from vgos.signing import load_signer

    rng = {"from": lo.isoformat(), "to": hi.isoformat(), "entries_in_range": int(n)}
    head = {"schema": HEAD_SCHEMA, "seq": end, "entry_id": sig.entry_id, "hash": sig.head_hash}
    signer = load_signer()
    package = {
        "schema": PROOF_SCHEMA,
        "range": rng,
        "anchor": anchor,
        "entries": entries,
        "head": head,
        "package_signature": {  # the claim "these are all the entries of the range", signed by the exporter
            "algorithm": signer.algorithm,
            "key_id": signer.key_id,
            "public_key_pem": signer.public_key_pem().decode("ascii"),
            "signature_b64": base64.b64encode(signer.sign(_package_message(rng, anchor, head))).decode("ascii"),
        },
        "signature": {
            "algorithm": sig.algorithm,
            "key_id": sig.key_id,
            "public_key_pem": sig.public_key_pem,
            "signature_b64": sig.signature_b64,
        },
    }
    atomic_write_bytes(Path(out), orjson.dumps(package, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return {"entries": len(entries), "entries_in_range": int(n), "head_seq": end, "key_id": sig.key_id}


def _package_message(rng: Mapping[str, Any], anchor: Mapping[str, Any], head: Mapping[str, Any]) -> bytes:
    """What a package signature covers: its range (with the entry count), where it starts, and the head."""
    return jcs_bytes({"schema": PROOF_SCHEMA, "range": dict(rng), "anchor": dict(anchor), "head": dict(head)})


def verify_proof(path: str | Path, *, trusted: Sequence[TrustedKey] | None = None) -> dict[str, Any]:
    """Check a proof package offline: entry hashes, links from its anchor, balances, and the head signature under a
    key the verifier trusts (`trusted`, default `trusted_keys()`); the key shipped in the package only has to
    match its key id: a package re-signed by any other key is LEDGER_UNTRUSTED_KEY."""
    p = Path(path)
    trust = list(trusted) if trusted is not None else trusted_keys()
    try:
        package = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from exc
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{p}: not JSON ({exc})") from exc
    if not isinstance(package, dict) or package.get("schema") != PROOF_SCHEMA:
        raise InputError(f"{p}: schema: not a {PROOF_SCHEMA} package")
    try:
        anchor, entries, head, sig = (
            package["anchor"],
            package["entries"],
            package["head"],
            package["signature"],
        )
        prev, expected = anchor["hash"], int(anchor["seq"]) + 1
        if not entries:
            raise VerificationError("LEDGER_PROOF_MALFORMED", f"{p}: no entries")
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or set(e) != {*_ENTRY_KEYS, "hash"} or e["schema"] != ENTRY_SCHEMA:
                raise VerificationError("LEDGER_PROOF_MALFORMED", f"{p}: entries[{i}] has unexpected fields")
            lines = [
                Line(ln["account"], ln["currency"], ln.get("debit_minor", 0), ln.get("credit_minor", 0))
                for ln in e["lines"]
            ]
            body = {k: e[k] for k in _ENTRY_KEYS}
            if [ln.as_dict() for ln in lines] != e["lines"]:
                raise _broken("LEDGER_HASH_MISMATCH", e["seq"], e["entry_id"], "lines are not in canonical form")
            _check_entry(body, e["hash"], expected, prev, lines)
            prev, expected = e["hash"], expected + 1
        last = entries[-1]
        if (head.get("schema"), head.get("seq"), head.get("entry_id"), head.get("hash")) != (
            HEAD_SCHEMA,
            last["seq"],
            last["entry_id"],
            prev,
        ):
            raise VerificationError("LEDGER_HEAD_MISMATCH", f"{p}: head does not match the last entry's hash")
        key = _verify_signature(
            sig["algorithm"],
            sig["key_id"],
            head_message(head["seq"], head["entry_id"], head["hash"]),
            sig["signature_b64"],
            trust,
            f"{p}: head signature",
            shipped_pem=sig["public_key_pem"].encode("ascii"),
            at=max(e["effective_at"] for e in entries),
        )
        # the range claim: signed by a trusted exporter, and true of the entries shipped (none left out at the start)
        rng, psig = package["range"], package["package_signature"]
        _verify_signature(psig["algorithm"], psig["key_id"], _package_message(rng, anchor, head),
                          psig["signature_b64"], trust, f"{p}: package signature",
                          shipped_pem=psig["public_key_pem"].encode("ascii"),
                          at=max(e["effective_at"] for e in entries))
        start, stop = _day(rng["from"], "range.from").isoformat(), (
            _day(rng["to"], "range.to") + timedelta(days=1)).isoformat()
        inside = [e for e in entries if start <= e["effective_at"] < stop]
        if len(inside) != int(rng["entries_in_range"]) or not inside or inside[0] is not entries[0]:
            raise VerificationError("LEDGER_PROOF_INCOMPLETE",
                                    f"{p}: the package holds {len(inside)} entries of {rng['from']}..{rng['to']} "
                                    f"from #{entries[0]['seq']}, its signed range says {rng['entries_in_range']}")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise VerificationError("LEDGER_PROOF_MALFORMED", f"{p}: missing or malformed field ({exc})") from exc
    return {
        "entries": len(entries),
        "head_seq": head["seq"],
        "head_hash": head["hash"],
        "key_id": sig["key_id"],
        "trusted_key": key.describe(),
        "range": package.get("range"),
    }
