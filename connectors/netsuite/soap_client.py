"""SuiteTalk SOAP client: zeep builds every envelope from the WSDL; a fresh TokenPassport signs each call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lxml import etree

from vgos.errors import InputError
from vgos.money import decimal_to_minor, minor_to_decimal

from .auth import make_passport
from .config import MAX_BATCH_SIZE, NetSuiteConfig
from .dates import config_zone, date_from_soap, soap_datetime
from .envelope import BillEnvelopes
from .model import BILL, CREDIT, BillSpec, ExpenseLine, RemoteBill, WriteResult, field_id
from .retry import CONCURRENCY_CODES, NetSuiteError, RetryPolicy, TransientFault
from .transport import ExhaustedWrites, HttpTransport, parse_retry_after, status_fault

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def ns(kind: str, version: str) -> str:
    """Namespace URI of a SuiteTalk schema ('core', 'messages', 'purchases', ...) for a version."""
    table = {
        "core": "urn:core_{v}.platform.webservices.netsuite.com",
        "coreTyp": "urn:types.core_{v}.platform.webservices.netsuite.com",
        "messages": "urn:messages_{v}.platform.webservices.netsuite.com",
        "common": "urn:common_{v}.platform.webservices.netsuite.com",
        "faults": "urn:faults_{v}.platform.webservices.netsuite.com",
        "purchases": "urn:purchases_{v}.transactions.webservices.netsuite.com",
        "general": "urn:general_{v}.transactions.webservices.netsuite.com",
    }
    return table[kind].format(v=version)


@lru_cache(maxsize=4)
def load_wsdl(wsdl: str):  # -> zeep.Client
    """Parse the WSDL and its schemas once per process (they are large)."""
    from zeep import Client, Settings

    return Client(wsdl, settings=Settings(strict=False, xml_huge_tree=True))


def load_configured_wsdl(config: NetSuiteConfig):  # -> zeep.Client
    """The configured WSDL parsed; a missing, unreadable or broken one is a one-line InputError, not a traceback."""
    path = config.wsdl_path()
    try:
        return load_wsdl(path)
    except Exception as exc:  # noqa: BLE001 - zeep/lxml/OS errors on a broken WSDL or a missing xsd/ import
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"NETSUITE_WSDL={path}: cannot load the WSDL or its schemas ({first}); keep the xsd/ "
                         "folder beside netsuite.wsdl") from None


class SuiteTalkClient:
    """Typed SuiteTalk operations used by stamping and read-back; raises TransientFault on concurrency faults."""

    def __init__(self, config: NetSuiteConfig, *, retry: RetryPolicy | None = None, clock=time.time) -> None:
        self.config = config
        self.retry = retry or RetryPolicy.from_config(config)
        self.retries = 0
        self.zeep = load_configured_wsdl(config)
        self.service = self.zeep.bind("NetSuiteService", "NetSuitePort")
        self.http = HttpTransport(connect_timeout_s=config.connect_timeout_s, read_timeout_s=config.read_timeout_s,
                                  pool_size=config.concurrency or 10)
        self._exhausted = ExhaustedWrites()
        self._lock = threading.Lock()
        self._clock = clock
        self.calls = 0
        # bill writes are serialized directly (envelope.py), the same XML zeep builds, at a fraction of the CPU
        self.bills_xml = BillEnvelopes(config.version, config.field_ids, lambda: config_zone(self.config))

    # -- plumbing ---------------------------------------------------------------------------------------
    def type(self, kind: str, name: str) -> Any:
        """A zeep type of the WSDL's schemas, e.g. type('purchases', 'VendorBill')."""
        return self.zeep.get_type(f"{{{ns(kind, self.config.version)}}}{name}")

    def _passport(self) -> Any:
        p = make_passport(self.config.credentials, now_s=int(self._clock()))
        element = self.zeep.get_element(f"{{{ns('messages', self.config.version)}}}tokenPassport")
        return element(account=p.account, consumerKey=p.consumer_key, token=p.token, nonce=p.nonce,
                       timestamp=p.timestamp, signature={"_value_1": p.signature, "algorithm": p.algorithm})

    def envelope(self, operation: str, headers: dict[str, Any] | None = None, **kwargs: Any) -> bytes:
        """Serialize one request envelope with a freshly signed TokenPassport."""
        soap_headers = {"tokenPassport": self._passport(), **(headers or {})}
        env = self.zeep.create_message(self.service, operation, _soapheaders=soap_headers, **kwargs)
        return etree.tostring(env, xml_declaration=True, encoding="utf-8")

    def _count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def call(self, operation: str, headers: dict[str, Any] | None = None, **kwargs: Any) -> etree._Element:
        """POST one operation, retrying transient faults with backoff (fresh passport each attempt).

        Safe to repeat: reads have no effect and every write is an upsert by externalId (see retry.py).
        """
        return self._send(operation, lambda: self.envelope(operation, headers, **kwargs))

    def bill_envelope(self, operation: str, specs: Sequence[BillSpec]) -> bytes:
        """The upsert/upsertList request for bills and credits, freshly signed (envelope.py, not zeep)."""
        return self._bill_request(operation, specs)()

    def _bill_request(self, operation: str, specs: Sequence[BillSpec]) -> Callable[[], bytes]:
        """Serialize the records once; each attempt only signs a new passport around them."""
        body = self.bills_xml.body(operation, specs)
        return lambda: self.bills_xml.envelope(body, make_passport(self.config.credentials, now_s=int(self._clock())))

    def call_bills(self, operation: str, specs: Sequence[BillSpec]) -> etree._Element:
        """call() for an upsert/upsertList of bills, with the envelope written by envelope.py."""
        return self._send(operation, self._bill_request(operation, specs))

    def _send(self, operation: str, build: Callable[[], bytes]) -> etree._Element:
        return self.retry.call(lambda: self._call_once(operation, build), self._count_retry)

    def _call_once(self, operation: str, build: Callable[[], bytes]) -> etree._Element:
        body = build()
        with self._lock:
            self.calls += 1
        resp = self.http.send("POST", self.config.soap_url, data=body,
                              headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": operation})
        if resp.status_code == 429:
            raise status_fault(resp)  # type: ignore[misc]
        try:
            root = etree.fromstring(resp.content, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise status_fault(resp) or NetSuiteError(f"HTTP_{resp.status_code}",
                                                      f"response is not XML: {exc}") from exc
        body_el = root.find(f"{{{SOAP_ENV}}}Body") if root.tag == f"{{{SOAP_ENV}}}Envelope" else None
        if body_el is None or len(body_el) == 0:
            raise status_fault(resp) or NetSuiteError(f"HTTP_{resp.status_code}", "response has no SOAP body")
        first = body_el[0]
        if first.tag == f"{{{SOAP_ENV}}}Fault":
            error = _fault_error(first)
            if isinstance(error, TransientFault) and error.retry_after is None:
                error.retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            raise error
        if resp.status_code >= 500:
            raise status_fault(resp)  # type: ignore[misc]
        return first

    def governance_concurrency(self) -> int | None:
        """This integration's concurrency limit (getIntegrationGovernanceInfo), or None when it cannot be read.

        An account that refuses the call (old endpoint, no permission, a sandbox without it) gives None, so the
        caller falls back to configuration; an unreachable account raises, so a sync fails fast instead.
        """
        try:
            resp = self.call("getIntegrationGovernanceInfo")
        except NetSuiteError as exc:
            if isinstance(exc.__cause__, TransientFault):
                raise
            return None
        result = resp.find("{*}getIntegrationGovernanceInfoResult")
        status = result.find("{*}status") if result is not None else None
        if status is None or status.get("isSuccess") != "true":
            return None
        try:
            limit = int(result.findtext("{*}integrationConcurrencyLimit") or "0")
        except ValueError:
            return None
        return limit if limit > 0 else None

    # -- records ----------------------------------------------------------------------------------------
    def bill_record(self, spec: BillSpec) -> Any:
        """The zeep VendorBill (or VendorCredit) for a spec: exact decimal amounts, custom body fields, holds.

        paymentHold and the VGOS hold field are sent only when the spec sets them (payment control).
        Syncs send the same XML through envelope.py (bill_envelope); this zeep form is the reference the tests
        compare it with, and what a caller uses to send a hand-made variant through call().
        """
        ref = self.type("core", "RecordRef")
        fids = self.config.field_ids
        string, boolean = self.type("core", "StringCustomFieldRef"), self.type("core", "BooleanCustomFieldRef")
        custom = [
            string(scriptId=fids["window_id"], value=spec.window_id),
            string(scriptId=fids["output_digest"], value=spec.output_digest),
            string(scriptId=fids["transcript_url"], value=spec.transcript_url),
            string(scriptId=fids["provider_batch_id"], value=spec.provider_batch_id or ""),
        ]
        if spec.tenant_id:
            custom.append(string(scriptId=field_id(fids, "tenant_id"), value=spec.tenant_id))
        if spec.record_type == BILL:
            custom.append(boolean(scriptId=fids["eligible_to_pay"], value=spec.eligible_to_pay))
        if spec.vgos_hold is not None and spec.record_type == BILL:
            custom.append(boolean(scriptId=field_id(fids, "vgos_hold"), value=spec.vgos_hold))
        kind = "VendorCredit" if spec.record_type == CREDIT else "VendorBill"
        expense = self.type("purchases", f"{kind}Expense")
        lines = [
            expense(
                account=ref(internalId=line.account),
                amount=Decimal(minor_to_decimal(line.amount_minor, spec.currency)),
                memo=line.memo,
                department=ref(internalId=line.department) if line.department else None,
                **{"class": ref(internalId=line.class_) if line.class_ else None},
            )
            for line in spec.lines
        ]
        hold = {"paymentHold": spec.payment_hold} if spec.record_type == BILL else {}
        return self.type("purchases", kind)(
            externalId=spec.external_id,
            entity=ref(internalId=spec.vendor_id),
            subsidiary=ref(internalId=spec.subsidiary_id) if spec.subsidiary_id else None,
            tranDate=soap_datetime(spec.tran_date, config_zone(self.config)),
            currency=ref(internalId=spec.currency_id),
            **hold,
            memo=spec.memo or None,
            expenseList=self.type("purchases", f"{kind}ExpenseList")(expense=lines, replaceAll=True),
            customFieldList=self.type("core", "CustomFieldList")(customField=custom),
        )

    def upsert_bills(self, specs: Sequence[BillSpec]) -> list[WriteResult]:
        """upsertList per 100 bills (NetSuite's limit); per-record results in order, never a partial raise.

        A request that fails as a whole is retried as a whole (RetryPolicy); if it still fails for a transient
        reason, its bills are reported failed and noted so that upsert_bill does not re-send them one by one.
        """
        self._exhausted.reset()
        results: list[WriteResult] = []
        for i in range(0, len(specs), MAX_BATCH_SIZE):
            chunk = specs[i: i + MAX_BATCH_SIZE]
            try:
                results.extend(self._upsert_list(chunk))
            except NetSuiteError as exc:
                failed = [WriteResult(s.external_id, False, None, exc.code, str(exc), request_failed=True)
                          for s in chunk]
                if isinstance(exc.__cause__, TransientFault):
                    for r in failed:
                        self._exhausted.note(r)
                results.extend(failed)
        return results

    def _upsert_list(self, specs: Sequence[BillSpec]) -> list[WriteResult]:
        resp = self.call_bills("upsertList", specs)
        results = [_write_result(el) for el in resp.iter(f"{{{ns('messages', self.config.version)}}}writeResponse")]
        if len(results) != len(specs):
            raise NetSuiteError("UNEXPECTED_ERROR", f"{len(results)} write responses for {len(specs)} records")
        return [
            WriteResult(s.external_id, r.ok, r.internal_id, r.code, r.message) for s, r in zip(specs, results,
                                                                                                strict=True)
        ]

    def upsert_bill(self, spec: BillSpec) -> WriteResult:
        """A single upsert (retries a record-level failure alone; a bill whose batch was retried is not re-sent)."""
        noted = self._exhausted.take(spec.external_id)
        if noted is not None:
            return noted
        resp = self.call_bills("upsert", [spec])
        r = _write_result(resp.find(f"{{{ns('messages', self.config.version)}}}writeResponse"))
        return WriteResult(spec.external_id, r.ok, r.internal_id, r.code, r.message)

    def upsert_record(self, record: Any, external_id: str) -> WriteResult:
        """Upsert any zeep record (e.g. a JournalEntry)."""
        resp = self.call("upsert", record=record)
        r = _write_result(resp.find(f"{{{ns('messages', self.config.version)}}}writeResponse"))
        return WriteResult(external_id, r.ok, r.internal_id, r.code, r.message)

    def find_window_bills(self, window_id: str, currency: str, tenant_id: str | None = None) -> list[RemoteBill]:
        """The tenant's vendor bills and credits of a window (search, then searchMoreWithId).

        Scoped by the tenant field too, so one tenant's sync never sees (or stamps) another tenant's bills.
        """
        core = ns("core", self.config.version)
        field = self.type("core", "SearchStringCustomField")
        criteria = [field(scriptId=self.config.field_ids["window_id"], searchValue=window_id, operator="is")]
        if tenant_id is not None:
            criteria.append(field(scriptId=field_id(self.config.field_ids, "tenant_id"), searchValue=tenant_id,
                                  operator="is"))
        search_basic = self.type("common", "TransactionSearchBasic")(
            type=self.type("core", "SearchEnumMultiSelectField")(searchValue=["_vendorBill", "_vendorCredit"],
                                                                 operator="anyOf"),
            customFieldList=self.type("core", "SearchCustomFieldList")(customField=criteria),
        )
        prefs = {"searchPreferences": {"bodyFieldsOnly": False, "returnSearchColumns": False,
                                       "pageSize": self.config.page_size}}
        result = self.call("search", headers=prefs, searchRecord=search_basic).find(f"{{{core}}}searchResult")
        bills: list[RemoteBill] = []
        while True:
            _raise_status(result.find(f"{{{core}}}status"))
            for rec in result.iterfind(f"{{{core}}}recordList/{{{core}}}record"):
                bills.append(parse_vendor_bill(rec, self.config, currency))
            total_pages = int(result.findtext(f"{{{core}}}totalPages") or "1")
            page = int(result.findtext(f"{{{core}}}pageIndex") or "1")
            if page >= total_pages:
                return bills
            result = self.call("searchMoreWithId", headers=prefs,
                               searchId=result.findtext(f"{{{core}}}searchId"),
                               pageIndex=page + 1).find(f"{{{core}}}searchResult")

    def get_bills(self, external_ids: Sequence[str], currency: str) -> dict[str, RemoteBill]:
        """getList by externalId; missing bills are simply absent from the result."""
        ref = self.type("core", "RecordRef")
        resp = self.call("getList", baseRef=[ref(externalId=e, type="vendorBill") for e in external_ids])
        msgs, core = ns("messages", self.config.version), ns("core", self.config.version)
        out: dict[str, RemoteBill] = {}
        for rr in resp.iter(f"{{{msgs}}}readResponse"):
            rec = rr.find(f"{{{msgs}}}record")
            if rr.find(f"{{{core}}}status").get("isSuccess") == "true" and rec is not None:
                bill = parse_vendor_bill(rec, self.config, currency)
                out[bill.external_id or ""] = bill
        return out


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _fault_error(fault: etree._Element) -> NetSuiteError:
    faultstring = fault.findtext("faultstring") or ""
    detail = fault.find("detail")
    code, kind = "UNEXPECTED_ERROR", ""
    if detail is not None and len(detail):
        kind = _local(detail[0])
        for child in detail[0]:
            if _local(child) == "code":
                code = child.text or code
    if code in CONCURRENCY_CODES or kind == "exceededConcurrentRequestLimitFault":
        return TransientFault(code, faultstring)
    return NetSuiteError(code, faultstring or kind)


def _raise_status(status: etree._Element | None) -> None:
    if status is not None and status.get("isSuccess") == "false":
        detail = status[0] if len(status) else None
        code = detail.findtext("{*}code") if detail is not None else "UNEXPECTED_ERROR"
        msg = detail.findtext("{*}message") if detail is not None else ""
        raise NetSuiteError(code or "UNEXPECTED_ERROR", msg or "")


def _write_result(el: etree._Element) -> WriteResult:
    status = el.find("{*}status")
    ok = status is not None and status.get("isSuccess") == "true"
    code = message = None
    if not ok and status is not None and len(status):
        code, message = status[0].findtext("{*}code"), status[0].findtext("{*}message")
    base = el.find("{*}baseRef")
    ext = base.get("externalId") if base is not None else None
    return WriteResult(ext or "", ok, base.get("internalId") if base is not None else None, code, message)


def parse_vendor_bill(rec: etree._Element, config: NetSuiteConfig, currency: str) -> RemoteBill:
    """Read a VendorBill element exactly: amounts parsed from their decimal text, never through float."""

    def ref(name: str) -> str | None:
        el = rec.find(f"{{*}}{name}")
        return el.get("internalId") if el is not None else None

    def text(parent: etree._Element, name: str) -> str | None:
        return parent.findtext(f"{{*}}{name}")

    custom: dict[str, str] = {}
    for cf in rec.iterfind("{*}customFieldList/{*}customField"):
        custom[cf.get("scriptId", "")] = cf.findtext("{*}value") or ""
    lines = []
    for exp in rec.iterfind("{*}expenseList/{*}expense"):
        acct = exp.find("{*}account")
        dept, cls = exp.find("{*}department"), exp.find("{*}class")
        lines.append(ExpenseLine(
            component="", account=acct.get("internalId") if acct is not None else "",
            amount_minor=decimal_to_minor(text(exp, "amount") or "0", currency),
            department=dept.get("internalId") if dept is not None else None,
            class_=cls.get("internalId") if cls is not None else None, memo=text(exp, "memo"),
        ))
    fids = config.field_ids
    hold = text(rec, "paymentHold")
    eligible = custom.get(fids["eligible_to_pay"])
    vgos_hold = custom.get(field_id(fids, "vgos_hold"))
    xsi_type = rec.get(f"{{{XSI}}}type", "")
    return RemoteBill(
        internal_id=rec.get("internalId", ""), external_id=rec.get("externalId"),
        vendor_id=ref("entity"), currency_id=ref("currency"),
        tran_date=date_from_soap(text(rec, "tranDate"), config_zone(config)),
        payment_hold=None if hold is None else hold == "true",
        lines=tuple(lines),
        window_id=custom.get(fids["window_id"]), output_digest=custom.get(fids["output_digest"]),
        transcript_url=custom.get(fids["transcript_url"]),
        provider_batch_id=custom.get(fids["provider_batch_id"]),
        eligible_to_pay=None if eligible is None else eligible == "true",
        record_type=CREDIT if xsi_type.endswith("VendorCredit") else BILL,
        vgos_hold=None if vgos_hold is None else vgos_hold == "true",
        tenant_id=custom.get(field_id(fids, "tenant_id")),
    )

