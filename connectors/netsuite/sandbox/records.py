"""How the sandbox writes records, whichever API a request came through (one record, two views).

Every vendor bill is held in SOAP shape (XML elements by field name). A REST body is converted to the same
elements before it is applied, and a REST read renders them back as JSON, so SOAP and REST see the same
bills under the same externalIds. Writes follow NetSuite: date fields become dates in the user's time zone;
a sublist replaces its lines only with replaceAll (SOAP, default true) or `?replace=<sublist>` (REST),
otherwise lines are appended (or updated by line number); paid bills and closed periods refuse edits.
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from ..soap_client import XSI, ns
from .dates import DATE_FIELDS, BadDate, date_to_soap_value, period_of, rest_value_to_date, soap_value_to_date
from .schema import field_order
from .store import RecordStore, StoredRecord

# REST record type -> (schema kind, SOAP type name, {REST sublist: (SOAP list element, item element, item type)})
REST_TYPES: dict[str, tuple[str, str, dict[str, tuple[str, str, str]]]] = {
    "vendorBill": ("purchases", "VendorBill", {"expense": ("expenseList", "expense", "VendorBillExpense")}),
    "vendorCredit": ("purchases", "VendorCredit", {"expense": ("expenseList", "expense", "VendorCreditExpense")}),
    "journalEntry": ("general", "JournalEntry", {"line": ("lineList", "line", "JournalEntryLine")}),
}
MAX_JOURNAL_LINES = 1000  # lines per journal entry NetSuite accepts
# body fields NetSuite fills in when a record is created without them (local name of the type -> field -> text)
CREATE_DEFAULTS: dict[str, dict[str, str]] = {"VendorBill": {"paymentHold": "false"}}
NOT_SUBLISTS = frozenset({"customFieldList", "nullFieldList"})


def check_journal_lines(line_list: etree._Element | None) -> None:
    """What NetSuite refuses in a journal entry: no lines, too many, a line without account or amount, imbalance."""
    lines = list(line_list) if line_list is not None else []
    if not lines:
        raise RecordRefused("JE_LINE_MISSING_REQD_DATA", "A journal entry needs at least one line.")
    if len(lines) > MAX_JOURNAL_LINES:
        raise RecordRefused("EXCEEDED_MAX_TRANS_LINES", f"A journal entry can have at most {MAX_JOURNAL_LINES} "
                                                        f"lines; this one has {len(lines)}.")
    totals = [Decimal(0), Decimal(0)]
    for n, line in enumerate(lines, start=1):
        amounts = []
        for side, name in enumerate(("debit", "credit")):
            text = (line.findtext(f"{{*}}{name}") or "").strip()
            if text:
                try:
                    value = Decimal(text)
                except InvalidOperation as exc:
                    raise RecordRefused("INVALID_FLD_VALUE", f"line {n}: {name} {text!r} is not a number") from exc
                if value < 0:
                    raise RecordRefused("INVALID_FLD_VALUE", f"line {n}: {name} must not be negative")
                totals[side] += value
                amounts.append(value)
        account = line.find("{*}account")
        if account is None or not account.get("internalId") or len(amounts) != 1:
            raise RecordRefused("JE_LINE_MISSING_REQD_DATA",
                                f"line {n}: a journal line needs an account and exactly one of debit or credit.")
    if totals[0] != totals[1]:
        raise RecordRefused("JE_AMOUNTS_MUST_BALANCE",
                            f"The debits ({totals[0]}) and credits ({totals[1]}) of a journal entry must balance.")


class RecordRefused(Exception):
    """NetSuite would refuse this write; code and message go into the API's error shape."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@lru_cache(maxsize=256)
def field_kinds(wsdl: str, type_qname: str) -> dict[str, str]:
    """Element name -> zeep type name ('RecordRef', 'Boolean', 'DateTime', 'Double', ...) of a record type."""
    from ..soap_client import load_wsdl

    t = load_wsdl(wsdl).get_type(type_qname)
    return {name: type(el.type).__name__ for name, el in t.elements}


