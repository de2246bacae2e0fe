"""Payee directory: how each principal is paid (bank account or PSP account); never guessed."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vgos.errors import InputError

# The directory is a UTF-8 CSV with this header (extra columns are ignored):
#   principal_id,name,iban,bic,account_id,stripe_account,paypal_receiver,paypal_recipient_type
# - pain001/csv rails need `name` and `iban` (or `account_id` for a non-IBAN account); `bic` is optional.
# - stripe needs `stripe_account` (acct_...); paypal needs `paypal_receiver` (e-mail, PayPal id or phone)
#   and optionally `paypal_recipient_type` (EMAIL, PAYPAL_ID, PHONE; default EMAIL).
COLUMNS = ("principal_id", "name", "iban", "bic", "account_id", "stripe_account", "paypal_receiver",
           "paypal_recipient_type")


@dataclass(frozen=True)
class Payee:
    """One payee's payment coordinates."""

    principal_id: str
    name: str = ""
    iban: str = ""
    bic: str = ""
    account_id: str = ""
    stripe_account: str = ""
    paypal_receiver: str = ""
    paypal_recipient_type: str = "EMAIL"

    def account_ref(self, rail: str) -> str:
        """The account reference the rail pays to, or "" when the directory has none for that rail."""
        if rail in ("pain001", "csv"):
            return self.iban or self.account_id
        if rail == "stripe":
            return self.stripe_account
        if rail == "paypal":
            return self.paypal_receiver
        raise InputError(f"unknown rail {rail!r}")


def parse_payees(text: str, source: str = "<payees>") -> dict[str, Payee]:
    """Parse a payee directory CSV; a duplicate or empty principal_id is an input error naming the line."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "principal_id" not in reader.fieldnames:
        raise InputError(f"{source}:1: field principal_id: payee directory header must include principal_id")
    out: dict[str, Payee] = {}
    for row in reader:
        line = reader.line_num
        pid = (row.get("principal_id") or "").strip()
        if not pid:
            raise InputError(f"{source}:{line}: field principal_id: empty")
        if pid in out:
            raise InputError(f"{source}:{line}: field principal_id: duplicate {pid!r}")
        vals = {c: (row.get(c) or "").strip() for c in COLUMNS if c != "principal_id"}
        vals["iban"] = vals["iban"].replace(" ", "").upper()
        vals["paypal_recipient_type"] = (vals["paypal_recipient_type"] or "EMAIL").upper()
        if vals["paypal_recipient_type"] not in ("EMAIL", "PAYPAL_ID", "PHONE"):
            raise InputError(f"{source}:{line}: field paypal_recipient_type: {vals['paypal_recipient_type']!r}")
        out[pid] = Payee(principal_id=pid, **vals)
    return out


def load_payees(path: str | Path) -> dict[str, Payee]:
    """Load a payee directory file (CSV, see COLUMNS)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{p}: cannot read payee directory: {exc.strerror}") from None
    return parse_payees(text, str(p))


def demo_payees() -> dict[str, Payee]:
    """The payee directory shipped for the seed demo window (connectors/psp/samples/payees_demo.csv)."""
    return load_payees(Path(__file__).parent / "samples" / "payees_demo.csv")


def as_payees(value: Mapping[str, Payee] | Mapping[str, Mapping[str, str]]) -> dict[str, Payee]:
    """Accept Payee objects or plain dicts keyed by principal_id."""
    out: dict[str, Payee] = {}
    for pid, v in value.items():
        out[pid] = v if isinstance(v, Payee) else Payee(principal_id=pid, **{
            k: str(x) for k, x in v.items() if k in COLUMNS and k != "principal_id"})
    return out
