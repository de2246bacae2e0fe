"""Plain CSV payout file for rails without a standard format (one row per payee, decimal amounts)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from vgos.money import minor_to_decimal

if TYPE_CHECKING:
    from connectors.psp.batch import Batch

HEADER = ("provider_batch_id", "window_id", "output_digest", "end_to_end_id", "principal_id", "payee_name",
          "payee_account", "payee_bic", "amount", "amount_minor", "currency", "execution_date")


def render(batch: Batch, debtor: dict) -> tuple[bytes, str]:
    """Render the batch as CSV (LF line ends, amounts exact via vgos.money)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for it in batch.items:
        w.writerow((batch.provider_batch_id, batch.window_id, batch.output_digest, it.end_to_end_id,
                    it.principal_id, it.payee_name, it.payee_ref, it.payee_bic,
                    minor_to_decimal(it.amount_minor, it.currency), it.amount_minor, it.currency,
                    batch.execution_date))
    return buf.getvalue().encode("utf-8"), "text/csv"