class RecordRules:
    """Write semantics and REST/SOAP conversion over one RecordStore, for one user time zone."""

    def __init__(self, *, wsdl: str, version: str, store: RecordStore, user_zone: ZoneInfo) -> None:
        self.wsdl, self.version, self.store, self.user_zone = wsdl, version, store, user_zone
        self.core = ns("core", version)

    # -- applying one write (SOAP record element, or a REST body converted to one) -----------------------
    def stored_date(self, rec: StoredRecord, name: str = "tranDate") -> date | None:
        """The date a stored record holds in a date field (None when absent)."""
        el = rec.fields.get(name)
        if el is None or not isinstance(el, etree._Element) or not (el.text or "").strip():
            return None
        return soap_value_to_date(el.text, self.user_zone)

    def apply(self, rec: StoredRecord, rec_el: etree._Element, xsi_type: str) -> None:
        """Apply one incoming record element to a stored record, atomically; raises RecordRefused."""
        if rec.paid:
            raise RecordRefused("TRANS_EDIT_DISALLWD",
                                "This bill has been paid; a paid transaction cannot be edited.")
        old_day = self.stored_date(rec)
        fields = dict(rec.fields)
        if rec.xsi_type is None and not fields:  # a new record: NetSuite's defaults for fields not sent
            qn = etree.QName(xsi_type)
            for name, text in CREATE_DEFAULTS.get(qn.localname, {}).items():
                fields[name] = etree.Element(f"{{{qn.namespace}}}{name}")
                fields[name].text = text
        for child in rec_el:
            name = etree.QName(child).localname
            if name == "customFieldList":
                fields[name] = self._merge_custom(fields.get(name), child)
            elif name == "nullFieldList":
                for n in child.iterfind("{*}name"):
                    fields.pop((n.text or "").strip(), None)
            elif name in DATE_FIELDS:
                el = copy.deepcopy(child)
                try:
                    el.text = date_to_soap_value(soap_value_to_date(child.text or "", self.user_zone),
                                                 self.user_zone)
                except BadDate as exc:
                    raise RecordRefused("INVALID_FLD_VALUE", f"{name}: {exc}") from exc
                fields[name] = el
            elif name.endswith("List") and name not in NOT_SUBLISTS:
                fields[name] = self._merge_sublist(fields.get(name), child)
            else:
                fields[name] = copy.deepcopy(child)
        if etree.QName(xsi_type).localname == "JournalEntry":
            check_journal_lines(fields.get("lineList"))
        probe = StoredRecord(rec.record_type, rec.internal_id, rec.external_id, xsi_type, fields)
        new_day = self.stored_date(probe)
        for day in (old_day, new_day):
            if day is not None and period_of(day) in self.store.closed_periods:
                raise RecordRefused("TRAN_PRD_CLOSED", f"The accounting period {period_of(day)} is closed; "
                                                      "transactions dated in it cannot be created or edited.")
        rec.xsi_type, rec.fields = xsi_type, fields

    @staticmethod
    def _merge_custom(existing: etree._Element | None, incoming: etree._Element) -> etree._Element:
        merged = copy.deepcopy(existing) if existing is not None else copy.deepcopy(incoming)
        if existing is None:
            return merged
        by_id = {cf.get("scriptId"): cf for cf in merged}
        for cf in incoming:
            old = by_id.get(cf.get("scriptId"))
            if old is not None:
                merged.replace(old, copy.deepcopy(cf))
            else:
                merged.append(copy.deepcopy(cf))
        return merged

    @staticmethod
    def _merge_sublist(existing: etree._Element | None, incoming: etree._Element) -> etree._Element:
        """replaceAll (XSD default true) replaces every line; otherwise update by line number, else append."""
        replace_all = incoming.get("replaceAll", "true").strip() in ("true", "1")
        if existing is None or replace_all:
            out = copy.deepcopy(incoming)
            out.attrib.pop("replaceAll", None)
            return out
        out = copy.deepcopy(existing)
        lines = list(out)
        for item in incoming:
            number = (item.findtext("{*}line") or "").strip()
            target = None
            if number.isdigit():
                for pos, line in enumerate(lines, start=1):
                    if (line.findtext("{*}line") or str(pos)).strip() == number:
                        target = line
                        break
            if target is not None:
                out.replace(target, copy.deepcopy(item))
                lines = list(out)
            else:
                out.append(copy.deepcopy(item))
                lines.append(out[-1])
        return out

    # -- REST body -> SOAP-shaped record element ----------------------------------------------------------
    def rest_to_element(self, rtype: str, data: dict[str, Any], replace: set[str]) -> tuple[etree._Element, str]:
        """The SOAP-shaped element and xsi:type (Clark) of a REST body; raises RecordRefused on bad values."""
        kind, type_name, sublists = REST_TYPES[rtype]
        tns = ns(kind, self.version)
        xsi_type = f"{{{tns}}}{type_name}"
        kinds = field_kinds(self.wsdl, xsi_type)
        order = field_order(self.wsdl, xsi_type)
        children: dict[str, etree._Element] = {}
        custom: list[etree._Element] = []
        for key, value in data.items():
            if key in ("externalId", "id", "links"):
                continue
            if key.startswith("cust"):
                custom.append(self._custom_field(key, value))
            elif key in sublists:
                list_name, item_name, item_type = sublists[key]
                lst = etree.Element(f"{{{tns}}}{list_name}")
                lst.set("replaceAll", "true" if key in replace else "false")
                items = value.get("items", []) if isinstance(value, dict) else None
                if not isinstance(items, list):
                    raise RecordRefused("INVALID_FLD_VALUE", f"{key}: expected {{\"items\": [...]}}")
                item_kinds = field_kinds(self.wsdl, f"{{{tns}}}{item_type}")
                item_order = field_order(self.wsdl, f"{{{tns}}}{item_type}")
                for item in items:
                    if not isinstance(item, dict):
                        raise RecordRefused("INVALID_FLD_VALUE", f"{key}: every item must be an object")
                    el = etree.SubElement(lst, f"{{{tns}}}{item_name}")
                    for name in sorted(item, key=lambda n: item_order.index(n) if n in item_order else 10**6):
                        if name in ("links", "refName"):
                            continue
                        if name not in item_kinds:
                            raise RecordRefused("INVALID_FLD", f"{key}.{name} is not a field of {item_type}")
                        self._value_into(etree.SubElement(el, f"{{{tns}}}{name}"), item_kinds[name], item[name],
                                         f"{key}.{name}")
                children[list_name] = lst
            elif key in kinds and key not in NOT_SUBLISTS and not kinds[key].endswith("List"):
                el = etree.Element(f"{{{tns}}}{key}")
                if key in DATE_FIELDS:
                    try:
                        el.text = date_to_soap_value(rest_value_to_date(value, self.user_zone), self.user_zone)
                    except BadDate as exc:
                        raise RecordRefused("INVALID_FLD_VALUE", f"{key}: {exc}") from exc
                else:
                    self._value_into(el, kinds[key], value, key)
                children[key] = el
            else:
                raise RecordRefused("INVALID_FLD", f"{key} is not a field the sandbox maps for {rtype}")
        if custom:
            cfl = etree.Element(f"{{{tns}}}customFieldList")
            cfl.extend(custom)
            children["customFieldList"] = cfl
        root = etree.Element(f"{{{tns}}}record")
        for name in sorted(children, key=lambda n: order.index(n) if n in order else 10**6):
            root.append(children[name])
        return root, xsi_type

    def _value_into(self, el: etree._Element, kind: str, value: Any, label: str) -> None:
        if kind == "RecordRef":
            if not isinstance(value, dict) or "id" not in value:
                raise RecordRefused("INVALID_FLD_VALUE", f"{label}: a reference must be {{\"id\": ...}}")
            el.set("internalId", str(value["id"]))
        elif kind == "Boolean":
            if not isinstance(value, bool):
                raise RecordRefused("INVALID_FLD_VALUE", f"{label}: expected true or false")
            el.text = "true" if value else "false"
        elif kind in ("Double", "Long", "Integer", "Decimal"):
            if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
                raise RecordRefused("INVALID_FLD_VALUE", f"{label}: expected a number")
            try:
                el.text = format(Decimal(str(value)), "f")
            except InvalidOperation as exc:
                raise RecordRefused("INVALID_FLD_VALUE", f"{label}: expected a number") from exc
        elif kind == "String":
            el.text = "" if value is None else str(value)
        else:
            raise RecordRefused("INVALID_FLD", f"{label}: the sandbox does not map {kind} fields over REST")

    def _custom_field(self, script_id: str, value: Any) -> etree._Element:
        cf = etree.Element(f"{{{self.core}}}customField")
        cf.set("scriptId", script_id)
        cf.set(f"{{{XSI}}}type", f"{{{self.core}}}" + ("BooleanCustomFieldRef" if isinstance(value, bool)
                                                       else "StringCustomFieldRef"))
        v = etree.SubElement(cf, f"{{{self.core}}}value")
        v.text = ("true" if value else "false") if isinstance(value, bool) else ("" if value is None else str(value))
        return cf

    # -- SOAP-shaped record -> REST JSON ------------------------------------------------------------------
    def to_json(self, rec: StoredRecord, *, expand: bool, base: str) -> dict[str, Any]:
        """REST rendering of a SOAP-shaped record: references as {"id"}, dates plain, custom fields top-level."""
        kinds = field_kinds(self.wsdl, rec.xsi_type)
        self_href = f"{base}/services/rest/record/v1/{rec.record_type}/{rec.internal_id}"
        out: dict[str, Any] = {"links": [{"rel": "self", "href": self_href}], "id": rec.internal_id,
                               "externalId": rec.external_id}
        rest_names = {v[0]: (k, v[2]) for k, v in REST_TYPES.get(rec.record_type, ("", "", {}))[2].items()}
        tns = etree.QName(rec.xsi_type).namespace
        for name, el in rec.fields.items():
            if name == "customFieldList":
                for cf in el:
                    text = cf.findtext("{*}value")
                    boolean = (cf.get(f"{{{XSI}}}type") or "").endswith("BooleanCustomFieldRef")
                    out[cf.get("scriptId", "")] = (text == "true") if boolean else text
            elif name in rest_names:
                key, item_type = rest_names[name]
                if not expand:
                    out[key] = {"links": [{"rel": "self", "href": f"{self_href}/{key}"}]}
                    continue
                item_kinds = field_kinds(self.wsdl, f"{{{tns}}}{item_type}")
                items = []
                for pos, item in enumerate(el, start=1):
                    row: dict[str, Any] = {"line": pos}
                    for child in item:
                        cname = etree.QName(child).localname
                        row[cname] = self._json_value(child, item_kinds.get(cname, "String"))
                    items.append(row)
                out[key] = {"items": items, "totalResults": len(items)}
            elif name in DATE_FIELDS:
                day = self.stored_date(rec, name)
                out[name] = None if day is None else day.isoformat()
            elif not name.endswith("List"):
                out[name] = self._json_value(el, kinds.get(name, "String"))
        return out

    @staticmethod
    def _json_value(el: etree._Element, kind: str) -> Any:
        if el.get("internalId") is not None:
            return {"id": el.get("internalId")}
        text = el.text or ""
        if kind == "Boolean":
            return text.strip() == "true"
        if kind in ("Double", "Long", "Integer"):
            try:
                return Decimal(text)
            except InvalidOperation:
                return text
        return text
