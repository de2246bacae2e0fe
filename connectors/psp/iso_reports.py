"""ISO 20022 bank reports (camt.052/053/054, pain.002): safe parsing, namespace checks and shared element readers.

The readers themselves live in `iso_camt` (bookings) and `iso_pain002` (statuses); this module keeps the entry
points `camt_receipts` / `pain002_receipts` that `connectors.psp.reports` dispatches to.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from lxml import etree

from connectors.psp.receipts import ReportError
from vgos.money import MoneyError, decimal_to_minor, is_iso4217

if TYPE_CHECKING:
    from connectors.psp.receipts import Flag, Receipt

ROOTS = {"camt053": "BkToCstmrStmt", "camt054": "BkToCstmrDbtCdtNtfctn", "camt052": "BkToCstmrAcctRpt",
         "pain002": "CstmrPmtStsRpt"}
# ISO message name and the message versions (xsd:<msg>.001.NN) this reader understands.
MESSAGES = {"camt052": "camt.052", "camt053": "camt.053", "camt054": "camt.054", "pain002": "pain.002"}
VERSIONS = {"camt052": range(2, 9), "camt053": range(2, 9), "camt054": range(2, 9), "pain002": range(3, 11)}
_ISO_NS = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.\d{3})\.001\.(\d{2})$")
# National variants seen in real files: Swiss SIX Interbank Clearing pain.002 (Swiss Payment Standards 2018).
NATIONAL_NS = {"http://www.six-interbank-clearing.com/de/pain.002.001.03.ch.02.xsd": ("pain002", 3)}
_AMOUNT = re.compile(r"^\+?\d+(?:\.\d+)?$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def parse_xml(data: bytes) -> etree._Element:
    """Parse bytes safely (no entities, no DTD, no network); a syntax error becomes REPORT_MALFORMED with its line."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ReportError("REPORT_MALFORMED", f"malformed XML: {exc.msg}", exc.lineno) from None
    if root is None:
        raise ReportError("REPORT_MALFORMED", "empty document", None)
    return root


def message_kind(root: etree._Element) -> str | None:
    """Which message a Document holds (camt053/camt054/camt052/pain002/pain001), from its first child."""
    kids = [c for c in root if isinstance(c.tag, str)]
    if not kids:
        return None
    name = etree.QName(kids[0]).localname
    for k, v in ROOTS.items():
        if v == name:
            return k
    return "pain001" if name == "CstmrCdtTrfInitn" else None


def namespace_message(ns: str | None) -> tuple[str, int] | None:
    """(format, version) a Document namespace declares, or None when it is no ISO message this reader knows."""
    if ns in NATIONAL_NS:
        return NATIONAL_NS[ns]
    m = _ISO_NS.match(ns or "")
    if not m:
        return None
    fmt = next((k for k, v in MESSAGES.items() if v == m.group(1)), None)
    return (fmt, int(m.group(2))) if fmt else None


def document(data: bytes, fmt: str) -> etree._Element:
    """The message body of an ISO Document of format `fmt`, after checking namespace, version and amounts."""
    root = parse_xml(data)
    qn = etree.QName(root)
    if qn.localname != "Document":
        raise ReportError("FORMAT_MISMATCH", f"root element {qn.localname!r} is not an ISO 20022 Document",
                          root.sourceline)
    declared = namespace_message(qn.namespace)
    want = f"urn:iso:std:iso:20022:tech:xsd:{MESSAGES[fmt]}.001.NN"
    if declared is None or declared[0] != fmt:
        raise ReportError("FORMAT_MISMATCH", f"namespace {qn.namespace!r} is not {want}", root.sourceline)
    if declared[1] not in VERSIONS[fmt]:
        span = VERSIONS[fmt]
        raise ReportError("FORMAT_MISMATCH", f"{MESSAGES[fmt]} version {declared[1]:02d} not supported "
                          f"({span.start:02d} to {span.stop - 1:02d})", root.sourceline)
    kind = message_kind(root)
    if kind != fmt:
        raise ReportError("FORMAT_MISMATCH", f"expected {ROOTS[fmt]} ({fmt}), found {kind or 'unknown'}",
                          root.sourceline)
    body = next(c for c in root if isinstance(c.tag, str))
    for el in body.iter():
        if isinstance(el.tag, str) and "Ccy" in el.attrib:
            amount(el)
    return body


def local(el: etree._Element) -> str:
    """Local name of an element ('' for comments and processing instructions)."""
    return el.tag.rpartition("}")[2] if isinstance(el.tag, str) else ""


