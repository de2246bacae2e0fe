"""Post the window's accrual journal to NetSuite as journalEntry records (docs/netsuite.md "GL model").

The journal covers exactly the payees the bills cover (built from the same build_bill_specs), its lines are
aggregated (gl_mappings/journal.py), and each part is upserted by a deterministic externalId with the output
digest in the memo. Entries of a window form a chain of generations, written strictly in order:

    a0 (the accrual, dated the window's close date), r1 (reverses a0), a1 (the re-sealed accrual), r2, a2 ...

A change while the latest accrual's period is open edits that accrual in place (lines replaced). When NetSuite
refuses the edit because the period is closed (TRAN_PRD_CLOSED), VGOS posts r<k+1>, the exact mirror of what
a<k> holds, and a<k+1>, both dated the posting day (an open period). Nothing is ever edited in a closed period,
a sync that finds NetSuite already matching writes nothing, and a crash between r<k+1> and a<k+1> is finished
by the next run, because the chain tells which step is missing.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from gl_mappings.journal import MAX_LINES_PER_ENTRY, Journal, build_journal, check_balanced
from vgos.errors import InputError
from vgos.money import decimal_to_minor, minor_to_decimal

from . import jsonexact
from .dates import config_zone, date_from_rest, date_from_soap, parse_day, soap_datetime
from .model import DriftItem, SyncReport, WriteResult
from .retry import NetSuiteError
from .stamping import build_bill_specs

RECORD_TYPE = "journalEntry"
PERIOD_CLOSED = "TRAN_PRD_CLOSED"
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_PART = re.compile(r"part (\d+)/(\d+)\s*$")
_DIGEST = re.compile(r"\b([0-9a-f]{64})\b")
_DISCOVER_STEP = 8  # generations asked for per SOAP getList while walking the chain

Line = tuple[str, int, int, str | None, str | None]  # account, debit, credit (minor), department, class


def entry_external_id(tenant_id: str, window_id: str, tag: str, part: int) -> str:
    """externalId of one part of one generation ([A-Za-z0-9_-], at most 80 characters, tenant in the hash)."""
    digest = hashlib.sha256("\x1f".join([tenant_id, window_id, tag, str(part)]).encode()).hexdigest()[:16]
    readable = _SAFE.sub("_", f"{tenant_id}-{window_id}")[:40]
    return f"vgos-je-{readable}-{tag}-{part}-{digest}"


@dataclass(frozen=True)
class EntrySpec:
    """One journalEntry VGOS wants NetSuite to hold."""

    external_id: str
    tran_date: str
    memo: str
    currency: str
    currency_id: str | None
    subsidiary: str | None
    lines: tuple[Line, ...]
    line_memos: tuple[str | None, ...] = ()

    def key(self) -> tuple:
        """What must match for the entry to count as posted (the date is kept as NetSuite holds it)."""
        return (tuple(sorted(self.lines, key=repr)), self.memo, self.currency_id, self.subsidiary)


@dataclass(frozen=True)
class RemoteEntry:
    """A journalEntry as read back from NetSuite."""

    external_id: str
    internal_id: str
    tran_date: str | None
    memo: str
    currency_id: str | None
    subsidiary: str | None
    lines: tuple[Line, ...]

    def key(self) -> tuple:
        return (tuple(sorted(self.lines, key=repr)), self.memo, self.currency_id, self.subsidiary)

    @property
    def declared_parts(self) -> int:
        m = _PART.search(self.memo or "")
        return int(m.group(2)) if m else 1

    @property
    def digest(self) -> str | None:
        m = _DIGEST.search(self.memo or "")
        return m.group(1) if m else None


@dataclass
class JournalReport:
    """What posting did: entries written by kind, failures, and the journal's size."""

    window_id: str
    parts: int = 0
    lines: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reversals: list[str] = field(default_factory=list)
    failed: list[WriteResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def written(self) -> int:
        return len(self.created) + len(self.updated) + len(self.reversals)

    def counts(self) -> dict[str, int]:
        """Counts for asset metadata, the audit note and the CLI."""
        return {"parts": self.parts, "lines": self.lines, "created": len(self.created),
                "updated": len(self.updated), "unchanged": len(self.unchanged), "reversals": len(self.reversals),
                "failed": len(self.failed)}


class JournalTransport(Protocol):
    """Reads and upserts journalEntry records by externalId (SOAP or REST)."""

    def get(self, external_ids: Sequence[str], currency: str) -> dict[str, RemoteEntry]: ...
    def put(self, specs: Sequence[EntrySpec]) -> list[WriteResult]: ...
    def batch_reads(self) -> bool: ...


# -- which payees, which lines -------------------------------------------------------------------------------
def covered_allocations(window: dict[str, Any]) -> tuple[list[dict], set[str]]:
    """The allocations the window's bills cover and the held among them, from the bills' own builder."""
    specs = build_bill_specs(**window, report=SyncReport(window["window_id"]))
    covered = {s.principal_id for s in specs}
    held = {s.principal_id for s in specs if not s.eligible_to_pay}
    allocs = [a for a in window["allocations"] if str(a["principal_id"]) in covered]
    return allocs, held


def window_journal(window: dict[str, Any], *, max_lines: int = MAX_LINES_PER_ENTRY) -> Journal:
    """The window's balanced accrual journal over exactly the payees its bills cover."""
    allocs, held = covered_allocations(window)
    journal = build_journal(
        tenant_id=window["tenant_id"], window_id=window["window_id"], currency=window["currency"],
        output_digest=window["output_digest"], allocations=allocs, gl_mapping=window["gl_mapping"],
        tran_date=parse_day(window["tran_date"]).isoformat(), held=held, max_lines=max_lines)
    check_balanced(journal)
    return journal


def accrual_specs(journal: Journal, gen: int, tran_date: str) -> list[EntrySpec]:
    """The entries of accrual generation `gen` for a journal (one per part)."""
    m = len(journal.parts)
    return [EntrySpec(
        external_id=entry_external_id(journal.tenant_id, journal.window_id, f"a{gen}", part.number),
        tran_date=tran_date, memo=f"VGOS {journal.window_id} {journal.output_digest} accrual part {part.number}/{m}",
        currency=journal.currency, currency_id=journal.currency_id, subsidiary=journal.subsidiary,
        lines=tuple(ln.key() for ln in part.lines), line_memos=tuple(ln.memo for ln in part.lines),
    ) for part in journal.parts]


def reversal_specs(journal: Journal, gen: int, reversed_parts: Sequence[RemoteEntry],
                   tran_date: str) -> list[EntrySpec]:
    """Generation r<gen>: every part of a<gen-1> as NetSuite holds it, debits and credits swapped."""
    m = len(reversed_parts)
    out = []
    for n, remote in enumerate(reversed_parts, start=1):
        mirrored = tuple((acct, credit, debit, dept, cls) for acct, debit, credit, dept, cls in remote.lines)
        out.append(EntrySpec(
            external_id=entry_external_id(journal.tenant_id, journal.window_id, f"r{gen}", n), tran_date=tran_date,
            memo=f"VGOS {journal.window_id} reverses a{gen - 1} {remote.digest or '?'} part {n}/{m}",
            currency=journal.currency, currency_id=remote.currency_id, subsidiary=remote.subsidiary,
            lines=mirrored, line_memos=tuple(f"Reversal of {remote.external_id}" for _ in mirrored)))
    return out


# -- the chain -----------------------------------------------------------------------------------------------
def chain_tags() -> Iterator[str]:
    """Generation tags in write order: a0, r1, a1, r2, a2, ..."""
    yield "a0"
    for k in itertools.count(1):
        yield f"r{k}"
        yield f"a{k}"


def discover(transport: JournalTransport, journal: Journal) -> list[tuple[str, dict[int, RemoteEntry]]]:
    """The window's generations present in NetSuite, in write order, each with its parts.

    The chain is contiguous (each generation is written only after the one before it), so the walk stops at
    the first generation whose part 1 is absent: one request for a window posted once over SOAP.
    """
    t, w, cur = journal.tenant_id, journal.window_id, journal.currency
    hint = max(1, len(journal.parts))
    per_request = 2 * _DISCOVER_STEP if transport.batch_reads() else 1
    tags = chain_tags()
    found: list[tuple[str, dict[int, RemoteEntry]]] = []
    while True:
        batch = list(itertools.islice(tags, per_request))
        ids = {entry_external_id(t, w, tag, p): (tag, p) for tag in batch for p in range(1, hint + 1)}
        got = transport.get(list(ids), cur)
        for tag in batch:
            if entry_external_id(t, w, tag, 1) not in got:
                break
            found.append((tag, {p: got[e] for e, (tg, p) in ids.items() if tg == tag and e in got}))
        else:
            continue
        break
    # parts beyond the hint that a generation's memo declares
    missing = [(tag, p) for tag, parts in found for p in range(1, parts[1].declared_parts + 1) if p not in parts]
    if missing:
        got = transport.get([entry_external_id(t, w, tag, p) for tag, p in missing], cur)
        for tag, parts in found:
            for p in range(1, parts[1].declared_parts + 1):
                remote = got.get(entry_external_id(t, w, tag, p))
                if remote is not None:
                    parts[p] = remote
    return found


def _ordered(parts: dict[int, RemoteEntry]) -> list[RemoteEntry]:
    return [parts[p] for p in sorted(parts)]


def net_lines(entries: Sequence[RemoteEntry | EntrySpec]) -> dict[tuple[str, str | None, str | None], int]:
    """Signed (debit positive) total per account and segments over entries; zero totals dropped."""
    out: dict[tuple[str, str | None, str | None], int] = {}
    for entry in entries:
        for acct, debit, credit, dept, cls in entry.lines:
            k = (acct, dept, cls)
            out[k] = out.get(k, 0) + debit - credit
    return {k: v for k, v in out.items() if v}


# -- posting -------------------------------------------------------------------------------------------------
def post_journal(transport: JournalTransport, journal: Journal, *, posting_day: str | None) -> JournalReport:
    """Make NetSuite hold the journal: create, edit in an open period, or reverse and re-post; idempotent.

    posting_day (an open period's date) is needed only to reverse or to post after the close date's period
    closed; None then is a configuration error naming NETSUITE_TIMEZONE.
    """
    check_balanced(journal)
    report = JournalReport(journal.window_id, parts=len(journal.parts), lines=len(journal.lines))
    chain = discover(transport, journal)
    desired_close = parse_day(journal.tran_date).isoformat()

    def open_day() -> str:
        if posting_day is None:
            raise InputError(f"window {journal.window_id}: its period is closed, and dating the reversing entry "
                             "in the open period needs the account's time zone: set NETSUITE_TIMEZONE")
        return parse_day(posting_day).isoformat()

    def write(specs: list[EntrySpec], existing: dict[str, RemoteEntry], kind: str) -> list[WriteResult]:
        todo = [s for s in specs if s.external_id not in existing or existing[s.external_id].key() != s.key()]
        for s in specs:
            if s not in todo and kind != "reversals":
                report.unchanged.append(s.external_id)
        results = transport.put(todo) if todo else []
        for spec, result in zip(todo, results, strict=True):
            if not result.ok:
                continue
            bucket = kind if kind == "reversals" else ("updated" if spec.external_id in existing else "created")
            getattr(report, bucket).append(spec.external_id)
        return [r for r in results if not r.ok]

    def fail(results: list[WriteResult]) -> JournalReport:
        report.failed.extend(results)
        return report

    def post_new_generation(gen: int, tran_date: str) -> JournalReport:
        if journal.parts:
            failed = write(accrual_specs(journal, gen, tran_date), {}, "created")
            if failed and gen == 0 and all(r.code == PERIOD_CLOSED for r in failed):
                # first post after the window's period closed: the accrual goes in the open period
                report.created.clear()
                failed = write(accrual_specs(journal, 0, open_day()), {}, "created")
            if failed:
                return fail(failed)
        return report

    def reverse_and_repost(gen: int, latest: list[RemoteEntry]) -> JournalReport:
        reversals = reversal_specs(journal, gen + 1, latest, open_day())
        failed = write(reversals, {}, "reversals")
        if failed:
            return fail(failed)
        return post_new_generation(gen + 1, open_day())

    if not chain:
        return post_new_generation(0, desired_close)
    tag, parts = chain[-1]
    gen = int(tag[1:])
    if tag.startswith("r"):
        # a reversal without its accrual (a crash between the two): finish the reversal, then post the accrual
        prior = _ordered(chain[-2][1]) if len(chain) >= 2 else []
        existing = {p.external_id: p for p in parts.values()}
        failed = write(reversal_specs(journal, gen, prior, open_day()), existing, "reversals")
        if failed:
            return fail(failed)
        return post_new_generation(gen, open_day())
    latest = _ordered(parts)
    declared = parts[1].declared_parts
    existing = {p.external_id: p for p in latest}
    kept_date = parts[1].tran_date or desired_close
    wanted = accrual_specs(journal, gen, kept_date)
    if len(wanted) == declared == len(latest) and all(
            existing.get(s.external_id) is not None and existing[s.external_id].key() == s.key() for s in wanted):
        report.unchanged.extend(s.external_id for s in wanted)
        return report
    if not journal.parts or len(wanted) != declared:
        # an entry cannot be emptied and a part cannot be deleted: reverse what is posted, post anew
        return reverse_and_repost(gen, latest)
    failed = write(wanted, existing, "updated")
    if failed and all(r.code == PERIOD_CLOSED for r in failed):
        report.updated.clear()
        report.created.clear()
        report.unchanged.clear()
        return reverse_and_repost(gen, latest)
    return fail(failed) if failed else report


def verify_journal(transport: JournalTransport, journal: Journal) -> list[DriftItem]:
    """Drift between the journal and NetSuite: the net of every VGOS entry and the latest accrual's digest."""
    chain = discover(transport, journal)
    entries = [e for _, parts in chain for e in parts.values()]
    want = net_lines(accrual_specs(journal, 0, journal.tran_date))
    got = net_lines(entries)
    label = f"journal {journal.window_id}"
    items = []
    if want != got:
        items.append(DriftItem("", label, "JOURNAL_DIFFERS", _fmt(want), _fmt(got)))
    accruals = [(tag, parts) for tag, parts in chain if tag.startswith("a")]
    if journal.parts:
        latest = accruals[-1][1] if accruals and chain[-1][0].startswith("a") else None
        digest = latest[1].digest if latest else None
        if digest != journal.output_digest:
            items.append(DriftItem("", label, "JOURNAL_DIGEST_DIFFERS", journal.output_digest, str(digest)))
    return items


def _fmt(net: dict[tuple[str, str | None, str | None], int]) -> str:
    return ", ".join(f"{a}/{d or '-'}/{c or '-'}:{v}" for (a, d, c), v in sorted(net.items(), key=repr)) or "none"


def posting_day_for(config: Any, now: datetime | None = None) -> str:
    """Today in the account's time zone: the open period reversals and re-posted accruals are dated in."""
    zone = config_zone(config)
    return (now.astimezone(zone) if now else datetime.now(zone)).date().isoformat()


# -- transports ----------------------------------------------------------------------------------------------
class SoapJournals:
    """journalEntry over SuiteTalk SOAP: getList by externalId, upsert/upsertList (≤100 per call)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def batch_reads(self) -> bool:
        return True

    def record(self, spec: EntrySpec) -> Any:
        """The zeep JournalEntry of a spec: exact decimal debits/credits, lines replaced on update."""
        c = self.client
        ref = c.type("core", "RecordRef")
        line_t = c.type("general", "JournalEntryLine")
        memos = spec.line_memos or (None,) * len(spec.lines)
        lines = [line_t(
            account=ref(internalId=acct),
            debit=Decimal(minor_to_decimal(debit, spec.currency)) if debit else None,
            credit=Decimal(minor_to_decimal(credit, spec.currency)) if credit else None,
            memo=memo, department=ref(internalId=dept) if dept else None,
            **{"class": ref(internalId=cls) if cls else None},
        ) for (acct, debit, credit, dept, cls), memo in zip(spec.lines, memos, strict=True)]
        return c.type("general", "JournalEntry")(
            externalId=spec.external_id,
            tranDate=soap_datetime(spec.tran_date, config_zone(c.config)),
            currency=ref(internalId=spec.currency_id) if spec.currency_id else None,
            subsidiary=ref(internalId=spec.subsidiary) if spec.subsidiary else None,
            memo=spec.memo,
            lineList=c.type("general", "JournalEntryLineList")(line=lines, replaceAll=True),
        )

    def get(self, external_ids: Sequence[str], currency: str) -> dict[str, RemoteEntry]:
        """getList by externalId; absent entries are simply missing from the result."""
        from .soap_client import ns

        if not external_ids:
            return {}
        ref = self.client.type("core", "RecordRef")
        resp = self.client.call("getList", baseRef=[ref(externalId=e, type=RECORD_TYPE) for e in external_ids])
        msgs = ns("messages", self.client.config.version)
        out: dict[str, RemoteEntry] = {}
        for rr in resp.iter(f"{{{msgs}}}readResponse"):
            rec = rr.find(f"{{{msgs}}}record")
            status = rr.find("{*}status")
            if status is not None and status.get("isSuccess") == "true" and rec is not None:
                entry = self.parse(rec, currency)
                out[entry.external_id] = entry
        return out

    def parse(self, rec: Any, currency: str) -> RemoteEntry:
        """RemoteEntry from a JournalEntry element; amounts from their decimal text, dates in the account zone."""
        def ref(parent: Any, name: str) -> str | None:
            el = parent.find(f"{{*}}{name}")
            return el.get("internalId") if el is not None else None

        lines = []
        for ln in rec.iterfind("{*}lineList/{*}line"):
            lines.append((ref(ln, "account") or "", decimal_to_minor(ln.findtext("{*}debit") or "0", currency),
                          decimal_to_minor(ln.findtext("{*}credit") or "0", currency), ref(ln, "department"),
                          ref(ln, "class")))
        return RemoteEntry(
            external_id=rec.get("externalId") or "", internal_id=rec.get("internalId") or "",
            tran_date=date_from_soap(rec.findtext("{*}tranDate"), config_zone(self.client.config)),
            memo=rec.findtext("{*}memo") or "", currency_id=ref(rec, "currency"), subsidiary=ref(rec, "subsidiary"),
            lines=tuple(lines))

    def put(self, specs: Sequence[EntrySpec]) -> list[WriteResult]:
        """upsert one entry, upsertList for several (≤100 per request); per-entry results, never a partial raise."""
        from .config import MAX_BATCH_SIZE

        results: list[WriteResult] = []
        for i in range(0, len(specs), MAX_BATCH_SIZE):
            chunk = list(specs[i: i + MAX_BATCH_SIZE])
            try:
                if len(chunk) == 1:
                    results.append(self.client.upsert_record(self.record(chunk[0]), chunk[0].external_id))
                else:
                    results.extend(self._upsert_list(chunk))
            except NetSuiteError as exc:
                results.extend(WriteResult(s.external_id, False, None, exc.code, str(exc)) for s in chunk)
        return results

    def _upsert_list(self, chunk: list[EntrySpec]) -> list[WriteResult]:
        from .soap_client import _write_result, ns

        resp = self.client.call("upsertList", record=[self.record(s) for s in chunk])
        raw = [_write_result(el) for el in resp.iter(f"{{{ns('messages', self.client.config.version)}}}writeResponse")]
        if len(raw) != len(chunk):
            raise NetSuiteError("UNEXPECTED_ERROR", f"{len(raw)} write responses for {len(chunk)} entries")
        return [replace(r, external_id=s.external_id) for s, r in zip(chunk, raw, strict=True)]


class RestJournals:
    """journalEntry over the REST record API: GET and PUT by eid:, lines replaced with ?replace=line."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def batch_reads(self) -> bool:
        return False

    @staticmethod
    def body(spec: EntrySpec) -> dict[str, Any]:
        """REST JSON of an entry; amounts are exact Decimal literals, the date a plain date."""
        items = []
        memos = spec.line_memos or (None,) * len(spec.lines)
        for (acct, debit, credit, dept, cls), memo in zip(spec.lines, memos, strict=True):
            item: dict[str, Any] = {"account": {"id": acct}}
            if debit:
                item["debit"] = Decimal(minor_to_decimal(debit, spec.currency))
            if credit:
                item["credit"] = Decimal(minor_to_decimal(credit, spec.currency))
            if memo:
                item["memo"] = memo
            if dept:
                item["department"] = {"id": dept}
            if cls:
                item["class"] = {"id": cls}
            items.append(item)
        body: dict[str, Any] = {"tranDate": parse_day(spec.tran_date).isoformat(), "memo": spec.memo,
                                "line": {"items": items}}
        if spec.currency_id:
            body["currency"] = {"id": spec.currency_id}
        if spec.subsidiary:
            body["subsidiary"] = {"id": spec.subsidiary}
        return body

    def get(self, external_ids: Sequence[str], currency: str) -> dict[str, RemoteEntry]:
        """GET each entry by eid: with its lines; 404 means absent."""
        from .rest_client import _error_detail

        out: dict[str, RemoteEntry] = {}
        for ext in external_ids:
            resp = self.client.request("GET", f"/record/v1/{RECORD_TYPE}/eid:{ext}",
                                       params={"expandSubResources": "true"})
            if resp.status_code == 404:
                continue
            if resp.status_code != 200:
                raise NetSuiteError(*_error_detail(resp))
            entry = self.parse(jsonexact.loads(resp.content), currency)
            out[entry.external_id] = entry
        return out

    @staticmethod
    def parse(data: dict[str, Any], currency: str) -> RemoteEntry:
        """RemoteEntry from REST JSON; amounts converted exactly from their decimal literals."""
        def rid(v: Any) -> str | None:
            return str(v["id"]) if isinstance(v, dict) and "id" in v else None

        lines = tuple(
            (rid(it.get("account")) or "", decimal_to_minor(str(it.get("debit") or "0"), currency),
             decimal_to_minor(str(it.get("credit") or "0"), currency), rid(it.get("department")),
             rid(it.get("class")))
            for it in (data.get("line") or {}).get("items", []))
        return RemoteEntry(external_id=str(data.get("externalId") or ""), internal_id=str(data.get("id", "")),
                           tran_date=date_from_rest(data.get("tranDate")), memo=str(data.get("memo") or ""),
                           currency_id=rid(data.get("currency")), subsidiary=rid(data.get("subsidiary")),
                           lines=lines)

    def put(self, specs: Sequence[EntrySpec]) -> list[WriteResult]:
        """PUT /record/v1/journalEntry/eid:<externalId>?replace=line per entry (create or replace lines)."""
        from .rest_client import _error_detail

        results = []
        for spec in specs:
            try:
                resp = self.client.request("PUT", f"/record/v1/{RECORD_TYPE}/eid:{spec.external_id}?replace=line",
                                           self.body(spec))
            except NetSuiteError as exc:
                results.append(WriteResult(spec.external_id, False, None, exc.code, str(exc)))
                continue
            if resp.status_code in (200, 204):
                results.append(WriteResult(spec.external_id, True,
                                           resp.headers.get("Location", "").rsplit("/", 1)[-1] or None))
            else:
                results.append(WriteResult(spec.external_id, False, None, *_error_detail(resp)))
        return results


def journals_for(client: Any) -> JournalTransport:
    """The journal transport matching a bill client (SuiteTalkClient or RestClient)."""
    from .rest_client import RestClient

    return RestJournals(client) if isinstance(client, RestClient) else SoapJournals(client)


def sync_journal(client: Any, window: dict[str, Any], *, posting_day: str | None = None,
                 verify: bool = True) -> tuple[JournalReport, list[DriftItem]]:
    """Post the window's journal with the bills' transport, then read it back (pipeline and CLI entry point)."""
    journal = window_journal(window)
    transport = journals_for(client)
    day = posting_day
    if day is None:
        try:
            day = posting_day_for(client.config)
        except InputError:  # no NETSUITE_TIMEZONE (REST): only a reversal needs it, and says so then
            day = None
    try:
        report = post_journal(transport, journal, posting_day=day)
    except NetSuiteError as exc:
        report = JournalReport(journal.window_id, parts=len(journal.parts), lines=len(journal.lines))
        report.failed.append(WriteResult(f"journal {journal.window_id}", False, None, exc.code, str(exc)))
        return report, []
    drift = verify_journal(transport, journal) if verify and report.ok else []
    return report, drift

