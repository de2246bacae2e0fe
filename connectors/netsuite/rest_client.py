"""NetSuite REST record API client (OAuth 1.0a HMAC-SHA256) with SuiteQL paging for read-back."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import requests

from vgos.money import decimal_to_minor, minor_to_decimal

from . import jsonexact
from .auth import oauth1_auth
from .config import NetSuiteConfig
from .dates import date_from_rest, parse_day
from .model import BILL, CREDIT, BillSpec, ExpenseLine, RemoteBill, WriteResult, field_id
from .retry import NetSuiteError, RetryPolicy, TransientFault
from .transport import ExhaustedWrites, HttpTransport, status_fault


class RestClient:
    """Same operations as SuiteTalkClient, over REST: PUT by externalId is the upsert."""

    def __init__(self, config: NetSuiteConfig, *, retry: RetryPolicy | None = None) -> None:
        self.config = config
        self.retry = retry or RetryPolicy.from_config(config)
        self.retries = 0
        self.http = HttpTransport(connect_timeout_s=config.connect_timeout_s, read_timeout_s=config.read_timeout_s,
                                  pool_size=config.concurrency or 10, configure=self._configure)
        self._exhausted = ExhaustedWrites()
        self._lock = threading.Lock()
        self.calls = 0

    def _configure(self, sess: requests.Session) -> None:
        sess.auth = oauth1_auth(self.config.credentials)
        sess.headers.update({"X-NetSuite-PropertyNameValidation": "error",
                             "Content-Type": "application/json", "Accept": "application/json"})

    def _count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        """One signed request (fresh nonce per attempt); transient faults are retried with backoff.

        Safe to repeat: GET and SuiteQL read, and writes are PUT by externalId, an upsert (see retry.py).
        """
        return self.retry.call(lambda: self._request_once(method, path, body, **kwargs), self._count_retry)

    def _request_once(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        with self._lock:
            self.calls += 1
        data = jsonexact.dumps(body).encode() if body is not None else None
        resp = self.http.send(method, f"{self.config.rest_url}{path}", data=data, **kwargs)
        fault = status_fault(resp)
        if resp.status_code >= 400 and b"SSS_REQUEST_LIMIT_EXCEEDED" in resp.content[:2000]:
            raise TransientFault("SSS_REQUEST_LIMIT_EXCEEDED", f"HTTP {resp.status_code}",
                                 fault.retry_after if fault else None)
        if fault is not None:
            raise fault
        return resp

    def governance_concurrency(self) -> int | None:
        """REST offers no governance endpoint: None, so the configured concurrency (or the default) applies."""
        return None

    def bill_body(self, spec: BillSpec) -> dict[str, Any]:
        """REST JSON of a vendor bill; amounts are exact Decimal literals."""
        fids = self.config.field_ids
        items = []
        for line in spec.lines:
            item: dict[str, Any] = {"account": {"id": line.account},
                                    "amount": Decimal(minor_to_decimal(line.amount_minor, spec.currency))}
            if line.memo:
                item["memo"] = line.memo
            if line.department:
                item["department"] = {"id": line.department}
            if line.class_:
                item["class"] = {"id": line.class_}
            items.append(item)
        body: dict[str, Any] = {
            "entity": {"id": spec.vendor_id}, "tranDate": parse_day(spec.tran_date).isoformat(),
            "currency": {"id": spec.currency_id}, "memo": spec.memo, "expense": {"items": items},
            fids["window_id"]: spec.window_id, fids["output_digest"]: spec.output_digest,
            fids["transcript_url"]: spec.transcript_url, fids["provider_batch_id"]: spec.provider_batch_id or "",
        }
        if spec.tenant_id:
            body[field_id(fids, "tenant_id")] = spec.tenant_id
        if spec.record_type == BILL:  # payment control: holds are sent only when the spec sets them
            body[fids["eligible_to_pay"]] = spec.eligible_to_pay
            if spec.payment_hold is not None:
                body["paymentHold"] = spec.payment_hold
            if spec.vgos_hold is not None:
                body[field_id(fids, "vgos_hold")] = spec.vgos_hold
        if spec.subsidiary_id:
            body["subsidiary"] = {"id": spec.subsidiary_id}
        return body

    def upsert_bill(self, spec: BillSpec) -> WriteResult:
        """PUT /record/v1/vendorBill/eid:<externalId> (create or replace); a bill already retried is not re-sent."""
        noted = self._exhausted.take(spec.external_id)
        if noted is not None:
            return noted
        # replace=expense: the sent lines replace the bill's expense lines (without it NetSuite appends them)
        resp = self.request("PUT", f"/record/v1/{spec.record_type}/eid:{spec.external_id}?replace=expense",
                            self.bill_body(spec))
        if resp.status_code in (200, 204):
            location = resp.headers.get("Location", "")
            return WriteResult(spec.external_id, True, location.rsplit("/", 1)[-1] or None)
        code, message = _error_detail(resp)
        return WriteResult(spec.external_id, False, None, code, message)

    def upsert_bills(self, specs: Sequence[BillSpec]) -> list[WriteResult]:
        """REST has no list upsert: one PUT per bill, each retried alone; one bill's failure does not stop the rest."""
        self._exhausted.reset()
        results: list[WriteResult] = []
        for spec in specs:
            try:
                results.append(self.upsert_bill(spec))
            except NetSuiteError as exc:
                failed = WriteResult(spec.external_id, False, None, exc.code, str(exc), request_failed=True)
                if isinstance(exc.__cause__, TransientFault):
                    self._exhausted.note(failed)
                results.append(failed)
        return results

    def suiteql(self, query: str, page_size: int = 1000) -> list[dict[str, Any]]:
        """Run a SuiteQL query, following limit/offset pages until hasMore is false."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            resp = self.request("POST", "/query/v1/suiteql", {"q": query},
                                params={"limit": page_size, "offset": offset}, headers={"Prefer": "transient"})
            if resp.status_code != 200:
                raise NetSuiteError(*_error_detail(resp))
            page = jsonexact.loads(resp.content)
            rows.extend(page.get("items", []))
            if not page.get("hasMore"):
                return rows
            offset += len(page.get("items", [])) or page_size

    def find_window_bills(self, window_id: str, currency: str, tenant_id: str | None = None) -> list[RemoteBill]:
        """SuiteQL for the tenant's bill and credit ids of the window, then each record with its expense lines."""
        def quoted(value: str) -> str:
            return "'" + value.replace("'", "''") + "'"

        where = f"{self.config.field_ids['window_id']} = {quoted(window_id)}"
        if tenant_id is not None:  # scoped by tenant: another tenant's bills of the same window are not ours
            where += f" AND {field_id(self.config.field_ids, 'tenant_id')} = {quoted(tenant_id)}"
        rows = self.suiteql(f"SELECT id, externalid, type FROM transaction WHERE {where} "
                            "AND type IN ('VendBill', 'VendCred')", self.config.page_size)
        bills = []
        for row in rows:
            record_type = CREDIT if row.get("type") == "VendCred" else BILL
            resp = self.request("GET", f"/record/v1/{record_type}/{row['id']}", params={"expandSubResources": "true"})
            if resp.status_code != 200:
                raise NetSuiteError(*_error_detail(resp))
            bills.append(self.parse_bill(jsonexact.loads(resp.content), currency, record_type))
        return bills

    def parse_bill(self, data: dict[str, Any], currency: str, record_type: str = BILL) -> RemoteBill:
        """RemoteBill from REST JSON; amounts converted exactly from their decimal literals."""
        fids = self.config.field_ids

        def ref(name: str) -> str | None:
            v = data.get(name)
            return str(v["id"]) if isinstance(v, dict) and "id" in v else None

        lines = tuple(
            ExpenseLine("", str(it.get("account", {}).get("id", "")),
                        decimal_to_minor(str(it.get("amount", "0")), currency),
                        (it.get("department") or {}).get("id"), (it.get("class") or {}).get("id"), it.get("memo"))
            for it in (data.get("expense") or {}).get("items", [])
        )
        eligible = data.get(fids["eligible_to_pay"])
        vgos_hold = data.get(field_id(fids, "vgos_hold"))
        return RemoteBill(
            internal_id=str(data.get("id", "")), external_id=data.get("externalId"), vendor_id=ref("entity"),
            tran_date=date_from_rest(data.get("tranDate")), currency_id=ref("currency"),
            payment_hold=data.get("paymentHold"),
            lines=lines, window_id=data.get(fids["window_id"]), output_digest=data.get(fids["output_digest"]),
            transcript_url=data.get(fids["transcript_url"]),
            provider_batch_id=data.get(fids["provider_batch_id"]),
            eligible_to_pay=None if eligible is None else bool(eligible),
            record_type=record_type, vgos_hold=None if vgos_hold is None else bool(vgos_hold),
            tenant_id=data.get(field_id(fids, "tenant_id")),
        )


def _error_detail(resp: requests.Response) -> tuple[str, str]:
    try:
        detail = jsonexact.loads(resp.content)["o:errorDetails"][0]
        return str(detail.get("o:errorCode", f"HTTP_{resp.status_code}")), str(detail.get("detail", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP_{resp.status_code}", resp.text[:200]


def make_client(config: NetSuiteConfig, retry: RetryPolicy | None = None):  # -> SuiteTalkClient | RestClient
    """The transport chosen by configuration (NETSUITE_TRANSPORT=soap|rest)."""
    if config.transport == "rest":
        return RestClient(config, retry=retry)
    from .soap_client import SuiteTalkClient

    return SuiteTalkClient(config, retry=retry)
