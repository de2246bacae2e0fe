"""Bank files as a bank writes them, for recon scenarios: camt.053 statements and camt.054 advices (v08, valid
against the official XSDs), built from entry descriptions so each scenario says what the bank booked."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from connectors.psp.xsd import validation_errors
from vgos.money import minor_to_decimal


@dataclass
class Tx:
    """One payment line inside an entry (TxDtls)."""

    e2e: str | None
    amount: int | None = None
    payee: str | None = None
    bank_ref: str | None = None
    return_code: str | None = None
    returned: bool = False
    pmtinf: str | None = None
    instructed: tuple[int, str] | None = None


@dataclass
class Entry:
    """One booking on the account (Ntry)."""

    amount: int
    direction: str = "DBIT"
    status: str = "BOOK"
    reversal: bool = False
    bank_ref: str | None = None
    date: str = "2025-09-24"
    batch: tuple[str, str] | None = None  # (MsgId, PmtInfId) of a batch booking
    n_txs: int | None = None
    txs: list[Tx] = field(default_factory=list)
    charges: int = 0
    charges_included: bool = False
    subfamily: str = "ESCT"


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    e = etree.SubElement(parent, f"{{{ns}}}{tag}", **attrs)
    if text is not None:
        e.text = text
    return e


def _amt(parent: etree._Element, ns: str, tag: str, minor: int, ccy: str) -> None:
    _el(parent, ns, tag, minor_to_decimal(minor, ccy), Ccy=ccy)


def statement(entries: list[Entry], *, message: str = "camt053", ccy: str = "USD", stmt_id: str = "STMT-1",
              iban: str = "CH9300762011623852957", opening: int = 10_000_000_00, copy: str | None = None,
              created: str = "2025-09-24T18:00:00Z", totals: dict | None = None, closing: int | None = None,
              with_summary: bool = True) -> bytes:
    """A camt.053 statement (balances and totals computed from the booked entries unless overridden) or a
    camt.054 advice of the given entries; validated against the XSD."""
    version = {"camt053": "camt.053.001.08", "camt054": "camt.054.001.08"}[message]
    ns = f"urn:iso:std:iso:20022:tech:xsd:{version}"
    root = etree.Element(f"{{{ns}}}Document", nsmap={None: ns})
    body = _el(root, ns, "BkToCstmrStmt" if message == "camt053" else "BkToCstmrDbtCdtNtfctn")
    hdr = _el(body, ns, "GrpHdr")
    _el(hdr, ns, "MsgId", f"MSG-{stmt_id}")
    _el(hdr, ns, "CreDtTm", created)
    st = _el(body, ns, "Stmt" if message == "camt053" else "Ntfctn")
    _el(st, ns, "Id", stmt_id)
    _el(st, ns, "CreDtTm", created)
    if copy:
        _el(st, ns, "CpyDplctInd", copy)
    _el(_el(_el(st, ns, "Acct"), ns, "Id"), ns, "IBAN", iban)
    booked = [e for e in entries if e.status == "BOOK"]
    net = sum(e.amount if e.direction == "CRDT" else -e.amount for e in booked)
    if message == "camt053":
        for code, value in (("OPBD", opening), ("CLBD", opening + net if closing is None else closing)):
            bal = _el(st, ns, "Bal")
            _el(_el(_el(bal, ns, "Tp"), ns, "CdOrPrtry"), ns, "Cd", code)
            _amt(bal, ns, "Amt", abs(value), ccy)
            _el(bal, ns, "CdtDbtInd", "CRDT" if value >= 0 else "DBIT")
            _el(_el(bal, ns, "Dt"), ns, "Dt", created[:10])
    if with_summary:
        t = {"n": len(entries), "sum": sum(e.amount for e in entries), **(totals or {})}
        tot = _el(_el(st, ns, "TxsSummry"), ns, "TtlNtries")
        _el(tot, ns, "NbOfNtries", str(t["n"]))
        _el(tot, ns, "Sum", minor_to_decimal(t["sum"], ccy))
    for e in entries:
        n = _el(st, ns, "Ntry")
        _amt(n, ns, "Amt", e.amount, ccy)
        _el(n, ns, "CdtDbtInd", e.direction)
        if e.reversal:
            _el(n, ns, "RvslInd", "true")
        _el(_el(n, ns, "Sts"), ns, "Cd", e.status)
        _el(_el(n, ns, "BookgDt"), ns, "Dt", e.date)
        _el(_el(n, ns, "ValDt"), ns, "Dt", e.date)
        if e.bank_ref:
            _el(n, ns, "AcctSvcrRef", e.bank_ref)
        fam = _el(_el(_el(n, ns, "BkTxCd"), ns, "Domn"), ns, "Cd", "PMNT").getparent()
        f = _el(fam, ns, "Fmly")
        _el(f, ns, "Cd", "ICDT")
        _el(f, ns, "SubFmlyCd", e.subfamily)
        if e.charges:
            ch = _el(n, ns, "Chrgs")
            _amt(ch, ns, "TtlChrgsAndTaxAmt", e.charges, ccy)
            rec = _el(ch, ns, "Rcrd")
            _amt(rec, ns, "Amt", e.charges, ccy)
            _el(rec, ns, "CdtDbtInd", "DBIT")
            _el(rec, ns, "ChrgInclInd", "true" if e.charges_included else "false")
        if e.batch or e.txs:
            d = _el(n, ns, "NtryDtls")
            if e.batch:
                b = _el(d, ns, "Btch")
                _el(b, ns, "MsgId", e.batch[0])
                _el(b, ns, "PmtInfId", e.batch[1])
                _el(b, ns, "NbOfTxs", str(e.n_txs if e.n_txs is not None else len(e.txs)))
            for tx in e.txs:
                td = _el(d, ns, "TxDtls")
                refs = _el(td, ns, "Refs")
                if e.batch:
                    _el(refs, ns, "MsgId", e.batch[0])
                if tx.bank_ref:
                    _el(refs, ns, "AcctSvcrRef", tx.bank_ref)
                if tx.pmtinf or e.batch:
                    _el(refs, ns, "PmtInfId", tx.pmtinf or e.batch[1])
                _el(refs, ns, "EndToEndId", tx.e2e or "NOTPROVIDED")
                if tx.amount is not None:
                    _amt(td, ns, "Amt", tx.amount, ccy)
                    _el(td, ns, "CdtDbtInd", e.direction)
                if tx.instructed:
                    _amt(_el(_el(td, ns, "AmtDtls"), ns, "InstdAmt"), ns, "Amt", tx.instructed[0], tx.instructed[1])
                if tx.payee:
                    p = _el(td, ns, "RltdPties")
                    party = "Cdtr" if e.direction == "DBIT" and not e.reversal else "Dbtr"
                    _el(_el(_el(p, ns, party), ns, "Pty"), ns, "Nm", "Payee")
                    acct = _el(_el(p, ns, f"{party}Acct"), ns, "Id")
                    if re.fullmatch(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}", tx.payee):
                        _el(acct, ns, "IBAN", tx.payee)
                    else:
                        _el(_el(acct, ns, "Othr"), ns, "Id", tx.payee)
                if tx.returned or tx.return_code:
                    r = _el(td, ns, "RtrInf")
                    if tx.return_code:
                        _el(_el(r, ns, "Rsn"), ns, "Cd", tx.return_code)
                    else:
                        _el(r, ns, "AddtlInf", "returned by the beneficiary bank")
    errors = validation_errors(version, root)
    assert not errors, errors
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _routing_check(r8: str) -> str:
    w = (3, 7, 1) * 3
    return str((10 - sum(int(d) * w[i] for i, d in enumerate(r8)) % 10) % 10)


def nacha_returns(returns: list[tuple[str, int, str, str]], *, effective: str = "250926",
                  company_id: str = "1234567890") -> bytes:
    """An ACH return file as the ODFI delivers it: per return (individual id, amount in cents, 'routing/account',
    R-code) a code-21 entry (returned checking credit) with its addenda 99; controls computed."""
    def rec(s: str) -> str:
        assert len(s) == 94, (len(s), s)
        return s

    odfi = "09140060"
    lines = [rec(f"101 {odfi}{_routing_check(odfi)} 0000000002509261200A094101{'FIRST BANK':<23}{'PLATFORM':<23}"
                 f"{'':8}")]
    lines.append(rec(f"5220{'PLATFORM':<16}{'':20}{company_id}PPD{'PAYOUT':<10}{'':6}{effective}{'':3}1{odfi}"
                     "0000001"))
    entry_hash = total_cr = 0
    for n, (ind_id, cents, payee, code) in enumerate(returns, 1):
        routing, account = payee.split("/")
        rdfi = routing[:8]
        entry_hash += int(rdfi)
        total_cr += cents
        trace = f"{odfi}{n:07d}"
        lines.append(rec(f"621{rdfi}{routing[8]}{account:<17}{cents:010d}{ind_id:<15}{'PAYEE':<22}  1{trace}"))
        lines.append(rec(f"799{code}{'09999999' + f'{n:07d}'}{'':6}{rdfi}{'':44}{trace}"))
    count = 2 * len(returns)
    lines.append(rec(f"8220{count:06d}{entry_hash % 10**10:010d}{0:012d}{total_cr:012d}{company_id}{'':19}{'':6}"
                     f"{odfi}0000001"))
    blocks = -(-(len(lines) + 1) // 10)
    lines.append(rec(f"9{1:06d}{blocks:06d}{count:08d}{entry_hash % 10**10:010d}{0:012d}{total_cr:012d}{'':39}"))
    lines += ["9" * 94] * (blocks * 10 - len(lines))
    return ("\n".join(lines) + "\n").encode()
