"""Receipts and matches as columns: how a window's millions of rows are stored (Parquet segments) and matched.

A report file's receipts are one Parquet segment, written once at ingest; a recon run's matches are one segment.
Columns keep the exact values of the dataclasses (integers are int64: every amount was checked to lie within
±(2^53−1) when its file was read, so nothing wraps).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import polars as pl

from connectors.psp.receipts import Receipt
from recon.match import Match

RECEIPT_FIELDS: tuple[str, ...] = tuple(Receipt.__dataclass_fields__)
MATCH_FIELDS: tuple[str, ...] = tuple(Match.__dataclass_fields__)


def _dtype(annotation: str) -> Any:
    return pl.Boolean if "bool" in annotation else pl.Int64 if "int" in annotation else pl.String


RECEIPT_SCHEMA = {f: _dtype(str(Receipt.__annotations__[f])) for f in RECEIPT_FIELDS}
MATCH_SCHEMA = {f: _dtype(str(Match.__annotations__[f])) for f in MATCH_FIELDS}


def receipt_frame(receipts: Sequence[Receipt]) -> pl.DataFrame:
    """The receipts as columns, one per Receipt field, in the given order."""
    return pl.DataFrame({f: pl.Series(f, [getattr(r, f) for r in receipts], dtype=RECEIPT_SCHEMA[f], strict=True)
                         for f in RECEIPT_FIELDS})


def receipts_of(frame: pl.DataFrame) -> list[Receipt]:
    """Receipt objects back from their columns (only for the few rows the exact rules judge one by one)."""
    return [Receipt(*row) for row in frame.select(RECEIPT_FIELDS).iter_rows()]


def receipt_ids() -> pl.Expr:
    """Receipt.receipt_id as an expression: file hash prefix, line and position."""
    return pl.concat_str([pl.col("raw_sha256").str.slice(0, 16), pl.col("line").cast(pl.String),
                          pl.col("seq").cast(pl.String)], separator=":")


def money_back(reversal: pl.Expr | None = None) -> pl.Expr:
    """Money coming back (a reversal or a credit) that names a payee account: what an ACH-style return looks like
    when it does not carry our ids (recon.match files it by payee + amount + date)."""
    rev = pl.col("reversal") if reversal is None else reversal
    return (rev | (pl.col("direction") == "CRDT")) & pl.col("payee_ref").is_not_null()


def match_frame(matches: Iterable[Match]) -> pl.DataFrame:
    """Match objects as columns."""
    ms = list(matches)
    return pl.DataFrame({f: pl.Series(f, [getattr(m, f) for m in ms], dtype=MATCH_SCHEMA[f], strict=True)
                         for f in MATCH_FIELDS})


class MatchFrame(Sequence[Match]):
    """A result's matches held as columns (sorted by EndToEndId): a list of Match to whoever iterates it."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame.select(MATCH_FIELDS).cast(MATCH_SCHEMA)

    def __len__(self) -> int:
        return self.frame.height

    def __iter__(self) -> Iterator[Match]:
        return (Match(*row) for row in self.frame.iter_rows())

    @overload
    def __getitem__(self, i: int) -> Match: ...
    @overload
    def __getitem__(self, i: slice) -> list[Match]: ...
    def __getitem__(self, i: int | slice) -> Match | list[Match]:
        if isinstance(i, slice):
            return list(self)[i]
        return Match(*self.frame.row(i if i >= 0 else len(self) + i))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def as_match_frame(matches: Sequence[Match]) -> pl.DataFrame:
    """Columns of a result's matches, whichever way they are held."""
    return matches.frame if isinstance(matches, MatchFrame) else match_frame(matches)


def to_parquet(frame: pl.DataFrame) -> bytes:
    """A segment's bytes (zstd; statistics off: segments are read whole)."""
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", compression_level=1, statistics=False)
    return buf.getvalue()


def from_parquet(data: bytes) -> pl.DataFrame:
    """A segment back as columns."""
    return pl.read_parquet(io.BytesIO(data))