def children(el: etree._Element | None, path: str) -> list[etree._Element]:
    """Elements under `el` along a slash path of local names ('NtryDtls/TxDtls'), in document order."""
    nodes = [el] if el is not None else []
    for part in path.split("/"):
        nodes = [c for n in nodes for c in n if local(c) == part]
    return nodes


def child(el: etree._Element | None, path: str) -> etree._Element | None:
    """First element along a slash path, or None."""
    found = children(el, path)
    return found[0] if found else None


def text(el: etree._Element | None, *paths: str) -> str | None:
    """First non-empty text among the paths (leaf elements; whitespace stripped)."""
    for p in paths:
        for e in children(el, p):
            if any(isinstance(c.tag, str) for c in e):
                continue
            t = "".join(e.itertext()).strip()
            if t:
                return t
    return None


def texts(el: etree._Element | None, path: str) -> list[str]:
    """All non-empty leaf texts along a path (repeated AddtlInf lines and the like)."""
    return [t for e in children(el, path) if (t := "".join(e.itertext()).strip())]


def ref(value: str | None) -> str | None:
    """A reference, or None for the ISO placeholders that mean 'no reference'."""
    value = value.strip() if value else value
    return None if value in (None, "", "NOTPROVIDED", "NONREF") else value


def amount(el: etree._Element) -> tuple[int, str, Decimal]:
    """(minor units, currency, decimal) of an ISO amount; ISO amounts are non-negative with an active currency."""
    name = local(el)
    ccy = (el.get("Ccy") or "").strip()
    if not is_iso4217(ccy):
        raise ReportError("CURRENCY_INVALID", f"field {name}: {ccy!r} is not an active ISO 4217 currency",
                          el.sourceline)
    raw = "".join(el.itertext()).strip()
    if raw.startswith("-"):
        raise ReportError("AMOUNT_INVALID", f"field {name}: negative amount {raw!r} (ISO amounts are >= 0)",
                          el.sourceline)
    if not _AMOUNT.match(raw):
        raise ReportError("AMOUNT_INVALID", f"field {name}: not a decimal amount: {raw!r}", el.sourceline)
    try:
        minor = decimal_to_minor(raw, ccy)
    except MoneyError as exc:
        raise ReportError("AMOUNT_INVALID", f"field {name}: {exc}", el.sourceline) from None
    return minor, ccy, Decimal(raw)


def number(el: etree._Element | None, path: str) -> Decimal | None:
    """A currency-less decimal (TxsSummry sums), or None when absent; garbage is AMOUNT_INVALID."""
    e = child(el, path)
    if e is None:
        return None
    raw = "".join(e.itertext()).strip()
    if not _NUMBER.match(raw):
        raise ReportError("AMOUNT_INVALID", f"field {path}: not a decimal number: {raw!r}", e.sourceline)
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already guarantees a decimal
        raise ReportError("AMOUNT_INVALID", f"field {path}: {raw!r}", e.sourceline) from None


def count(el: etree._Element | None, path: str) -> int | None:
    """A count (NbOfTxs, NbOfNtries: Max15NumericText), or None when absent; non-digits are REPORT_SCHEMA."""
    e = child(el, path)
    if e is None:
        return None
    raw = "".join(e.itertext()).strip()
    if not raw.isdigit():
        raise ReportError("REPORT_SCHEMA", f"field {path}: not a count: {raw!r}", e.sourceline)
    return int(raw)


def day(el: etree._Element | None, path: str) -> str | None:
    """ISO date of a date choice (Dt, else DtTm cut to its date)."""
    d = text(el, f"{path}/Dt")
    if d:
        return d[:10]
    dt = text(el, f"{path}/DtTm")
    return dt[:10] if dt else None


def camt_receipts(data: bytes, fmt: str, source: str,
                  sha: str) -> list[Receipt] | tuple[list[Receipt], list[Flag]]:
    """Receipts of a camt.052/053/054: one per entry, DETAIL lines under batches, flags when totals disagree."""
    from connectors.psp.iso_camt import read_camt

    return read_camt(data, fmt, source, sha)


def pain002_receipts(data: bytes, source: str, sha: str) -> list[Receipt]:
    """STATUS receipts of a pain.002: group, payment-information and transaction statuses with reasons."""
    from connectors.psp.iso_pain002 import read_pain002

    return read_pain002(data, source, sha)
