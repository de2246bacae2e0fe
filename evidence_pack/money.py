"""One money format on the page: `8.36 USD`, exact from integer minor units (vgos.money), never floats."""

from __future__ import annotations

from vgos.money import minor_to_decimal


def fmt_money(amount_minor: int, currency: str) -> str:
    """`<decimal> <ISO code>` with exactly the currency's digits, so every figure on the page reads the same way."""
    return f"{minor_to_decimal(int(amount_minor), currency)} {currency}"
