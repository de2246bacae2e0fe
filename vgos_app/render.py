"""Terminal output of the `vgos` command: one table renderer, one money format, one JSON form, progress bars.

- Money is shown as `8.36 USD`: integer minor units rendered exactly by the currency's ISO 4217 exponent
  (`vgos.money.minor_to_decimal`, never a float); `-8.36 USD` for a negative amount, `836 JPY` for a 0-digit one.
- Tables: aligned columns (numbers and money right-aligned). On a terminal they are drawn by rich; anything else
  (a pipe, a file, a log) gets plain fixed-width text without ANSI codes, stable for scripts.
- `--json`: one JSON document on stdout (orjson), amounts as integer minor units beside their currency.
- Progress: a rich bar with rate and ETA on stderr when stderr is a terminal; `vgos.progress.silent` otherwise.

The kernel never imports this module (it imports no rich): it reports progress through `vgos.progress.Progress`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from vgos.money import minor_to_decimal
from vgos.progress import Progress, silent

_NUMERIC = re.compile(r"^[+-]?[0-9][0-9,]*(\.[0-9]+)?%?( [A-Z]{3})?$")


def money(amount_minor: int, currency: str) -> str:
    """`836, "USD"` -> `8.36 USD`; exact (integer arithmetic only), signed, by the currency's exponent."""
    return f"{minor_to_decimal(amount_minor, currency)} {currency}"


def money_json(amount_minor: int, currency: str) -> dict[str, Any]:
    """The JSON form of an amount: integer minor units and the currency."""
    return {"amount_minor": amount_minor, "currency": currency}


def is_terminal(stream: IO[str] | None) -> bool:
    """True when the stream is an interactive terminal (then tables and bars are drawn by rich)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _right_aligned(cells: list[list[str]], n: int) -> list[bool]:
    """A column is right-aligned when each of its non-empty cells is a number, a share or an amount."""
    out = []
    for i in range(n):
        col = [r[i] for r in cells if r[i] not in ("", "-", "—")]
        out.append(bool(col) and all(_NUMERIC.match(c) for c in col))
    return out


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, show_header: bool = True) -> str:
    """The plain form (`vgos.report.table`): fixed-width text, a header and a rule of dashes, no ANSI codes.
    Without the header (`show_header=False`) each line starts with the row's first cell, for `cut`/`awk`."""
    from vgos.report import table

    return table(headers, rows, show_header=show_header)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, title: str | None = None,
                file: IO[str] | None = None, plain_header: bool = True) -> None:
    """Print a table to stdout (or `file`): rich on a terminal, `plain_table` otherwise (`plain_header=False`: a
    list whose lines start with an id scripts pick up, as `vgos recon cases`)."""
    out = file if file is not None else sys.stdout
    if not is_terminal(out):
        if title:
            out.write(title + "\n")
        out.write(plain_table(headers, rows, show_header=plain_header) + "\n")
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    cells = [[_cell(c) for c in r] for r in rows]
    right = _right_aligned(cells, len(headers))
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, header_style="bold", show_edge=False,
              pad_edge=False)
    for h, r in zip(headers, right, strict=True):
        t.add_column(h, justify="right" if r else "left", overflow="fold")
    for r in cells:
        t.add_row(*r)
    Console(file=out, force_terminal=True, highlight=False, soft_wrap=False).print(t)


def print_lines(lines: Sequence[str], *, file: IO[str] | None = None) -> None:
    """Print key/value lines (already formatted); a helper so every command writes through one place."""
    out = file if file is not None else sys.stdout
    for line in lines:
        out.write(line + "\n")


def _json_default(obj: object) -> object:
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def json_bytes(doc: object) -> bytes:
    """The JSON form of `doc` (indented, keys in insertion order), newline-terminated."""
    import orjson

    return orjson.dumps(doc, default=_json_default,
                        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def print_json(doc: object, *, file: IO[str] | None = None) -> None:
    """Write one JSON document to stdout (`--json`)."""
    out = file if file is not None else sys.stdout
    out.write(json_bytes(doc).decode("utf-8"))
    out.flush()


def add_json_flag(parser: Any) -> None:
    """`--json` on a read command: one JSON document on stdout instead of the tables, exit codes unchanged."""
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document on stdout instead of text (amounts as integer minor units "
                             "with their currency); exit codes are unchanged")


# ---------------------------------------------------------------- progress


class _Bar:
    """Adapter from the kernel's `Progress` calls to one rich task: a stage is the description; when counts come,
    the bar shows done/total, the rate and the time left; a new stage restarts the counts."""

    def __init__(self, bar: Any, stage: str) -> None:
        self._bar = bar
        self._stage = stage
        self._task = bar.add_task(stage, total=None, unit="events")

    def __call__(self, stage: str, done: int | None = None, total: int | None = None, unit: str = "events") -> None:
        if stage != self._stage:
            # a fresh task: rich's reset keeps the old total, so a label-only stage would show the last one's counts
            self._stage = stage
            self._bar.remove_task(self._task)
            self._task = self._bar.add_task(stage, total=total, completed=done or 0, unit=unit)
            return
        self._bar.update(self._task, completed=done, total=total, unit=unit)


def _columns() -> list[Any]:
    import datetime as dt

    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class CountColumn(ProgressColumn):
        """`1,234/5,000 events`, or nothing while the stage is not countable."""

        def render(self, task: Any) -> Text:
            unit = task.fields.get("unit", "events")
            if task.total is None:
                return Text(f"{int(task.completed):,} {unit}" if task.completed else "")
            return Text(f"{int(task.completed):,}/{int(task.total):,} {unit}", style="progress.download")

    class RateColumn(ProgressColumn):
        """Units per second, e.g. `1,234,567 events/s`."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            unit = task.fields.get("unit", "events")
            return Text("" if speed is None else f"{speed:,.0f} {unit}/s", style="progress.data.speed")

    class EtaColumn(ProgressColumn):
        """`ETA 0:00:12` once the stage has a total and a rate."""

        max_refresh = 0.5

        def render(self, task: Any) -> Text:
            left = task.time_remaining
            if task.total is None or left is None:
                return Text("")
            return Text(f"ETA {dt.timedelta(seconds=int(left))}", style="progress.remaining")

    return [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20), CountColumn(), RateColumn(),
            EtaColumn(), TimeElapsedColumn()]


@contextmanager
def progress_bar(stage: str | None = None, *, file: IO[str] | None = None) -> Iterator[Progress]:
    """A `vgos.progress.Progress` for a long command: a rich bar on stderr when it is a terminal, removed when the
    work ends; `silent` when stderr is a pipe or a log file. `stage` is shown until the work reports its own."""
    out = file if file is not None else sys.stderr
    if not is_terminal(out):
        yield silent
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    # stdout is never redirected into the bar's console: a command's output stays on stdout, whatever happens
    with RichProgress(*_columns(), console=Console(file=out, force_terminal=True), transient=True,
                      refresh_per_second=8, redirect_stdout=False) as bar:
        yield _Bar(bar, stage or "working")
