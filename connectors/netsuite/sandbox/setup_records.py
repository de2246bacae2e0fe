"""Account setup held by the sandbox: custom field definitions, vendors, accounts and segments.

These are the records `vgos netsuite doctor` reads (getCustomizationId, getList). They are stored in SOAP shape
like every other sandbox record, so `get`/`getList` answer them and the response is schema-validated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree

from ..config import ALL_FIELD_IDS
from .store import RecordStore, StoredRecord

_NS = {
    "customization": "urn:customization_{v}.setup.webservices.netsuite.com",
    "relationships": "urn:relationships_{v}.lists.webservices.netsuite.com",
    "accounting": "urn:accounting_{v}.lists.webservices.netsuite.com",
    "core": "urn:core_{v}.platform.webservices.netsuite.com",
}
# record type -> (namespace kind, SOAP type)
_TYPES = {
    "transactionBodyCustomField": ("customization", "TransactionBodyCustomField"),
    "vendor": ("relationships", "Vendor"),
    "account": ("accounting", "Account"),
    "department": ("accounting", "Department"),
    "classification": ("accounting", "Classification"),
    "subsidiary": ("accounting", "Subsidiary"),
    "currency": ("accounting", "Currency"),
}
# the field types the SDF project creates (connectors/netsuite/sdf/Objects)
VGOS_FIELD_TYPES = {"window_id": "_freeFormText", "output_digest": "_freeFormText",
                    "transcript_url": "_hyperlink", "provider_batch_id": "_freeFormText",
                    "eligible_to_pay": "_checkBox", "tenant_id": "_freeFormText", "vgos_hold": "_checkBox"}


class AccountSetup:
    """Adds and removes setup records of one sandbox store (internal ids chosen by the caller)."""

    def __init__(self, store: RecordStore, version: str) -> None:
        self.store, self.version = store, version
        self._next_field_id = 500

    def _ns(self, kind: str) -> str:
        return _NS[kind].format(v=self.version)

    def _put(self, record_type: str, internal_id: str, fields: dict[str, Any]) -> StoredRecord:
        kind, soap_type = _TYPES[record_type]
        tns = self._ns(kind)
        elements: dict[str, etree._Element] = {}
        for name, value in fields.items():
            if value is None:
                continue
            el = etree.Element(f"{{{tns}}}{name}")
            if isinstance(value, dict) and "ref" in value:
                el.set("internalId", str(value["ref"]))
            elif isinstance(value, dict) and "refs" in value:  # RecordRefList
                for iid in value["refs"]:
                    etree.SubElement(el, f"{{{self._ns('core')}}}recordRef").set("internalId", str(iid))
            elif isinstance(value, dict) and "currencies" in value:  # VendorCurrencyList
                for iid in value["currencies"]:
                    item = etree.SubElement(el, f"{{{tns}}}vendorCurrency")
                    etree.SubElement(item, f"{{{tns}}}currency").set("internalId", str(iid))
            elif isinstance(value, bool):
                el.text = "true" if value else "false"
            else:
                el.text = str(value)
            elements[name] = el
        rec = StoredRecord(record_type, str(internal_id), None, f"{{{tns}}}{soap_type}", elements)
        self.store.put(rec)
        return rec

    def custom_field(self, script_id: str, field_type: str = "_freeFormText", *, store_value: bool = True,
                     body_purchase: bool = True, internal_id: str | None = None,
                     label: str | None = None) -> StoredRecord:
        """A transaction body field definition (Customization > Transaction Body Fields)."""
        if internal_id is None:
            self._next_field_id += 1
            internal_id = str(self._next_field_id)
        return self._put("transactionBodyCustomField", internal_id, {
            "fieldType": field_type, "scriptId": script_id, "label": label or script_id,
            "storeValue": store_value, "bodyPurchase": body_purchase})

    def remove_custom_field(self, script_id: str) -> None:
        """Delete the field definition with this script id (a field someone deleted, or never created)."""
        for rec in self.store.all("transactionBodyCustomField"):
            el = rec.fields.get("scriptId")
            if el is not None and el.text == script_id:
                self.store.remove("transactionBodyCustomField", rec.internal_id)

    def vendor(self, internal_id: str, *, subsidiary: str | None = None, currency: str | None = None,
               currencies: Iterable[str] = (), inactive: bool = False) -> StoredRecord:
        """A vendor with its primary subsidiary, primary currency and additional currencies."""
        extra = [c for c in currencies if c != currency]
        return self._put("vendor", internal_id, {
            "entityId": f"Vendor {internal_id}", "companyName": f"Vendor {internal_id}", "isInactive": inactive,
            "subsidiary": {"ref": subsidiary} if subsidiary else None,
            "currency": {"ref": currency} if currency else None,
            "currencyList": {"currencies": [currency, *extra] if currency else extra} if (extra or currency)
            else None})

    def account(self, internal_id: str, acct_type: str = "_expense", *, subsidiaries: Iterable[str] = (),
                inactive: bool = False) -> StoredRecord:
        """A GL account (Lists > Accounting > Accounts)."""
        subs = list(subsidiaries)
        return self._put("account", internal_id, {
            "acctType": acct_type, "acctNumber": str(internal_id), "acctName": f"Account {internal_id}",
            "isInactive": inactive, "subsidiaryList": {"refs": subs} if subs else None})

    def segment(self, record_type: str, internal_id: str, *, subsidiaries: Iterable[str] = (),
                inactive: bool = False, currency: str | None = None) -> StoredRecord:
        """A department, classification, subsidiary or currency."""
        fields: dict[str, Any] = {"name": f"{record_type} {internal_id}"}
        if record_type == "currency":
            fields["symbol"] = f"C{internal_id}"
        if record_type in ("department", "classification"):
            subs = list(subsidiaries)
            fields["subsidiaryList"] = {"refs": subs} if subs else None
        if record_type == "subsidiary":
            fields["currency"] = {"ref": currency} if currency else None
        fields["isInactive"] = inactive
        order = {"currency": ["name", "symbol", "isInactive"], "subsidiary": ["name", "isInactive", "currency"]}
        keys = order.get(record_type, ["name", "isInactive", "subsidiaryList"])
        return self._put(record_type, internal_id, {k: fields.get(k) for k in keys})


def seed_vgos_setup(store: RecordStore, version: str, *, vendor_ids: Iterable[str], gl_mapping: Any,
                    currencies: Iterable[str] = ("USD",), field_ids: dict[str, str] | None = None) -> AccountSetup:
    """An account set up as docs/netsuite.md describes: the VGOS fields, the vendors, the GL mapping's records."""
    setup = AccountSetup(store, version)
    for key, script_id in (field_ids or ALL_FIELD_IDS).items():
        setup.custom_field(script_id, VGOS_FIELD_TYPES[key])
    subsidiary = getattr(gl_mapping, "subsidiary", None)
    currency_ids = [gl_mapping.currencies[c] for c in currencies if c in gl_mapping.currencies]
    for cid in currency_ids:
        setup.segment("currency", cid)
    if subsidiary:
        setup.segment("subsidiary", subsidiary, currency=currency_ids[0] if currency_ids else None)
    subs = [subsidiary] if subsidiary else []
    for vid in sorted(set(vendor_ids)):
        setup.vendor(vid, subsidiary=subsidiary, currency=currency_ids[0] if currency_ids else None,
                     currencies=currency_ids)
    from ..doctor import gl_references

    refs = gl_references(gl_mapping)
    for account in refs["account"]:
        setup.account(account, subsidiaries=subs)
    for record_type in ("department", "classification"):
        for iid in refs[record_type]:
            setup.segment(record_type, iid, subsidiaries=subs)
    return setup
