"""Fast SuiteTalk envelopes for vendor bills and credits: the XML zeep would build, written directly with lxml.

zeep builds an envelope by walking the WSDL's types for every value, which costs about 1 ms per bill; a sync of a
large window would then be bound by the client's CPU rather than by NetSuite. The bill writes (upsertList and
upsert of VendorBill / VendorCredit) are the only high-volume requests, so they are written here directly:

- element names, namespaces and order are those of the SuiteTalk XSD (purchases.xsd `VendorBill`,
  `VendorCredit`, their `...Expense` types; core.xsd `StringCustomFieldRef`, `BooleanCustomFieldRef`,
  `TokenPassport`);
- values are rendered exactly as zeep renders them (xsd:double via `str(Decimal)`, xsd:boolean `true`/`false`,
  xsd:dateTime strings as given), and an element is left out exactly when zeep leaves it out (value None).

`SuiteTalkClient.bill_record` (zeep) stays the reference: tests/netsuite/test_envelope.py checks that both give the
same elements for bills, credits, holds, tenants, configured field ids and dates, and that the fast envelope
validates against the real XSD. Every other operation (search, getList, journal entries, setup reads) still goes
through zeep.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from vgos.money import minor_to_decimal

from .auth import TokenPassport
from .dates import soap_datetime
from .model import CREDIT, BillSpec, field_id

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPE = f"{{{XSI}}}type"
OPERATIONS = ("upsert", "upsertList")  # the bill writes; both wrap `record` elements in the messages namespace


class BillEnvelopes:
    """Serializer of upsert/upsertList requests of BillSpecs for one SuiteTalk version and one set of field ids."""

    def __init__(self, version: str, field_ids: dict[str, str], zone) -> None:
        self.msgs = f"urn:messages_{version}.platform.webservices.netsuite.com"
        self.core = f"urn:core_{version}.platform.webservices.netsuite.com"
        self.pur = f"urn:purchases_{version}.transactions.webservices.netsuite.com"
        self.nsmap = {"msg": self.msgs, "core": self.core, "pur": self.pur, "xsi": XSI}
        self.zone = zone  # callable returning the ZoneInfo of bill dates (dates.config_zone), asked per request
        self.fids = dict(field_ids)
        self.tenant_field = field_id(self.fids, "tenant_id")
        self.hold_field = field_id(self.fids, "vgos_hold")
        p, c = self.pur, self.core
        self._q = {name: f"{{{p}}}{name}" for name in (
            "entity", "subsidiary", "tranDate", "paymentHold", "memo", "currency", "expenseList", "expense",
            "account", "amount", "department", "class", "customFieldList")}
        self._record = f"{{{self.msgs}}}record"
        self._custom = f"{{{c}}}customField"
        self._value = f"{{{c}}}value"
        self._string_type = "core:StringCustomFieldRef"
        self._boolean_type = "core:BooleanCustomFieldRef"

    # -- records ----------------------------------------------------------------------------------------
    def record(self, parent: etree._Element, spec: BillSpec, zone) -> etree._Element:
        """Append the `record` of one spec to parent, in the XSD's element order."""
        q, sub = self._q, etree.SubElement
        credit = spec.record_type == CREDIT
        rec = sub(parent, self._record, {"externalId": spec.external_id,
                                         _XSI_TYPE: "pur:VendorCredit" if credit else "pur:VendorBill"})
        tran_date = soap_datetime(spec.tran_date, zone)
        if credit:  # VendorCredit: entity, currency, tranDate, memo, subsidiary, expenseList, customFieldList
            sub(rec, q["entity"], internalId=spec.vendor_id)
            sub(rec, q["currency"], internalId=spec.currency_id)
            sub(rec, q["tranDate"]).text = tran_date
            if spec.memo:
                sub(rec, q["memo"]).text = spec.memo
            if spec.subsidiary_id:
                sub(rec, q["subsidiary"], internalId=spec.subsidiary_id)
        else:  # VendorBill: entity, subsidiary, tranDate, paymentHold, memo, currency, expenseList, customFieldList
            sub(rec, q["entity"], internalId=spec.vendor_id)
            if spec.subsidiary_id:
                sub(rec, q["subsidiary"], internalId=spec.subsidiary_id)
            sub(rec, q["tranDate"]).text = tran_date
            if spec.payment_hold is not None:
                sub(rec, q["paymentHold"]).text = "true" if spec.payment_hold else "false"
            if spec.memo:
                sub(rec, q["memo"]).text = spec.memo
            sub(rec, q["currency"], internalId=spec.currency_id)
        expenses = sub(rec, q["expenseList"], replaceAll="true")  # sent lines replace the record's lines
        for line in spec.lines:  # both Expense types: account, amount, memo, department, class
            exp = sub(expenses, q["expense"])
            sub(exp, q["account"], internalId=line.account)
            sub(exp, q["amount"]).text = str(Decimal(minor_to_decimal(line.amount_minor, spec.currency)))
            if line.memo is not None:
                sub(exp, q["memo"]).text = line.memo
            if line.department:
                sub(exp, q["department"], internalId=line.department)
            if line.class_:
                sub(exp, q["class"], internalId=line.class_)
        customs = sub(rec, q["customFieldList"])
        fids = self.fids
        self._string(customs, fids["window_id"], spec.window_id)
        self._string(customs, fids["output_digest"], spec.output_digest)
        self._string(customs, fids["transcript_url"], spec.transcript_url)
        self._string(customs, fids["provider_batch_id"], spec.provider_batch_id or "")
        if spec.tenant_id:
            self._string(customs, self.tenant_field, spec.tenant_id)
        if not credit:
            self._boolean(customs, fids["eligible_to_pay"], spec.eligible_to_pay)
            if spec.vgos_hold is not None:
                self._boolean(customs, self.hold_field, spec.vgos_hold)
        return rec

    def _string(self, parent: etree._Element, script_id: str, value: str | None) -> None:
        field = etree.SubElement(parent, self._custom, {"scriptId": script_id, _XSI_TYPE: self._string_type})
        if value is not None:
            etree.SubElement(field, self._value).text = value

    def _boolean(self, parent: etree._Element, script_id: str, value: bool | None) -> None:
        field = etree.SubElement(parent, self._custom, {"scriptId": script_id, _XSI_TYPE: self._boolean_type})
        if value is not None:
            etree.SubElement(field, self._value).text = "true" if value else "false"

    # -- envelopes --------------------------------------------------------------------------------------
    def body(self, operation: str, specs: Sequence[BillSpec]) -> bytes:
        """The serialized operation element (`upsertList` with every record, or `upsert` with one)."""
        if operation not in OPERATIONS:
            raise ValueError(f"fast envelopes cover {', '.join(OPERATIONS)}, not {operation}")
        if operation == "upsert" and len(specs) != 1:
            raise ValueError("upsert takes exactly one record")
        zone = self.zone()
        op = etree.Element(f"{{{self.msgs}}}{operation}", nsmap=self.nsmap)
        for spec in specs:
            self.record(op, spec, zone)
        return etree.tostring(op, encoding="utf-8")

    def header(self, passport: TokenPassport) -> bytes:
        """The TokenPassport SOAP header (messages:tokenPassport with core children), as zeep writes it."""
        c, sub = self.core, etree.SubElement
        el = etree.Element(f"{{{self.msgs}}}tokenPassport", nsmap={"msg": self.msgs, "core": c})
        sub(el, f"{{{c}}}account").text = passport.account
        sub(el, f"{{{c}}}consumerKey").text = passport.consumer_key
        sub(el, f"{{{c}}}token").text = passport.token
        sub(el, f"{{{c}}}nonce").text = passport.nonce
        sub(el, f"{{{c}}}timestamp").text = str(passport.timestamp)
        sub(el, f"{{{c}}}signature", algorithm=passport.algorithm).text = passport.signature
        return etree.tostring(el, encoding="utf-8")

    def envelope(self, body: bytes, passport: TokenPassport) -> bytes:
        """A whole request: the passport header (fresh per attempt) around a body serialized once."""
        return b"".join((
            b"<?xml version='1.0' encoding='utf-8'?>\n",
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Header>'.encode(),
            self.header(passport), b"</soapenv:Header><soapenv:Body>", body,
            b"</soapenv:Body></soapenv:Envelope>",
        ))

