"""`vgos netsuite doctor`: check an account is set up for VGOS and say, per problem, what to fix.

It asks NetSuite over SOAP, with calls a real account answers: `getServerTime` (login), `getCustomizationId` +
`getList` of `transactionBodyCustomField` (the five fields, their ids and types), `getList` of the vendors of the
vendor map, and of the accounts, departments, classes, subsidiary and currencies of the tenant's GL mapping.
Nothing is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .config import ALL_FIELD_IDS, FIELD_ENV
from .retry import NetSuiteError

SDF = "connectors/netsuite/sdf"
# per VGOS value: field types that hold it, the type the SDF project creates (as the UI names it)
FIELD_TYPES: dict[str, tuple[frozenset[str], str]] = {
    "window_id": (frozenset({"_freeFormText", "_longText", "_textArea"}), "Free-Form Text"),
    "output_digest": (frozenset({"_freeFormText", "_longText", "_textArea"}), "Free-Form Text"),
    "transcript_url": (frozenset({"_hyperlink", "_longText", "_textArea"}), "Hyperlink"),
    "provider_batch_id": (frozenset({"_freeFormText", "_longText", "_textArea"}), "Free-Form Text"),
    "eligible_to_pay": (frozenset({"_checkBox"}), "Check Box"),
    "tenant_id": (frozenset({"_freeFormText", "_longText", "_textArea"}), "Free-Form Text"),
    "vgos_hold": (frozenset({"_checkBox"}), "Check Box"),
}
GET_LIST_CHUNK = 100


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the account, and how to fix it."""

    subject: str
    issue: str
    fix: str

    def line(self) -> str:
        """The one line doctor prints."""
        return f"PROBLEM {self.subject}: {self.issue}. Fix: {self.fix}"


@dataclass
class DoctorReport:
    """Checks that passed and problems found; ok when there are no problems."""

    passed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def gl_references(gl_mapping: Any) -> dict[str, dict[str, list[str]]]:
    """Internal ids the GL mapping posts to, by record type, each with the mapping keys that name it."""
    out: dict[str, dict[str, list[str]]] = {"account": {}, "department": {}, "classification": {}}

    def add(kind: str, iid: Any, where: str) -> None:
        if iid is not None and str(iid).strip():
            out[kind].setdefault(str(iid), []).append(where)

    def visit(value: Any, where: str) -> None:
        if hasattr(value, "account") and dataclasses.is_dataclass(value):  # an AccountRef
            add("account", value.account, where)
            add("department", getattr(value, "department", None), f"{where}.department")
            add("classification", getattr(value, "class_", None), f"{where}.class")
        elif isinstance(value, dict):
            for k, v in value.items():
                visit(v, f"{where}.{k}" if where else str(k))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                visit(v, f"{where}[{i}]")

    if dataclasses.is_dataclass(gl_mapping):
        for f in dataclasses.fields(gl_mapping):
            if f.name not in ("sources", "currencies", "subsidiary"):
                visit(getattr(gl_mapping, f.name), f.name)
    return out


def _bool(rec: etree._Element, name: str) -> bool | None:
    text = rec.findtext(f"{{*}}{name}")
    return None if text is None else text.strip() == "true"


def _ref(rec: etree._Element, name: str) -> str | None:
    el = rec.find(f"{{*}}{name}")
    return el.get("internalId") if el is not None else None


