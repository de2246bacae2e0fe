"""Exact conversion between integer minor units and decimal strings, only at a connector's edge."""

from __future__ import annotations

import re

# ISO 4217 minor-unit exponents that differ from 2; every other code uses 2.
_EXPONENT_OVERRIDES: dict[str, int] = {
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "CLF": 4, "UYW": 4,
}
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# ISO 4217 List One (active codes, including funds and precious-metal codes), as published by SIX.
ISO_4217_ACTIVE = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF
CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD
XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
""".split())
_DECIMAL_RE = re.compile(r"^([+-]?)(\d+)(?:\.(\d+))?$")


class MoneyError(ValueError):
    """A value that cannot be converted exactly."""


def exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (JPY 0, USD 2, BHD 3)."""
    if not _CURRENCY_RE.match(currency or ""):
        raise MoneyError(f"not an ISO 4217 currency code: {currency!r}")
    return _EXPONENT_OVERRIDES.get(currency, 2)


def is_iso4217(currency: str) -> bool:
    """True for an active ISO 4217 code (report parsers refuse 'ZZZ' and other made-up codes)."""
    return currency in ISO_4217_ACTIVE


def minor_to_decimal(amount_minor: int, currency: str) -> str:
    """Render minor units as a plain decimal string with exactly the currency's digits (380 USD -> '3.80')."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise MoneyError(f"amount must be an integer number of minor units, got {amount_minor!r}")
    exp = exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    digits = str(abs(amount_minor))
    if exp == 0:
        return sign + digits
    digits = digits.rjust(exp + 1, "0")
    return f"{sign}{digits[:-exp]}.{digits[-exp:]}"


def decimal_to_minor(text: str, currency: str) -> int:
    """Parse a decimal string into minor units exactly; more digits than the currency has must be zeros."""
    m = _DECIMAL_RE.match(str(text).strip())
    if not m:
        raise MoneyError(f"not a decimal amount: {text!r}")
    sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
    exp = exponent(currency)
    if len(frac) > exp:
        extra = frac[exp:]
        if extra.strip("0"):
            raise MoneyError(f"{text!r} has more precision than {currency} allows ({exp} digits)")
        frac = frac[:exp]
    value = int(whole) * 10**exp + (int(frac.ljust(exp, "0")) if exp else 0)
    return -value if sign == "-" else value
