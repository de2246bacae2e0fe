"""SOAP side of the sandbox: schema-validate, check the TokenPassport, answer upsert/get/search operations."""

from __future__ import annotations

import copy
import datetime as _dt
import itertools
import threading
import uuid
from dataclasses import dataclass

from lxml import etree

from ..soap_client import SOAP_ENV, XSI, ns
from .records import RecordRefused, RecordRules
from .schema import field_order, load_schema_set
from .store import RecordStore, StoredRecord
from .tba import AuthRejected, TbaVerifier

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_SEARCH_TYPES = {"_vendorBill": "vendorBill", "_vendorCredit": "vendorCredit", "_journal": "journalEntry"}
MAX_LIST_RECORDS = 100  # synchronous upsertList/updateList limit of SuiteTalk governance


@dataclass
class SoapReply:
    """HTTP status and bytes of one SOAP answer."""

    status: int
    body: bytes


class SoapFaultReply(Exception):
    """Raised inside handling to answer with a SOAP fault."""

    def __init__(self, fault_element: str, code: str, message: str, faultcode: str = "soapenv:Server") -> None:
        super().__init__(f"{code}: {message}")
        self.fault_element, self.code, self.message, self.faultcode = fault_element, code, message, faultcode


def _record_type(xsi_type_local: str) -> str:
    return xsi_type_local[:1].lower() + xsi_type_local[1:]


