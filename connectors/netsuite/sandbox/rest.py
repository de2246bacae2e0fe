"""REST side of the sandbox: record API for vendorBill (OAuth 1.0a checked) and a SuiteQL subset with paging."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from .. import jsonexact
from .records import REST_TYPES, RecordRefused, RecordRules
from .store import RecordStore, StoredRecord
from .tba import AuthRejected, TbaVerifier

_RECORD = re.compile(r"^/services/rest/record/v1/(?P<type>[A-Za-z]+)(?:/(?P<id>[^/?]+))?$")
_SUITEQL = re.compile(
    r"^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s+transaction\s+WHERE\s+(?P<where>.+?)"
    r"(?:\s+ORDER\s+BY\s+id(?:\s+ASC)?)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(r"^\s*(?P<field>[A-Za-z0-9_]+)\s*=\s*'(?P<value>(?:[^']|'')*)'\s*$", re.DOTALL)
_AND = re.compile(r"\s+AND\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)
_TYPE_IN = re.compile(r"^\s*type\s+IN\s*\((?P<values>\s*'[A-Za-z]+'(?:\s*,\s*'[A-Za-z]+')*\s*)\)\s*$",
                      re.IGNORECASE)
_SUITEQL_CODES = {"VendBill": "vendorBill", "VendCred": "vendorCredit", "Journal": "journalEntry"}
_SUITEQL_TYPES = {code.lower(): rtype for code, rtype in _SUITEQL_CODES.items()}
KNOWN_FIELDS = {
    "vendorBill": {"externalId", "entity", "tranDate", "currency", "subsidiary", "paymentHold", "memo", "expense",
                   "account", "dueDate", "terms", "department", "class", "location", "approvalStatus"},
    "vendorCredit": {"externalId", "entity", "tranDate", "currency", "subsidiary", "memo", "expense", "account",
                     "department", "class", "location", "autoApply"},
    "journalEntry": {"externalId", "tranDate", "currency", "exchangeRate", "subsidiary", "memo", "line",
                     "postingPeriod", "department", "class", "location", "reversalDate", "approved"},
}


@dataclass
class RestReply:
    """HTTP answer of the REST side."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: str, detail: str) -> RestReply:
    body = {"type": "https://www.rfc-editor.org/rfc/rfc9110.html", "title": detail, "status": status,
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}]}
    return RestReply(status, jsonexact.dumps(body).encode(), {"Content-Type": "application/vnd.oracle.resource+json"})


