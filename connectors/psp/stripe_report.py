"""Stripe itemized reports (balance change from activity, payout reconciliation, payouts) into receipts.

Each row is one balance transaction on the balance the report is about (the platform, or a connected account):
the sign of `gross` gives the direction (negative: money left the balance), `fee` is charged on top of gross
(`net` = `gross` - `fee`), `reporting_category` says what moved. VGOS pays payees with Connect transfers
(connectors/psp/stripe.py) whose metadata carries end_to_end_id, provider_batch_id and window_id, and whose
transfer_group is the window id; those come back here as `transfer_metadata[...]` / `transfer_group` columns.
"""

from __future__ import annotations

from connectors.psp.psp_reports import csv_table, iso_stamp, to_currency, to_minor
from connectors.psp.receipts import BOOKED, BOOKING, FEE, PENDING, STATUS, Flag, Receipt, ReportError
from vgos.money import minor_to_decimal

REQUIRED = ("currency", "gross", "fee", "net", "reporting_category")
FEE_CATEGORIES = frozenset({"fee", "stripe_fee", "network_cost", "tax", "stripe_fee_tax", "tax_fee"})
PAYOUT_PENDING = frozenset({"pending", "in_transit"})
PAYOUT_FAILED = frozenset({"failed", "canceled", "cancelled"})
# columns that carry the other side of a transfer (the connected account paid)
PAYEE_COLUMNS = ("connected_account", "connected_account_id", "destination_id", "destination")
REASON_COLUMNS = ("reversal_reason", "transfer_reversal_reason", "payout_failure_code", "failure_code",
                  "dispute_reason")


def stripe_receipts(data: bytes, source: str, sha: str) -> tuple[list[Receipt], list[Flag]]:
    """Receipts of a Stripe itemized CSV; a row whose gross, fee and net disagree is flagged, not trusted."""
    header, rows = csv_table(data, REQUIRED, "stripe")
    id_col = "balance_transaction_id" if "balance_transaction_id" in header else "id" if "id" in header else None
    if id_col is None:
        raise ReportError("FORMAT_MISMATCH", "not a stripe report: no balance_transaction_id (or id) column", 1)
    out: list[Receipt] = []
    flags: list[Flag] = []
    for n, r in rows:
        row = {h: v.strip() for h, v in zip(header, r, strict=True)}

        def col(*names: str, _row: dict[str, str] = row) -> str | None:
            return next((_row[c] for c in names if _row.get(c)), None)

        def meta(key: str, _row: dict[str, str] = row) -> str | None:
            return next((v for c, v in _row.items() if v and c.endswith(f"metadata[{key}]")), None)

        ccy = to_currency(row["currency"], n, "currency")
        if not row["gross"]:
            raise ReportError("AMOUNT_INVALID", "field gross: empty", n)
        gross = to_minor(row["gross"], ccy, n, "gross")
        fee = to_minor(row["fee"] or "0", ccy, n, "fee")
        net = to_minor(row["net"], ccy, n, "net") if row["net"] else None
        category = row["reporting_category"]
        if not category:
            raise ReportError("REPORT_SCHEMA", "field reporting_category: empty", n)
        cat = category.lower()
        seq = len(out)
        if net is not None and gross - fee != net:
            flags.append(Flag("STRIPE_NET_MISMATCH",
                              f"line {n}: gross {minor_to_decimal(gross, ccy)} - fee {minor_to_decimal(fee, ccy)} = "
                              f"{minor_to_decimal(gross - fee, ccy)} {ccy}, but net is {minor_to_decimal(net, ccy)}",
                              n, (seq,)))
        kind, level, booking, reversal, return_code = BOOKING, "TX", BOOKED, False, None
        reason = col(*REASON_COLUMNS)
        batch_ref = meta("provider_batch_id") or col("automatic_payout_id", "payout_id")
        payee_ref = None
        if cat in FEE_CATEGORIES:
            kind = FEE
        elif cat in ("transfer", "transfer_reversal"):
            payee_ref = col(*PAYEE_COLUMNS)
            if cat == "transfer_reversal":
                reversal, return_code = True, reason or cat
        elif cat == "payout" or cat.startswith("payout_"):
            # a payout of the whole balance to a bank account: one booking covering many rows
            level = "BATCH"
            batch_ref = col("payout_id", "source_id") or batch_ref
            if cat != "payout":
                reversal, return_code = True, reason or cat
            status = (col("payout_status", "automatic_payout_status") or "").lower()
            if status in PAYOUT_PENDING:
                booking = PENDING
            elif status in PAYOUT_FAILED:
                kind, reversal, return_code = STATUS, True, reason or status
            if (cat == "payout") != (gross < 0):
                flags.append(Flag("STRIPE_SIGN_MISMATCH",
                                  f"line {n}: {category} with gross {row['gross']} {ccy}: a payout takes money off "
                                  f"the balance (negative gross), its reversal or failure puts it back", n, (seq,)))
        created, created_day = iso_stamp(col("created_utc"), "Z") if col("created_utc") else iso_stamp(col("created"))
        _, available_day = iso_stamp(col("available_on_utc", "available_on"))
        out.append(Receipt(
            provider="stripe", format="stripe", kind=kind, level=level,
            provider_ref=col("source_id", id_col), batch_ref=batch_ref,
            end_to_end_id=meta("end_to_end_id"), window_ref=meta("window_id") or col("transfer_group"),
            payee_ref=payee_ref, amount_minor=abs(gross), currency=ccy, fee_minor=abs(fee),
            direction="DBIT" if gross < 0 else "CRDT", status=category, reason=reason,
            booked_at=created or col("created_utc", "created"), source=f"{source}:{n}", line=n, seq=seq,
            raw_sha256=sha, booking=booking, reversal=reversal, return_code=return_code,
            booking_date=created_day, value_date=available_day, bank_ref=col(id_col)))
    return out, flags