class SoapService:
    """Stateful SuiteTalk endpoint over a RecordStore."""

    def __init__(self, *, wsdl: str, version: str, verifier: TbaVerifier, store: RecordStore, rules: RecordRules,
                 validate_responses: bool = True) -> None:
        self.wsdl, self.version, self.verifier, self.store, self.rules = wsdl, version, verifier, store, rules
        self.schema = load_schema_set(wsdl)
        self.validate_responses = validate_responses
        self.msgs, self.core = ns("messages", version), ns("core", version)
        self._lock = threading.Lock()
        self._searches: dict[str, tuple[list[tuple[str, str]], int, bool]] = {}
        self._record_counter = itertools.count(1)
        self.record_fault_every = 0

    # -- entry point ------------------------------------------------------------------------------------
    def parse_and_check(self, data: bytes) -> tuple[etree._Element, etree._Element]:
        """Parse the envelope, validate header and body against the XSDs, verify the passport."""
        try:
            root = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise SoapFaultReply("", "INVALID_REQUEST", f"request is not well-formed XML: {exc}",
                                 "soapenv:Client") from exc
        if root.tag != f"{{{SOAP_ENV}}}Envelope":
            raise SoapFaultReply("", "INVALID_REQUEST", "not a SOAP 1.1 Envelope", "soapenv:Client")
        header, body = root.find(f"{{{SOAP_ENV}}}Header"), root.find(f"{{{SOAP_ENV}}}Body")
        if body is None or len(body) != 1:
            raise SoapFaultReply("", "INVALID_REQUEST", "SOAP Body must hold exactly one operation",
                                 "soapenv:Client")
        for el in [*(header if header is not None else []), body[0]]:
            errors = self.schema.errors(el)
            if errors:
                raise SoapFaultReply("", "INVALID_REQUEST",
                                     f"schema validation failed for {etree.QName(el).localname}: "
                                     + "; ".join(errors), "soapenv:Client")
        passport = header.find(f"{{{self.msgs}}}tokenPassport") if header is not None else None
        if passport is None:
            raise SoapFaultReply("invalidSessionFault", "WS_LOG_IN_REQD", "tokenPassport header required")
        self._check_passport(passport)
        return header, body[0]

    def _check_passport(self, el: etree._Element) -> None:
        def t(name: str) -> str:
            return el.findtext(f"{{{self.core}}}{name}") or ""

        sig = el.find(f"{{{self.core}}}signature")
        try:
            self.verifier.check_passport(
                account=t("account"), consumer_key=t("consumerKey"), token=t("token"), nonce=t("nonce"),
                timestamp=t("timestamp"), signature=t("signature"),
                algorithm=sig.get("algorithm", "") if sig is not None else "")
        except AuthRejected as exc:
            raise SoapFaultReply("invalidCredentialsFault", "INVALID_LOGIN_CREDENTIALS",
                                 f"Invalid login attempt: {exc}") from exc

    def dispatch(self, header: etree._Element | None, op: etree._Element) -> bytes:
        """Run one validated operation; returns the full response envelope."""
        name = etree.QName(op).localname
        handler = getattr(self, f"_op_{name}", None)
        if handler is None:
            raise SoapFaultReply("", "UNEXPECTED_ERROR", f"operation {name} is not supported by the sandbox")
        prefs = header.find(f"{{{self.msgs}}}searchPreferences") if header is not None else None
        response = handler(op, prefs)
        if self.validate_responses:
            errors = self.schema.errors(response)
            if errors:  # a sandbox bug; never hand out a response the client's schema would reject
                raise SoapFaultReply("", "UNEXPECTED_ERROR", "sandbox response invalid: " + "; ".join(errors))
        return envelope(response)

    # -- builders ---------------------------------------------------------------------------------------
    def _m(self, name: str, parent: etree._Element | None = None) -> etree._Element:
        tag = f"{{{self.msgs}}}{name}"
        nsmap = {"platformMsgs": self.msgs, "platformCore": self.core, "xsi": XSI}
        return etree.SubElement(parent, tag) if parent is not None else etree.Element(tag, nsmap=nsmap)

    def _c(self, name: str, parent: etree._Element) -> etree._Element:
        return etree.SubElement(parent, f"{{{self.core}}}{name}")

    def _status(self, parent: etree._Element, ok: bool, code: str | None = None, message: str = "") -> None:
        st = self._c("status", parent)
        st.set("isSuccess", "true" if ok else "false")
        if not ok:
            d = etree.SubElement(st, f"{{{self.core}}}statusDetail")
            d.set("type", "ERROR")
            etree.SubElement(d, f"{{{self.core}}}code").text = code
            etree.SubElement(d, f"{{{self.core}}}message").text = message

    def _record_el(self, tag: str, parent: etree._Element, rec: StoredRecord, body_only: bool) -> None:
        children = []
        for name in field_order(self.wsdl, rec.xsi_type):
            if name in rec.fields:
                if body_only and name.endswith("List") and name not in ("customFieldList", "nullFieldList"):
                    continue
                children.append(copy.deepcopy(rec.fields[name]))
        # xsi:type values are stored in Clark notation; declare their namespaces on the record element
        typed = [d for c in children for d in c.iter() if d.get(f"{{{XSI}}}type")]
        uris = sorted({etree.QName(rec.xsi_type).namespace} | {etree.QName(d.get(f"{{{XSI}}}type")).namespace
                                                               for d in typed})
        prefixes = {uri: f"t{i}" for i, uri in enumerate(uris)}
        el = etree.SubElement(parent, tag, nsmap={p: u for u, p in prefixes.items()})
        qn = etree.QName(rec.xsi_type)
        el.set(f"{{{XSI}}}type", f"{prefixes[qn.namespace]}:{qn.localname}")
        el.set("internalId", rec.internal_id)
        if rec.external_id:
            el.set("externalId", rec.external_id)
        for child in children:
            el.append(child)
        for d in typed:
            tq = etree.QName(d.get(f"{{{XSI}}}type"))
            d.set(f"{{{XSI}}}type", f"{prefixes[tq.namespace]}:{tq.localname}")

    # -- writes -----------------------------------------------------------------------------------------
    def _upsert_one(self, rec_el: etree._Element, parent: etree._Element, update: bool = False) -> None:
        wr = self._m("writeResponse", parent)
        xsi_type = rec_el.get(f"{{{XSI}}}type", "")
        prefix, _, local = xsi_type.rpartition(":")
        type_ns = rec_el.nsmap.get(prefix or None, "")
        external_id = rec_el.get("externalId")
        rtype = _record_type(local)
        if update and not (external_id or rec_el.get("internalId")):
            self._status(wr, False, "USER_ERROR", "update requires an internalId or externalId")
            return
        if not update and rec_el.get("internalId"):
            self._status(wr, False, "USER_ERROR", "You cannot set internalId with upsert.")
            return
        if not update and not external_id:
            self._status(wr, False, "USER_ERROR", "This operation requires a value for externalId.")
            return
        if self.record_fault_every and next(self._record_counter) % self.record_fault_every == 0:
            self._status(wr, False, "UNEXPECTED_ERROR", "injected record-level failure")
            return

        for d in rec_el.iter():  # keep xsi:type values independent of the request's prefixes
            value = d.get(f"{{{XSI}}}type")
            if value and d is not rec_el and not value.startswith("{"):
                p, _, loc = value.rpartition(":")
                d.set(f"{{{XSI}}}type", f"{{{d.nsmap.get(p or None, '')}}}{loc}")

        xsi_clark = f"{{{type_ns}}}{local}"
        try:
            if update:
                rec = self.store.update(rtype, lambda r: self.rules.apply(r, rec_el, xsi_clark),
                                        internal_id=rec_el.get("internalId"),
                                        external_id=None if rec_el.get("internalId") else external_id)
                if rec is None:
                    self._status(wr, False, "RCRD_DSNT_EXIST", "That record does not exist.")
                    return
                external_id = rec.external_id or ""
            else:
                rec, _created = self.store.upsert(rtype, external_id, lambda r: self.rules.apply(r, rec_el,
                                                                                                 xsi_clark))
        except RecordRefused as exc:
            self._status(wr, False, exc.code, exc.message)
            return
        self._status(wr, True)
        ref = etree.SubElement(wr, f"{{{self.msgs}}}baseRef")
        ref.set(f"{{{XSI}}}type", "platformCore:RecordRef")
        ref.set("internalId", rec.internal_id)
        if external_id:
            ref.set("externalId", external_id)
        ref.set("type", rtype)

    def _op_upsert(self, op: etree._Element, _prefs) -> etree._Element:
        resp = self._m("upsertResponse")
        self._upsert_one(op[0], resp)
        return resp

    def _op_upsertList(self, op: etree._Element, _prefs) -> etree._Element:
        self._check_list_size(op, "upsertList")
        resp = self._m("upsertListResponse")
        wrl = self._m("writeResponseList", resp)
        self._status(wrl, True)
        for rec_el in op:
            self._upsert_one(rec_el, wrl)
        return resp

    def _op_update(self, op: etree._Element, _prefs) -> etree._Element:
        """What a person's edit in the UI (or another integration) does: change only the fields sent."""
        resp = self._m("updateResponse")
        self._upsert_one(op[0], resp, update=True)
        return resp

    def _op_updateList(self, op: etree._Element, _prefs) -> etree._Element:
        self._check_list_size(op, "updateList")
        resp = self._m("updateListResponse")
        wrl = self._m("writeResponseList", resp)
        self._status(wrl, True)
        for rec_el in op:
            self._upsert_one(rec_el, wrl, update=True)
        return resp

    @staticmethod
    def _check_list_size(op: etree._Element, name: str) -> None:
        if len(op) > MAX_LIST_RECORDS:
            raise SoapFaultReply("exceededRecordCountFault", "EXCEEDED_MAX_RCRD",
                                 f"{name} accepts at most {MAX_LIST_RECORDS} records per request; "
                                 f"this request has {len(op)}.")

    # -- reads ------------------------------------------------------------------------------------------
    def _read_one(self, ref: etree._Element, parent: etree._Element) -> None:
        rr = self._m("readResponse", parent)
        rtype = ref.get("type", "")
        rec = self.store.get(rtype, internal_id=ref.get("internalId"), external_id=ref.get("externalId"))
        if rec is None or rec.xsi_type is None:
            self._status(rr, False, "RCRD_DSNT_EXIST", "That record does not exist.")
            return
        self._status(rr, True)
        self._record_el(f"{{{self.msgs}}}record", rr, rec, body_only=False)

    def _op_get(self, op: etree._Element, _prefs) -> etree._Element:
        resp = self._m("getResponse")
        self._read_one(op[0], resp)
        return resp

    def _op_getList(self, op: etree._Element, _prefs) -> etree._Element:
        resp = self._m("getListResponse")
        rrl = self._m("readResponseList", resp)
        self._status(rrl, True)
        for ref in op:
            self._read_one(ref, rrl)
        return resp

    def _matches(self, rec: StoredRecord, types: set[str] | None, custom: list[tuple[str, str]],
                 external_ids: set[str] | None) -> bool:
        if rec.xsi_type is None or (types is not None and rec.record_type not in types):
            return False
        if external_ids is not None and rec.external_id not in external_ids:
            return False
        if custom:
            cfl = rec.fields.get("customFieldList")
            values = {cf.get("scriptId"): cf.findtext("{*}value") for cf in (cfl if cfl is not None else [])}
            return all(values.get(sid) == want for sid, want in custom)
        return True

    def _op_search(self, op: etree._Element, prefs) -> etree._Element:
        basic = op[0]
        if not basic.get(f"{{{XSI}}}type", "").endswith("TransactionSearchBasic"):
            raise SoapFaultReply("", "UNEXPECTED_ERROR", "the sandbox supports TransactionSearchBasic only")
        types: set[str] | None = None
        external_ids: set[str] | None = None
        custom: list[tuple[str, str]] = []
        for crit in basic:
            name = etree.QName(crit).localname
            if name == "type":
                types = {_SEARCH_TYPES.get(v.text or "", v.text or "") for v in crit.iterfind("{*}searchValue")}
            elif name == "externalId":
                external_ids = {v.get("externalId") for v in crit.iterfind("{*}searchValue")}
            elif name == "customFieldList":
                for cf in crit:
                    value = cf.findtext("{*}searchValue") or ""
                    if cf.get("operator", "is") != "is" and cf.get(f"{{{XSI}}}type", "").endswith(
                            "SearchStringCustomField"):
                        raise SoapFaultReply("", "UNEXPECTED_ERROR", "only the 'is' operator is supported")
                    custom.append((cf.get("scriptId", ""), value))
            else:
                raise SoapFaultReply("", "UNEXPECTED_ERROR", f"search criterion {name} is not supported")
        hits = [(r.record_type, r.internal_id) for r in self.store.all()
                if self._matches(r, types, custom, external_ids)]
        page_size = 1000
        body_only = True
        if prefs is not None:
            page_size = int(prefs.findtext(f"{{{self.msgs}}}pageSize") or page_size)
            body_only = (prefs.findtext(f"{{{self.msgs}}}bodyFieldsOnly") or "true") == "true"
        page_size = max(5, min(page_size, 1000))
        search_id = uuid.uuid4().hex
        with self._lock:
            self._searches[search_id] = (hits, page_size, body_only)
        return self._search_page("searchResponse", search_id, 1)

    def _op_searchMoreWithId(self, op: etree._Element, _prefs) -> etree._Element:
        search_id = op.findtext(f"{{{self.msgs}}}searchId") or ""
        page = int(op.findtext(f"{{{self.msgs}}}pageIndex") or "1")
        return self._search_page("searchMoreWithIdResponse", search_id, page)

    def _search_page(self, response_name: str, search_id: str, page: int) -> etree._Element:
        resp = self._m(response_name)
        result = self._c("searchResult", resp)
        with self._lock:
            found = self._searches.get(search_id)
        if found is None:
            self._status(result, False, "INVALID_SEARCH", "unknown searchId")
            return resp
        hits, page_size, body_only = found
        total_pages = max(1, -(-len(hits) // page_size))
        if not 1 <= page <= total_pages:
            self._status(result, False, "INVALID_PAGE_INDEX", f"page {page} of {total_pages}")
            return resp
        self._status(result, True)
        for name, value in (("totalRecords", len(hits)), ("pageSize", page_size), ("totalPages", total_pages),
                            ("pageIndex", page), ("searchId", search_id)):
            self._c(name, result).text = str(value)
        rl = self._c("recordList", result)
        for rtype, iid in hits[(page - 1) * page_size: page * page_size]:
            rec = self.store.get(rtype, internal_id=iid)
            if rec is not None:
                self._record_el(f"{{{self.core}}}record", rl, rec, body_only)
        return resp

    # -- account setup (what `vgos netsuite doctor` asks) ------------------------------------------------
    def _op_getServerTime(self, op: etree._Element, _prefs) -> etree._Element:
        """The cheapest authenticated call: doctor's login check."""
        resp = self._m("getServerTimeResponse")
        result = self._c("getServerTimeResult", resp)
        self._status(result, True)
        self._c("serverTime", result).text = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return resp

    def _op_getCustomizationId(self, op: etree._Element, _prefs) -> etree._Element:
        """Script ids and internal ids of the account's customizations of one type (e.g. body fields)."""
        ctype = op.find(f"{{{self.msgs}}}customizationType")
        kind = ctype.get("getCustomizationType", "") if ctype is not None else ""
        refs = [r for r in self.store.all(kind) if r.xsi_type is not None]
        resp = self._m("getCustomizationIdResponse")
        result = self._c("getCustomizationIdResult", resp)
        self._status(result, True)
        self._c("totalRecords", result).text = str(len(refs))
        lst = self._c("customizationRefList", result)
        for rec in refs:
            ref = self._c("customizationRef", lst)
            ref.set("internalId", rec.internal_id)
            script = rec.fields.get("scriptId")
            ref.set("scriptId", (script.text or "") if script is not None else "")
            ref.set("type", kind)
            label = rec.fields.get("label")
            if label is not None:
                self._c("name", ref).text = label.text
        return resp

    # -- faults -----------------------------------------------------------------------------------------
    def fault(self, exc: SoapFaultReply) -> bytes:
        """A SOAP 1.1 fault envelope with the NetSuite fault detail element."""
        fault = etree.Element(f"{{{SOAP_ENV}}}Fault")
        etree.SubElement(fault, "faultcode").text = exc.faultcode
        etree.SubElement(fault, "faultstring").text = exc.message
        if exc.fault_element:
            faults_ns = ns("faults", self.version)
            detail = etree.SubElement(fault, "detail")
            d = etree.SubElement(detail, f"{{{faults_ns}}}{exc.fault_element}", nsmap={"platformFaults": faults_ns})
            etree.SubElement(d, f"{{{faults_ns}}}code").text = exc.code
            etree.SubElement(d, f"{{{faults_ns}}}message").text = exc.message
        return envelope(fault)


def envelope(body_child: etree._Element) -> bytes:
    """Wrap one element in a SOAP 1.1 envelope, byte for byte as validated (no namespace re-homing)."""
    return (b'<?xml version="1.0" encoding="utf-8"?>'
            b'<soapenv:Envelope xmlns:soapenv="' + SOAP_ENV.encode() + b'"><soapenv:Body>'
            + etree.tostring(body_child) + b"</soapenv:Body></soapenv:Envelope>")
