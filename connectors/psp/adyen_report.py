"""Adyen Settlement details report into receipts (one row per booking in a settlement batch).

Amounts come from Net Debit (NC) / Net Credit (NC) in the Net Currency: unsigned, the column gives the direction,
and the net already has the row's fees taken off (Commission, Markup, Scheme Fees, Interchange, Payment Fees),
so receipts carry fee_included=True. A MerchantPayout row pays the batch's balance to the merchant's bank account
(level BATCH); a batch that closes (MerchantPayout, or a Balancetransfer to the next batch) nets to zero, and a
row with gross columns in the same currency satisfies net = gross - fees. Both are checked and flagged.
"""

from __future__ import annotations

import re
from collections import defaultdict

from connectors.psp.psp_reports import csv_table, iso_stamp, to_currency, to_minor
from connectors.psp.receipts import BOOKED, BOOKING, FEE, Flag, Receipt, ReportError
from vgos.money import minor_to_decimal

REQUIRED = ("Psp Reference", "Type", "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Batch Number")
FEE_COLUMNS = ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Fees (NC)")
FEE_TYPES = frozenset({"Fee", "InvoiceDeduction", "PaymentCost", "MiscCosts"})
# abbreviations Adyen writes in TimeZone columns
TZ_OFFSETS = {"UTC": "Z", "GMT": "Z", "WET": "+00:00", "WEST": "+01:00", "BST": "+01:00", "CET": "+01:00",
              "CEST": "+02:00", "EET": "+02:00", "EEST": "+03:00", "EST": "-05:00", "EDT": "-04:00",
              "CST": "-06:00", "CDT": "-05:00", "MST": "-07:00", "MDT": "-06:00", "PST": "-08:00", "PDT": "-07:00",
              "AEST": "+10:00", "AEDT": "+11:00", "SGT": "+08:00", "HKT": "+08:00", "JST": "+09:00"}
_CLOSING_TRANSFER = re.compile(r"\bto batch\b", re.IGNORECASE)
_RATE_ONE = re.compile(r"^1(\.0*)?$")


def _is_reversal(typ: str) -> bool:
    """Refunds, chargebacks and their reversals undo an earlier booking of the same PSP reference."""
    return typ.startswith("Refunded") or "Chargeback" in typ


def _hint(header: list[str]) -> str | None:
    if "Record Type" in header and "Main Amount" in header:
        return "an Adyen payments accounting report, not settlement details"
    if "Payout ID" in header and "Payout Amount" in header:
        return "a Checkout.com payouts report"
    return None


def adyen_receipts(data: bytes, source: str, sha: str) -> tuple[list[Receipt], list[Flag]]:
    """Receipts of an Adyen Settlement details CSV; unbalanced batches and rows are flagged."""
    header, rows = csv_table(data, REQUIRED, "adyen-settlement", _hint)
    out: list[Receipt] = []
    flags: list[Flag] = []
    batches: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)  # (batch, ccy) -> (seq, signed)
    closed: dict[tuple[str, str], int] = {}
    for n, r in rows:
        row = {h: v.strip() for h, v in zip(header, r, strict=True)}
        typ = row["Type"]
        if not typ:
            raise ReportError("REPORT_SCHEMA", "field Type: empty", n)
        ccy = to_currency(row["Net Currency"], n, "Net Currency")
        debit = to_minor(row["Net Debit (NC)"], ccy, n, "Net Debit (NC)", unsigned=True) \
            if row["Net Debit (NC)"] else 0
        credit = to_minor(row["Net Credit (NC)"], ccy, n, "Net Credit (NC)", unsigned=True) \
            if row["Net Credit (NC)"] else 0
        if debit and credit:
            raise ReportError("REPORT_SCHEMA", "both Net Debit (NC) and Net Credit (NC) are set", n)
        fee = sum(to_minor(row[c], ccy, n, c, unsigned=True) for c in FEE_COLUMNS if row.get(c))
        seq = len(out)
        flags.extend(_gross_check(row, n, seq, ccy, credit - debit, fee))
        batch = row["Batch Number"]
        batches[(batch, ccy)].append((seq, credit - debit))
        if typ == "MerchantPayout" or (typ == "Balancetransfer" and
                                       _CLOSING_TRANSFER.search(row.get("Modification Merchant Reference", ""))):
            closed.setdefault((batch, ccy), n)
        psp = row["Psp Reference"]
        reversal = _is_reversal(typ)
        if row.get("Booking Date"):
            stamp, day = iso_stamp(row["Booking Date"], TZ_OFFSETS.get(row.get("Booking Date TimeZone", "")))
        else:
            stamp, day = iso_stamp(row.get("Creation Date"), TZ_OFFSETS.get(row.get("TimeZone", "")))
        out.append(Receipt(
            provider="adyen", format="adyen-settlement", kind=FEE if typ in FEE_TYPES else BOOKING,
            level="BATCH" if typ == "MerchantPayout" else "TX",
            provider_ref=psp or row.get("Modification Reference") or None, batch_ref=batch or None,
            end_to_end_id=row.get("Merchant Reference") or None, window_ref=None, payee_ref=None,
            amount_minor=debit or credit, currency=ccy, fee_minor=fee, direction="DBIT" if debit else "CRDT",
            status=typ, reason=None, booked_at=stamp, source=f"{source}:{n}", line=n, seq=seq, raw_sha256=sha,
            booking=BOOKED, reversal=reversal, return_code=typ if reversal else None, booking_date=day,
            bank_ref=f"{psp}:{typ}" if psp else None, account=row.get("Merchant Account") or None,
            fee_included=True))
    for (batch, ccy), line in sorted(closed.items()):
        members = batches[(batch, ccy)]
        total = sum(v for _, v in members)
        if total:
            flags.append(Flag("ADYEN_BATCH_MISMATCH",
                              f"batch {batch} {ccy} is closed (line {line}) but its rows net to "
                              f"{minor_to_decimal(total, ccy)} {ccy} (credits - debits, payout included), not 0",
                              line, tuple(s for s, _ in members)))
    return out, flags


def _gross_check(row: dict[str, str], n: int, seq: int, ccy: str, net: int, fee: int) -> list[Flag]:
    """net = gross - fees when the row states a gross amount in the net currency at rate 1."""
    gd, gc = row.get("Gross Debit (GC)", ""), row.get("Gross Credit (GC)", "")
    rate = row.get("Exchange Rate", "")
    if not (gd or gc) or row.get("Gross Currency", "").upper() != ccy or not (rate == "" or _RATE_ONE.match(rate)):
        return []
    gross = (to_minor(gc, ccy, n, "Gross Credit (GC)", unsigned=True) if gc else 0) - \
        (to_minor(gd, ccy, n, "Gross Debit (GC)", unsigned=True) if gd else 0)
    if gross - fee == net:
        return []
    return [Flag("ADYEN_GROSS_MISMATCH",
                 f"line {n}: gross {minor_to_decimal(gross, ccy)} - fees {minor_to_decimal(fee, ccy)} = "
                 f"{minor_to_decimal(gross - fee, ccy)} {ccy}, but net is {minor_to_decimal(net, ccy)}", n, (seq,))]
