"""The WSDL's XML schemas compiled once with lxml, for validating every request and response body."""

from __future__ import annotations

import threading
from functools import lru_cache

from lxml import etree

XSD = "http://www.w3.org/2001/XMLSchema"


class SchemaSet:
    """lxml XMLSchema over all the WSDL's imports; validate() copies an element out and checks it."""

    def __init__(self, wsdl_path: str) -> None:
        doc = etree.parse(wsdl_path)
        schema_el = doc.find(f".//{{{XSD}}}schema")
        if schema_el is None:
            raise ValueError(f"{wsdl_path}: no <xsd:schema> in <types>")
        wrapper = etree.fromstring(etree.tostring(schema_el), base_url=wsdl_path)
        self._schema = etree.XMLSchema(etree.ElementTree(wrapper))
        self._lock = threading.Lock()  # XMLSchema error_log is per-object; serialize validations

    def errors(self, element: etree._Element) -> list[str]:
        """Schema errors of one element taken as a document root (empty when valid)."""
        doc = etree.fromstring(etree.tostring(element))
        with self._lock:
            if self._schema.validate(doc):
                return []
            return [f"line {e.line}: {e.message}" for e in self._schema.error_log][:5]


@lru_cache(maxsize=4)
def load_schema_set(wsdl_path: str) -> SchemaSet:
    """Compile once per process per WSDL."""
    return SchemaSet(wsdl_path)


@lru_cache(maxsize=256)
def field_order(wsdl_path: str, type_qname: str) -> tuple[str, ...]:
    """Element names of a record type in schema sequence order (inherited first), from zeep's parse."""
    from ..soap_client import load_wsdl

    t = load_wsdl(wsdl_path).get_type(type_qname)
    return tuple(name for name, _ in t.elements)