class RestService:
    """Record API and SuiteQL over the shared RecordStore: vendor bills are the SOAP side's records (records.py)."""

    def __init__(self, verifier: TbaVerifier, store: RecordStore, rules: RecordRules) -> None:
        self.verifier, self.store, self.rules = verifier, store, rules

    def authenticate(self, method: str, url: str, headers: dict[str, str]) -> RestReply | None:
        """None when the OAuth 1.0a signature, timestamp and nonce pass (the sandbox's own check), else 401."""
        try:
            self.verifier.check_oauth(method, url, headers.get("authorization", ""))
        except AuthRejected as exc:
            return _error(401, "INVALID_LOGIN", f"Invalid login attempt: {exc}")
        return None

    def handle(self, method: str, base: str, path: str, query: str, headers: dict[str, str],
               body: bytes) -> RestReply:
        """Route one authenticated request."""
        if path == "/services/rest/query/v1/suiteql" and method == "POST":
            return self._suiteql(query, headers, body)
        m = _RECORD.match(path)
        if not m:
            return _error(404, "NONEXISTENT_ID", f"no such resource {path}")
        rtype, rid = m.group("type"), unquote(m.group("id") or "")
        if method == "GET" and rid:
            rec = self._lookup(rtype, rid)
            if rec is None:
                return _error(404, "NONEXISTENT_ID", f"The record instance does not exist ({rid}).")
            return RestReply(200, jsonexact.dumps(self._render(rec, base, query)).encode(),
                             {"Content-Type": "application/vnd.oracle.resource+json"})
        if method in ("PUT", "POST", "PATCH"):
            try:
                data = jsonexact.loads(body or b"{}")
            except ValueError as exc:
                return _error(400, "INVALID_CONTENT", f"request body is not JSON: {exc}")
            if not isinstance(data, dict):
                return _error(400, "INVALID_CONTENT", "request body must be a JSON object")
            if headers.get("x-netsuite-propertynamevalidation", "").lower() == "error":
                known = KNOWN_FIELDS.get(rtype, set())
                unknown = sorted(k for k in data if k not in known and not k.startswith("cust"))
                if unknown:
                    return _error(400, "USER_ERROR", f"Invalid property names: {', '.join(unknown)}")
            if method == "PUT" and rid.startswith("eid:"):
                external_id = rid[4:]
            elif method == "POST" and not rid:
                external_id = str(data.get("externalId") or "")
            elif method == "PATCH" and rid:
                rec = self._lookup(rtype, rid)
                if rec is None:
                    return _error(404, "NONEXISTENT_ID", f"The record instance does not exist ({rid}).")
                external_id = rec.external_id or ""
            else:
                return _error(405, "INVALID_REQUEST", f"{method} {path} not supported")
            if not external_id:
                return _error(400, "USER_ERROR", "the sandbox stores REST records by externalId")
            if rtype in REST_TYPES:  # one record for both APIs: stored SOAP-shaped, written by the same rules
                replace = {n.strip() for v in parse_qs(query).get("replace", []) for n in v.split(",") if n.strip()}
                try:
                    element, xsi_type = self.rules.rest_to_element(rtype, data, replace)
                    rec, _ = self.store.upsert(rtype, external_id,
                                               lambda r: self.rules.apply(r, element, xsi_type))
                except RecordRefused as exc:
                    return _error(400, exc.code, exc.message)
            else:
                rec, _ = self.store.upsert(rtype, external_id, lambda r: r.fields.update(
                    {k: v for k, v in data.items() if k != "externalId"}))
            return RestReply(204, b"", {"Location": f"{base}/services/rest/record/v1/{rtype}/{rec.internal_id}"})
        return _error(405, "INVALID_REQUEST", f"{method} {path} not supported")

    def _lookup(self, rtype: str, rid: str) -> StoredRecord | None:
        if rid.startswith("eid:"):
            return self.store.get(rtype, external_id=rid[4:])
        return self.store.get(rtype, internal_id=rid)

    def _render(self, rec: StoredRecord, base: str, query: str) -> dict:
        expand = parse_qs(query).get("expandSubResources", ["false"])[0] == "true"
        if rec.xsi_type is not None:
            return self.rules.to_json(rec, expand=expand, base=base)
        out: dict = {"links": [{"rel": "self", "href": f"{base}/services/rest/record/v1/{rec.record_type}/"
                                                       f"{rec.internal_id}"}],
                     "id": rec.internal_id, "externalId": rec.external_id}
        for key, value in rec.fields.items():
            if isinstance(value, dict) and "items" in value and not expand:
                out[key] = {"links": [{"rel": "self", "href": f"{base}/services/rest/record/v1/"
                                                              f"{rec.record_type}/{rec.internal_id}/{key}"}]}
            else:
                out[key] = value
        return out

    def _suiteql(self, query: str, headers: dict[str, str], body: bytes) -> RestReply:
        if headers.get("prefer", "").lower() != "transient":
            return _error(400, "USER_ERROR", "SuiteQL requires the header 'Prefer: transient'")
        try:
            q = jsonexact.loads(body).get("q", "")
        except (ValueError, AttributeError):
            return _error(400, "INVALID_CONTENT", "body must be {\"q\": \"SELECT ...\"}")
        m = _SUITEQL.match(q or "")
        if not m:
            return _error(400, "INVALID_PARAMETER",
                          "the sandbox supports SELECT cols FROM transaction WHERE field = '...' [AND type = '...']")
        params = parse_qs(query)
        limit = max(1, min(int(params.get("limit", ["1000"])[0]), 1000))
        offset = max(0, int(params.get("offset", ["0"])[0]))
        conditions: list[tuple[str, str]] = []
        for part in _AND.split(m.group("where")):
            cm = _CONDITION.match(part)
            im = _TYPE_IN.match(part)
            if im:  # type IN ('VendBill', 'VendCred'): one condition per listed type, any may match
                conditions.append(("type", ",".join(v.strip().strip("'") for v in im.group("values").split(","))))
                continue
            if not cm:
                return _error(400, "INVALID_PARAMETER", f"unsupported SuiteQL condition {part.strip()!r}")
            conditions.append((cm.group("field").lower(), cm.group("value").replace("''", "'")))
        rtypes: set[str] | None = None
        wanted = []
        for fld, value in conditions:
            if fld == "type":
                rtypes = {_SUITEQL_TYPES.get(v.lower(), v) for v in value.split(",")}
            else:
                wanted.append((fld, value))
        codes = {rt: code for code, rt in _SUITEQL_CODES.items()}
        cols = [c.strip().lower() for c in m.group("cols").split(",")]
        rows = []
        for rec in self.store.all():
            if rtypes is not None and rec.record_type not in rtypes:
                continue
            flat = self._render(rec, "", "expandSubResources=false") if rec.xsi_type is not None else rec.fields
            lowered = {k.lower(): v for k, v in flat.items()}
            lowered.update({"id": rec.internal_id, "externalid": rec.external_id,
                            "type": codes.get(rec.record_type, rec.record_type)})
            if any(str(_suiteql_value(lowered.get(fld))) != value for fld, value in wanted):
                continue
            row = {k: v for k, v in lowered.items() if not isinstance(v, dict | list)} if cols == ["*"] else {
                c: lowered.get(c) for c in cols}
            rows.append({"links": [], **{k: _suiteql_value(v) for k, v in row.items()}})
        page = rows[offset: offset + limit]
        out = {"links": [], "count": len(page), "hasMore": offset + limit < len(rows), "items": page,
               "offset": offset, "totalResults": len(rows)}
        return RestReply(200, jsonexact.dumps(out).encode(), {"Content-Type": "application/vnd.oracle.resource+json"})


def _suiteql_value(v: object) -> object:
    # SuiteQL returns strings for every column, booleans as 'T'/'F'
    if isinstance(v, bool):
        return "T" if v else "F"
    return None if v is None else str(v)
