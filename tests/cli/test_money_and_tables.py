"""One money format (`8.36 USD`, exact, by the currency's exponent) and one table renderer (rich on a terminal,
plain text otherwise)."""

from __future__ import annotations

import io
import re

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vgos.money import MoneyError, decimal_to_minor, exponent
from vgos_app.render import money, plain_table, print_json, print_table

ANSI = re.compile(r"\x1b\[")


class Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("minor", "ccy", "text"), [
    (836, "USD", "8.36 USD"), (-836, "USD", "-8.36 USD"), (5, "USD", "0.05 USD"), (-5, "USD", "-0.05 USD"),
    (0, "USD", "0.00 USD"), (836, "JPY", "836 JPY"), (-836, "JPY", "-836 JPY"), (1, "BHD", "0.001 BHD"),
    (10**30 + 1, "USD", "10000000000000000000000000000.01 USD"),
])
def test_money_examples(minor: int, ccy: str, text: str) -> None:
    assert money(minor, ccy) == text


@pytest.mark.parametrize("ccy", ["JPY", "USD", "BHD"])  # exponents 0, 2, 3
@given(minor=st.integers(min_value=-(10**24), max_value=10**24))
def test_money_round_trips_minor_units_exactly(ccy: str, minor: int) -> None:
    text = money(minor, ccy)
    number, unit = text.split(" ")
    assert unit == ccy
    digits = number.lstrip("-").partition(".")[2]
    assert len(digits) == exponent(ccy)  # always the currency's digits, never fewer, never more
    assert number.startswith("-") == (minor < 0)
    assert decimal_to_minor(number, ccy) == minor


def test_money_refuses_floats_and_bools() -> None:
    for bad in (8.36, True, "836"):
        with pytest.raises(MoneyError):
            money(bad, "USD")  # type: ignore[arg-type]


def test_plain_table_aligns_numbers_and_amounts_right_and_has_no_ansi() -> None:
    text = plain_table(["principal_id", "events", "payout"], [["CRE-0001", 3, "3.80 USD"], ["CRE-10", 12, "-0.05 USD"]])
    lines = text.splitlines()
    assert lines[0] == "principal_id  events     payout"
    assert lines[1] == "------------  ------  ---------"
    assert lines[2] == "CRE-0001           3   3.80 USD"
    assert lines[3] == "CRE-10            12  -0.05 USD"
    assert not ANSI.search(text)
    assert plain_table(["id", "x"], [["#1", "a"]], show_header=False) == "#1  a"


def test_print_table_is_plain_when_piped_and_drawn_by_rich_on_a_terminal() -> None:
    piped, tty = io.StringIO(), Tty()
    rows = [["CRE-0001", "3.80 USD"], ["CRE-0002", "12.75 USD"]]
    print_table(["principal_id", "amount"], rows, title="items", file=piped)
    print_table(["principal_id", "amount"], rows, title="items", file=tty)
    assert piped.getvalue() == "items\n" + plain_table(["principal_id", "amount"], rows) + "\n"
    assert not ANSI.search(piped.getvalue())
    drawn = tty.getvalue()
    assert ANSI.search(drawn) and "CRE-0002" in drawn and "12.75 USD" in drawn
    assert "|---" not in drawn and "**" not in drawn
    # amounts right-aligned: both amounts end in the same column
    ends = {re.sub(r"\x1b\[[0-9;]*m", "", ln).rstrip().__len__() for ln in drawn.splitlines() if " USD" in ln}
    assert len(ends) == 1


def test_print_json_is_one_document() -> None:
    out = io.StringIO()
    print_json({"amount_minor": 836, "currency": "USD", "keys": frozenset({"b", "a"})}, file=out)
    assert orjson.loads(out.getvalue()) == {"amount_minor": 836, "currency": "USD", "keys": ["a", "b"]}
    assert out.getvalue().endswith("}\n")