class Doctor:
    """Runs the checks with a SuiteTalkClient (any object with call() and type())."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.config = client.config

    # -- NetSuite reads ---------------------------------------------------------------------------------
    def _get_list(self, record_type: str, ids: Sequence[str]) -> dict[str, etree._Element]:
        """getList by internalId; records that do not exist are absent from the result."""
        ref = self.client.type("core", "RecordRef")
        found: dict[str, etree._Element] = {}
        for i in range(0, len(ids), GET_LIST_CHUNK):
            chunk = ids[i: i + GET_LIST_CHUNK]
            resp = self.client.call("getList", baseRef=[ref(internalId=iid, type=record_type) for iid in chunk])
            for rr in resp.iter("{*}readResponse"):
                status, rec = rr.find("{*}status"), rr.find("{*}record")
                if status is not None and status.get("isSuccess") == "true" and rec is not None:
                    found[rec.get("internalId", "")] = rec
        return found

    # -- checks -----------------------------------------------------------------------------------------
    def check_login(self, report: DoctorReport) -> bool:
        """getServerTime: credentials, role and endpoint in one call."""
        try:
            resp = self.client.call("getServerTime")
        except NetSuiteError as exc:
            report.problems.append(Problem(
                "login", f"{exc.code}: {str(exc)[:200]}",
                "check NETSUITE_ACCOUNT and the four token values (NETSUITE_CONSUMER_KEY/SECRET, NETSUITE_TOKEN_ID/"
                "SECRET); the token must be issued for the VGOS integration record to a user with the VGOS "
                "Integration role, which needs 'Log In Using Access Tokens' and 'SOAP Web Services'"))
            return False
        report.passed.append(f"login as {self.config.credentials.account} at {self.config.soap_url} (server time "
                             f"{resp.findtext('{*}getServerTimeResult/{*}serverTime')})")
        return True

    def check_fields(self, report: DoctorReport) -> None:
        """The seven transaction body fields exist under the configured ids, with a type that holds the value."""
        resp = self.client.call("getCustomizationId",
                                customizationType={"getCustomizationType": "transactionBodyCustomField"},
                                includeInactives=True)
        ids = {(r.get("scriptId") or "").lower(): r.get("internalId", "")
               for r in resp.iter("{*}customizationRef")}
        fids = self.config.field_ids
        present = {key: ids[sid.lower()] for key, sid in fids.items() if sid.lower() in ids}
        definitions: dict[str, etree._Element] = {}
        if present:
            cref = self.client.type("core", "CustomizationRef")
            resp = self.client.call("getList", baseRef=[
                cref(internalId=iid, scriptId=fids[key], type="transactionBodyCustomField")
                for key, iid in present.items()])
            for rr in resp.iter("{*}readResponse"):
                rec = rr.find("{*}record")
                if rec is not None:
                    definitions[(rec.findtext("{*}scriptId") or "").lower()] = rec
        for key in ALL_FIELD_IDS:
            sid = fids[key]
            types, type_label = FIELD_TYPES[key]
            subject = f"field {sid}"
            if key not in present:
                report.problems.append(Problem(
                    subject, f"no transaction body field with this id exists (VGOS writes {key} there)",
                    f"deploy the SDF project in {SDF} (suitecloud project:deploy), or create it in Customization > "
                    f"Lists, Records & Fields > Transaction Body Fields: ID {sid[len('custbody'):]}, type "
                    f"{type_label}, Applies To Purchase, Store Value checked; or set {FIELD_ENV[key]} to the id "
                    "of the field you use"))
                continue
            rec = definitions.get(sid.lower())
            if rec is None:
                report.problems.append(Problem(subject, "its definition cannot be read",
                                               "give the VGOS role 'Custom Body Fields' (View)"))
                continue
            ftype = rec.findtext("{*}fieldType") or "?"
            before = len(report.problems)
            if ftype not in types:
                report.problems.append(Problem(
                    subject, f"has type {ftype}, which cannot hold {key}",
                    f"recreate it as {type_label} (NetSuite cannot change a field's type in place), or set "
                    f"{FIELD_ENV[key]} to a field of that type"))
            if _bool(rec, "storeValue") is False:
                report.problems.append(Problem(subject, "'Store Value' is unchecked, so NetSuite discards what "
                                                        "VGOS writes", "check Store Value on the field"))
            if _bool(rec, "bodyPurchase") is False:
                report.problems.append(Problem(subject, "does not apply to purchase transactions (vendor bills)",
                                               "check Applies To > Purchase on the field"))
            if len(report.problems) == before:
                report.passed.append(f"{subject} ({key}, {ftype})")

    def check_vendors(self, report: DoctorReport, vendor_map: dict[str, str], subsidiary: str | None,
                      currency_ids: dict[str, str]) -> None:
        """Every mapped vendor exists, is active, is in the GL subsidiary and can be billed in the currencies."""
        by_vendor: dict[str, list[str]] = {}
        for pid, vid in vendor_map.items():
            by_vendor.setdefault(vid, []).append(pid)
        found = self._get_list("vendor", sorted(by_vendor))
        bad = 0
        for vid, pids in sorted(by_vendor.items()):
            who = f"vendor {vid} (principal {', '.join(sorted(pids)[:3])}{', ...' if len(pids) > 3 else ''})"
            rec = found.get(vid)
            if rec is None:
                bad += 1
                report.problems.append(Problem(who, "does not exist",
                                               "map the principal to the vendor's internal id in the vendor map, "
                                               "or create the vendor"))
                continue
            issues = []
            if _bool(rec, "isInactive"):
                issues.append(Problem(who, "is inactive", "reactivate the vendor, or map the principal to an "
                                                          "active vendor"))
            vendor_sub = _ref(rec, "subsidiary")
            if subsidiary and vendor_sub and vendor_sub != subsidiary:
                issues.append(Problem(who, f"belongs to subsidiary {vendor_sub}; the GL mapping posts to "
                                           f"subsidiary {subsidiary}",
                                      f"assign the vendor to subsidiary {subsidiary}, or correct subsidiary in the "
                                      "tenant's GL mapping"))
            held = {_ref(rec, "currency")} | {el.get("internalId") for el in
                                              rec.iterfind("{*}currencyList/{*}vendorCurrency/{*}currency")}
            for code, cid in sorted(currency_ids.items()):
                if cid not in held:
                    issues.append(Problem(who, f"cannot be billed in {code} (currency {cid})",
                                          f"add {code} to the vendor's currencies (Financial subtab)"))
            bad += bool(issues)
            report.problems.extend(issues)
        if by_vendor and not bad:
            report.passed.append(f"{len(by_vendor)} vendor(s) of the vendor map: active, subsidiary "
                                 f"{subsidiary or '-'}, currencies {', '.join(sorted(currency_ids)) or '-'}")

    def check_gl(self, report: DoctorReport, gl_mapping: Any, currencies: Iterable[str]) -> dict[str, str]:
        """Accounts, departments, classes, subsidiary and currencies of the GL mapping exist and are active."""
        refs = gl_references(gl_mapping)
        subsidiary = getattr(gl_mapping, "subsidiary", None)
        source = (getattr(gl_mapping, "sources", None) or ("the GL mapping",))[-1]
        what = {"account": "account", "department": "department", "classification": "class"}
        for record_type, ids in refs.items():
            found = self._get_list(record_type, sorted(ids))
            before = len(report.problems)
            for iid, keys in sorted(ids.items()):
                subject = f"{what[record_type]} {iid} ({', '.join(keys[:3])} in {source})"
                rec = found.get(iid)
                if rec is None:
                    report.problems.append(Problem(subject, "does not exist",
                                                   f"put the internal id of an existing {what[record_type]} in the "
                                                   "GL mapping"))
                    continue
                if _bool(rec, "isInactive"):
                    report.problems.append(Problem(subject, "is inactive", f"reactivate the {what[record_type]} or "
                                                                           "map another"))
                subs = {el.get("internalId") for el in rec.iterfind("{*}subsidiaryList/{*}recordRef")}
                if subsidiary and subs and subsidiary not in subs and not _bool(rec, "includeChildren"):
                    report.problems.append(Problem(subject, f"is not available in subsidiary {subsidiary}",
                                                   f"add subsidiary {subsidiary} to its subsidiaries"))
            if ids and len(report.problems) == before:
                report.passed.append(f"{len(ids)} {what[record_type]}(s) of the GL mapping exist and are active")
        if subsidiary:
            rec = self._get_list("subsidiary", [subsidiary]).get(subsidiary)
            if rec is None or _bool(rec, "isInactive"):
                report.problems.append(Problem(f"subsidiary {subsidiary} (subsidiary in {source})",
                                               "does not exist" if rec is None else "is inactive",
                                               "set subsidiary in the GL mapping to an active subsidiary's "
                                               "internal id"))
            else:
                report.passed.append(f"subsidiary {subsidiary}")
        mapped = getattr(gl_mapping, "currencies", {}) or {}
        currency_ids: dict[str, str] = {}
        for code in currencies:
            if code not in mapped:
                report.problems.append(Problem(f"currency {code}", f"has no NetSuite internal id in {source}",
                                               f"add currencies: {{{code}: <internal id>}} to the GL mapping"))
            else:
                currency_ids[code] = str(mapped[code])
        found = self._get_list("currency", sorted(set(currency_ids.values())))
        for code, cid in sorted(currency_ids.items()):
            rec = found.get(cid)
            if rec is None or _bool(rec, "isInactive"):
                report.problems.append(Problem(f"currency {code} (currency id {cid} in {source})",
                                               "does not exist" if rec is None else "is inactive",
                                               "map the ISO code to the internal id of an active currency "
                                               "(Lists > Accounting > Currencies)"))
            else:
                report.passed.append(f"currency {code} = {cid}")
        return currency_ids

    def run(self, *, vendor_map: dict[str, str] | None, gl_mapping: Any, currencies: Iterable[str]) -> DoctorReport:
        """All checks; stops after login when login fails (every other answer would be the same refusal)."""
        report = DoctorReport()
        if not self.check_login(report):
            return report
        self.check_fields(report)
        currency_ids = self.check_gl(report, gl_mapping, list(currencies))
        if vendor_map:
            self.check_vendors(report, vendor_map, getattr(gl_mapping, "subsidiary", None), currency_ids)
        return report
