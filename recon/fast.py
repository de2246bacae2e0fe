"""Reconciliation at the speed of the data: the common case (one clean booking per payment) settled as columns.

`reconcile_frames` gives the same result as `recon.match.reconcile` on the same batches and receipts (a property
test holds them equal, digest for digest). A payment whose only receipt is one booked, unflagged, unreversed debit
with the payout's amount and currency, no fee, and nothing else that could concern it (a second receipt, a
status, money coming back with its payee and amount, a batch booking it inherits a different state from) is
settled by a join; every other payment, every batch booking, fee and unexplained receipt goes through the exact
rules of `recon.match` one by one. What counts as "could concern it" is deliberately wider than what the rules
would use, so a doubtful payment is always judged by the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from connectors.psp.receipts import BOOKED, BOOKING, DETAIL, FEE, NOTICE, STATUS
from recon.frames import receipt_ids, receipts_of
from recon.match import BatchTotals, ExpectedItem, Presettled, ReconResult, _norm, reconcile_items

ITEM_SCHEMA = {"provider_batch_id": pl.String, "end_to_end_id": pl.String, "principal_id": pl.String,
               "amount_minor": pl.Int64, "currency": pl.String, "payee_ref": pl.String}


def totals_of(batches: Iterable[dict[str, Any]]) -> list[BatchTotals]:
    """Batch totals from batch rows (load_batch_frame), as recon.match.expected_from reads them."""
    return [BatchTotals(b["provider_batch_id"], b.get("payment_info_id"), int(b["ctrl_sum_minor"]), b["currency"],
                        int(b.get("n_items") or 0), b.get("execution_date")) for b in batches]


def _items(frame: pl.DataFrame) -> list[ExpectedItem]:
    return [ExpectedItem(e, p, a, c, b, r) for b, e, p, a, c, r in frame.select(
        "provider_batch_id", "end_to_end_id", "principal_id", "amount_minor", "currency", "payee_ref").iter_rows()]


def _concerns(items: pl.DataFrame, rc: pl.DataFrame) -> pl.DataFrame:
    """(receipt row, EndToEndId) pairs: every payout a receipt could be filed under by the rules, or more."""
    e2e = items.select("end_to_end_id")
    routed = rc.filter((pl.col("kind") != NOTICE) & ~((pl.col("level") == "BATCH") & (pl.col("kind") != DETAIL)))
    by_e2e = routed.select("_row", pl.col("end_to_end_id")).join(e2e, on="end_to_end_id", how="semi")
    by_ref = routed.select("_row", end_to_end_id=pl.col("provider_ref")).join(e2e, on="end_to_end_id", how="semi")
    ach = items.select(pl.concat_str([pl.lit("VG"), pl.col("end_to_end_id").str.slice(-13)]).alias("ach"),
                       "end_to_end_id")
    by_ach = routed.select("_row", ach=pl.col("end_to_end_id")).join(ach, on="ach").select("_row", "end_to_end_id")
    # money coming back with a payee account and an amount may be filed by payee + amount + date
    back = rc.filter((pl.col("reversal") | (pl.col("direction") == "CRDT")) & pl.col("payee_ref").is_not_null()
                     & pl.col("amount_minor").is_not_null())
    parts = [by_e2e, by_ref, by_ach]
    if back.height:
        back = back.select("_row", "currency", "amount_minor", "payee_ref").with_columns(
            payee=pl.Series([_norm(p) for p in back["payee_ref"].to_list()], dtype=pl.String))
        cand = items.select("end_to_end_id", "currency", "amount_minor", "payee_ref").join(
            back.drop("payee_ref"), on=["currency", "amount_minor"])
        # payee accounts compared as the rules compare them (recon.match._norm), candidate by candidate
        same = pl.Series([_norm(p) for p in cand["payee_ref"].to_list()], dtype=pl.String) == cand["payee"]
        parts.append(cand.filter(same.fill_null(False) | cand["payee"].is_null()).select("_row", "end_to_end_id"))
    return pl.concat([p.cast({"_row": pl.UInt32}) for p in parts]).unique()


def split_clean(items: pl.DataFrame, receipts: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """The clean payments as Match rows, and the receipt rows they used (to leave out of the exact pass)."""
    rc = receipts.with_row_index("_row")
    pairs = _concerns(items, rc)
    once = pairs.group_by("end_to_end_id").agg(pl.len().alias("n"), pl.col("_row").first()).filter(pl.col("n") == 1)
    parents = rc.filter((pl.col("level") == "BATCH") & (pl.col("kind") != DETAIL)).select(
        "raw_sha256", parent_seq="seq", p_booking="booking", p_flagged="flagged", p_reversal="reversal")
    c = pl.col
    cand = rc.join(once.select(c("_row"), c("end_to_end_id").alias("_key")), on="_row").filter(
        c("end_to_end_id") == c("_key"))
    cand = cand.join(parents, on=["raw_sha256", "parent_seq"], how="left")
    not_flagged = c("flagged").is_null() | (c("flagged") == "")
    # recon.evidence.effective leaves the receipt as it is (a DETAIL line inherits nothing from its batch booking)
    as_is = (c("kind") != DETAIL) | c("parent_seq").is_null() | c("p_booking").is_null() | (
        (c("p_booking") == c("booking")) & (c("p_flagged").is_null() | (c("p_flagged") == ""))
        & ~c("p_reversal") & c("booking_date").is_not_null())
    clean = cand.join(items, on="end_to_end_id", suffix="_item").filter(
        as_is & c("kind").is_in([BOOKING, DETAIL]) & (c("kind") != FEE) & (c("kind") != STATUS)
        & (c("booking") == BOOKED) & (c("direction") == "DBIT") & ~c("reversal") & not_flagged
        & (c("fee_minor") == 0) & (c("currency") == c("currency_item"))
        & c("amount_minor").is_not_null() & (c("amount_minor") == c("amount_minor_item")))
    matches = clean.select(
        "end_to_end_id", "principal_id", "provider_batch_id", receipt_ids().alias("receipt_id"),
        method=pl.lit("end_to_end_id"), confidence_pct=pl.lit(100, dtype=pl.Int64))
    return matches, clean["_row"]


def reconcile_frames(window_id: str, output_digest: str, batches: list[dict[str, Any]], items: pl.DataFrame,
                     receipts: pl.DataFrame, *, tenant_id: str = "default", amount_tolerance_minor: int = 0,
                     expected_fee_minor: int | None = None, date_window_days: int = 7,
                     resolved: Iterable[str] = ()) -> ReconResult:
    """recon.match.reconcile on columns: batches (rows without items), their items and the window's receipts."""
    items = items.select(list(ITEM_SCHEMA)).cast(ITEM_SCHEMA)
    kw: dict[str, Any] = dict(tenant_id=tenant_id, amount_tolerance_minor=amount_tolerance_minor,
                              expected_fee_minor=expected_fee_minor, date_window_days=date_window_days,
                              resolved=resolved)
    totals = totals_of(batches)
    if expected_fee_minor is not None or items["end_to_end_id"].n_unique() != items.height \
            or items["end_to_end_id"].null_count():
        # every payment is checked for its fee, or ids repeat: the exact rules judge everything
        return reconcile_items(window_id, output_digest, None, _items(items), totals, receipts_of(receipts), **kw)
    matches, used = split_clean(items, receipts)
    rest_items = items.join(matches.select("end_to_end_id"), on="end_to_end_id", how="anti", maintain_order="left")
    rest = receipts.with_row_index("_row").join(used.to_frame("_row"), on="_row", how="anti",
                                                maintain_order="left").drop("_row")
    per_batch = dict(matches.group_by("provider_batch_id").len().iter_rows())
    pre = Presettled(matches.sort("end_to_end_id"), per_batch, used.len())
    return reconcile_items(window_id, output_digest, None, _items(rest_items), totals, receipts_of(rest),
                           presettled=pre, **kw)
