"""Reconciliation at the speed of the data: the common case (one clean booking per payment) settled as columns.

`reconcile_frames` gives the same result as `recon.match.reconcile` on the same batches and receipts (a property
test holds them equal, digest for digest). A payment whose only receipt is one booked, unflagged, unreversed debit
with the payout's amount and currency, no fee, naming that payment alone, and nothing else that could concern it
(a second receipt, a status, money coming back with its payee and amount, a batch booking it inherits a different
state from) is settled by a join; every other payment, every batch booking, fee and unexplained receipt goes
through the exact rules of `recon.match` one by one. What counts as "could concern it" is deliberately wider than
what the rules would use, so a doubtful payment is always judged by the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from connectors.psp.receipts import BOOKED, BOOKING, DETAIL, NOTICE
from recon.frames import money_back, receipt_ids, receipts_of
from recon.match import BatchTotals, ExpectedItem, Presettled, ReconResult, _norm, reconcile_items
from vgos.progress import Progress, silent

ITEM_SCHEMA = {"provider_batch_id": pl.String, "end_to_end_id": pl.String, "principal_id": pl.String,
               "amount_minor": pl.Int64, "currency": pl.String, "payee_ref": pl.String}


def totals_of(batches: Iterable[dict[str, Any]], lines: dict[str, int]) -> list[BatchTotals]:
    """Batch totals from batch rows (load_batch_frame), as recon.match.expected_from reads them: a row without an
    item count counts its lines."""
    return [BatchTotals(b["provider_batch_id"], b.get("payment_info_id"), int(b["ctrl_sum_minor"]), b["currency"],
                        int(b.get("n_items", 0) or lines.get(b["provider_batch_id"], 0)), b.get("execution_date"))
            for b in batches]


def _items(frame: pl.DataFrame) -> list[ExpectedItem]:
    return [ExpectedItem(e, p, a, c, b, r) for b, e, p, a, c, r in frame.select(
        "provider_batch_id", "end_to_end_id", "principal_id", "amount_minor", "currency", "payee_ref").iter_rows()]


def _concerns(items: pl.DataFrame, rc: pl.DataFrame) -> pl.DataFrame:
    """(_row, _pos) pairs of receipt row and item position: every payout a receipt could be filed under by the
    rules, or more. The EndToEndId is joined once; the other ways in (provider_ref, the NACHA stand-in id, payee
    + amount of money coming back) are looked up only for the few receipts they can concern."""
    c = pl.col
    routed = rc.filter((c("kind") != NOTICE) & ~((c("level") == "BATCH") & (c("kind") != DETAIL)))
    pos = items.select("end_to_end_id", "_pos")
    keyed = routed.select("_row", "end_to_end_id", "provider_ref").join(pos, on="end_to_end_id", how="left")
    by_e2e = keyed.filter(c("_pos").is_not_null()).select("_row", "_pos")
    refs = routed.filter(c("provider_ref").is_not_null()).select("_row", end_to_end_id=c("provider_ref"))
    by_ref = refs.join(pos, on="end_to_end_id").select("_row", "_pos")
    odd = keyed.filter(c("_pos").is_null() & c("end_to_end_id").is_not_null()).select("_row", ach="end_to_end_id")
    parts = [by_e2e, by_ref]
    if odd.height:  # a NACHA return names the payment by `VG` + the last 13 characters of its EndToEndId
        ach = items.select(pl.concat_str([pl.lit("VG"), c("end_to_end_id").str.slice(-13)]).alias("ach"), "_pos")
        parts.append(odd.join(ach, on="ach").select("_row", "_pos"))
    # money coming back with a payee account and an amount may be filed by payee + amount + date
    # (a detail line of a reversed batch booking is a reversal too: recon.evidence.effective)
    reversed_ = c("reversal") | ((c("kind") == DETAIL) & c("p_reversal").fill_null(False))
    back = rc.filter(money_back(reversed_) & c("amount_minor").is_not_null())
    if back.height:
        back = back.select("_row", "currency", "amount_minor", "payee_ref").with_columns(
            payee=pl.Series([_norm(p) for p in back["payee_ref"].to_list()], dtype=pl.String))
        cand = items.select("_pos", "currency", "amount_minor", "payee_ref").join(
            back.drop("payee_ref"), on=["currency", "amount_minor"])
        # payee accounts compared as the rules compare them (recon.match._norm), candidate by candidate
        same = pl.Series([_norm(p) for p in cand["payee_ref"].to_list()], dtype=pl.String) == cand["payee"]
        parts.append(cand.filter(same.fill_null(False) | cand["payee"].is_null()).select("_row", "_pos"))
    return pl.concat([p.cast({"_row": pl.UInt32, "_pos": pl.UInt32}) for p in parts]).unique()


_USED = ("kind", "level", "end_to_end_id", "provider_ref", "payee_ref", "amount_minor", "currency", "fee_minor",
         "direction", "reversal", "booking", "flagged", "raw_sha256", "seq", "line", "parent_seq", "booking_date")


def split_clean(items: pl.DataFrame, receipts: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """The clean payments as Match rows, the receipt rows they used and the item positions they settle."""
    c = pl.col
    items = items.with_row_index("_pos")
    rc = receipts.select(_USED).with_row_index("_row")  # only the columns the rules below read
    # a DETAIL line is read as its batch booking makes it (recon.evidence.effective): its parent's state, once
    parents = rc.filter((c("level") == "BATCH") & (c("kind") != DETAIL)).select(
        "raw_sha256", parent_seq="seq", p_booking="booking", p_flagged="flagged", p_reversal="reversal")
    if parents.height:
        rc = rc.join(parents, on=["raw_sha256", "parent_seq"], how="left", maintain_order="left")
    else:
        rc = rc.with_columns(p_booking=pl.lit(None, pl.String), p_flagged=pl.lit(None, pl.String),
                             p_reversal=pl.lit(None, pl.Boolean))
    pairs = _concerns(items, rc)
    once = pairs.group_by("_pos").agg(pl.len().alias("n"), c("_row").first()).filter(c("n") == 1)
    # ...and the receipt concerns that one payment only (so the rules file it there, however they key it:
    # EndToEndId, provider reference or NACHA stand-in id)
    once = once.join(pairs.group_by("_row").len().filter(c("len") == 1).select("_row"), on="_row")
    cand = rc.join(once.select("_row", "_pos"), on="_row").join(
        items.select("_pos", currency_item="currency", amount_item="amount_minor"), on="_pos")
    not_flagged = c("flagged").is_null() | (c("flagged") == "")
    # recon.evidence.effective leaves the receipt as it is (a DETAIL line inherits nothing from its batch booking)
    as_is = (c("kind") != DETAIL) | c("parent_seq").is_null() | c("p_booking").is_null() | (
        (c("p_booking") == c("booking")) & (c("p_flagged").is_null() | (c("p_flagged") == ""))
        & ~c("p_reversal") & c("booking_date").is_not_null())
    clean = cand.filter(
        as_is & c("kind").is_in([BOOKING, DETAIL]) & (c("booking") == BOOKED) & (c("direction") == "DBIT")
        & ~c("reversal") & not_flagged & (c("fee_minor") == 0) & (c("currency") == c("currency_item"))
        & c("amount_minor").is_not_null() & (c("amount_minor") == c("amount_item")))
    matches = clean.select("_pos", receipt_ids().alias("receipt_id")).join(
        items.select("_pos", "end_to_end_id", "principal_id", "provider_batch_id"), on="_pos").select(
        "end_to_end_id", "principal_id", "provider_batch_id", "receipt_id", method=pl.lit("end_to_end_id"),
        confidence_pct=pl.lit(100, dtype=pl.Int64))
    return matches, clean["_row"], clean["_pos"]


def _without(frame: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """The frame minus the given row positions, order kept."""
    keep = pl.repeat(True, frame.height, eager=True)
    return frame.filter(keep.scatter(rows.cast(pl.UInt32), False) if rows.len() else keep)


def reconcile_frames(window_id: str, output_digest: str, batches: list[dict[str, Any]], items: pl.DataFrame,
                     receipts: pl.DataFrame, *, tenant_id: str = "default", amount_tolerance_minor: int = 0,
                     expected_fee_minor: int | None = None, date_window_days: int = 7,
                     resolved: Iterable[str] = (), progress: Progress = silent) -> ReconResult:
    """recon.match.reconcile on columns: batches (rows without items), their items and the window's receipts.

    `progress` hears `reconciling N payments` with the payments judged so far: 0, those the join settled, N."""
    items = items.select(list(ITEM_SCHEMA)).cast(ITEM_SCHEMA)
    stage, n = f"reconciling {items.height:,} payments", items.height
    progress(stage, done=0, total=n, unit="payments")
    kw: dict[str, Any] = dict(tenant_id=tenant_id, amount_tolerance_minor=amount_tolerance_minor,
                              expected_fee_minor=expected_fee_minor, date_window_days=date_window_days,
                              resolved=resolved)
    totals = totals_of(batches, dict(items.group_by("provider_batch_id").len().iter_rows()))
    if expected_fee_minor is not None or items["end_to_end_id"].n_unique() != items.height \
            or items["end_to_end_id"].null_count():
        # every payment is checked for its fee, or ids repeat: the exact rules judge everything
        result = reconcile_items(window_id, output_digest, None, _items(items), totals, receipts_of(receipts), **kw)
        progress(stage, done=n, total=n, unit="payments")
        return result
    matches, used, settled = split_clean(items, receipts)
    progress(stage, done=matches.height, total=n, unit="payments")
    rest_items, rest = _without(items, settled), _without(receipts, used)
    per_batch = dict(matches.group_by("provider_batch_id").len().iter_rows())
    pre = Presettled(matches, per_batch, used.len())
    result = reconcile_items(window_id, output_digest, None, _items(rest_items), totals, receipts_of(rest),
                             presettled=pre, **kw)
    progress(stage, done=n, total=n, unit="payments")
    return result
