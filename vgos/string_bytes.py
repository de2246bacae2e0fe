"""Byte-level scans of string columns: a few numpy reductions over a column's value bytes decide what a per-value
string search would (is any character escaped, is any character a control character), when the answer is the
common "none"; the callers keep the exact per-value check for the rest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
from polars import CompatLevel


def view_buffers(arr: pa.Array) -> list[Any] | None:
    """Data buffers of a string-view array when they hold exactly its values back to back, in order; else None."""
    if not pa.types.is_string_view(arr.type) or arr.null_count or len(arr) == 0:
        return None
    bufs = arr.buffers()
    views = np.frombuffer(bufs[1], dtype=np.uint32).reshape(-1, 4)[arr.offset:arr.offset + len(arr)]
    data = bufs[2:]
    lens = views[:, 0].astype(np.int64)
    if int(lens.min()) <= 12:  # inline values are not in the data buffers
        return None
    sizes = np.array([b.size for b in data], dtype=np.int64)
    starts = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    pos = starts[views[:, 2].astype(np.int64)] + views[:, 3].astype(np.int64)
    ends = pos + lens
    if pos[0] != 0 or ends[-1] != starts[-1] or not np.array_equal(pos[1:], ends[:-1]):
        return None
    return list(data)


def value_blocks(arr: pa.Array | pa.ChunkedArray, *, in_place: bool = True) -> Iterator[np.ndarray]:
    """The value bytes of a string array as uint8 blocks. With `in_place`, views whose data buffers hold exactly the
    values are read in place; any other layout is copied to 64-bit offsets first, `_SLICE` values at a time (the
    small copy stays in cache, and no large block of fresh memory is touched for a one-off scan). Null slots may add
    bytes of their own, so a scan that finds a byte may be wrong about a null, never one that finds none."""
    for part in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        if not len(part):
            continue
        blocks = view_buffers(part) if in_place else None
        if blocks is not None:
            for block in blocks:
                b = np.frombuffer(block, dtype=np.uint8)
                if b.size:
                    yield b
            continue
        for start in range(0, len(part), _SLICE):
            piece = part.slice(start, _SLICE)
            if not pa.types.is_large_string(piece.type):
                piece = piece.cast(pa.large_string())
            offsets, data = piece.buffers()[1:3]
            offs = np.frombuffer(offsets, dtype=np.int64)
            first, last = int(offs[piece.offset]), int(offs[piece.offset + len(piece)])
            if last > first:
                yield np.frombuffer(data, dtype=np.uint8)[first:last]


_SLICE = 1 << 17


def series_blocks(col: pl.Series) -> Iterator[np.ndarray]:
    """`value_blocks` of a polars string column, exported a slice at a time (polars copies the views it exports)."""
    for start in range(0, len(col), _SLICE):
        yield from value_blocks(col.slice(start, _SLICE).to_arrow(compat_level=CompatLevel.newest()), in_place=False)


def block_has(b: np.ndarray, below: int, wanted: bytes) -> bool:
    """True when the byte block holds a byte below `below` or one of the bytes `wanted`."""
    return (bool(below) and int(b.min()) < below) or any(np.count_nonzero(b == w) for w in wanted)


def printable_ascii(col: pl.Series) -> bool:
    """True when every byte of every value of a string column is printable ASCII (0x20–0x7E), so no value holds a
    control character (C0, DEL or C1: C1 needs a byte ≥ 0x80); False says nothing, an exact check must decide."""
    return all(int(b.min()) >= 0x20 and int(b.max()) <= 0x7E for b in series_blocks(col))


def has_bytes(col: pl.Series, *, below: int = 0, among: bytes = b"") -> bool:
    """True when some value of a string column without nulls holds a byte below `below` or one of the ASCII bytes
    `among`: for ASCII characters the answer of a per-value search for them, since UTF-8 uses bytes below 0x80 for
    nothing else (`below` must be at most 0x80)."""
    if not 0 <= below <= 0x80 or any(b >= 0x80 for b in among):
        raise ValueError("has_bytes looks for ASCII bytes only")
    if col.null_count():
        raise ValueError("has_bytes takes a column without nulls")
    return any(block_has(b, below, among) for b in series_blocks(col))
