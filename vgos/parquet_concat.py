"""One Parquet file from several with the same schema, without decoding or re-encoding a page: their column chunks
are copied back to back and a new footer lists every row group with its offsets shifted.

The fold writes each normalized_input chunk as a Parquet segment of the transcript (v2); normalized.parquet is
their concatenation, so it costs a copy instead of a second encode. The footer is Parquet's Thrift compact-protocol
`FileMetaData`; only the fields that hold file offsets (and the row count, the row-group ordinals) are rewritten,
every other field is carried over as read.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAGIC = b"PAR1"

# Thrift compact protocol element types
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)


class ParquetConcatError(ValueError):
    """A file this module cannot concatenate (not Parquet, encrypted footer, schemas that differ)."""


# ---------------------------------------------------------------- Thrift compact protocol (just what a footer uses)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        data, pos = self.data, self.pos
        b = data[pos]
        pos += 1
        result, shift = b & 0x7F, 7
        while b & 0x80:  # one-byte values (most of a footer) skip the loop
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
        self.pos = pos
        return result

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, t: int) -> Any:
        if _I16 <= t <= _I64:  # the common case first
            return self.zigzag()
        if t == _BINARY:
            n = self.varint()
            v = self.data[self.pos:self.pos + n]
            self.pos += n
            return v
        if t == _STRUCT:
            return self.struct()
        if t in (_LIST, _SET):
            head = self.byte()
            size, et = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            return (et, [self.value(et) for _ in range(size)])
        if t in (_TRUE, _FALSE):  # inside a list a bool is a byte of its own
            return self.byte() == 1
        if t == _BYTE:
            return self.byte()
        if t == _DOUBLE:
            v = self.data[self.pos:self.pos + 8]
            self.pos += 8
            return v
        if t == _MAP:
            size = self.varint()
            if not size:
                return (0, 0, [])
            kv = self.byte()
            kt, vt = kv >> 4, kv & 0x0F
            return (kt, vt, [(self.value(kt), self.value(vt)) for _ in range(size)])
        raise ParquetConcatError(f"unknown Thrift type {t}")

    def struct(self) -> list[list[Any]]:
        """Fields as [field id, type, value] in the order read (booleans carry their type as the value)."""
        fields: list[list[Any]] = []
        append, data, last = fields.append, self.data, 0
        while True:
            head = data[self.pos]
            self.pos += 1
            if head == 0:
                return fields
            t, delta = head & 0x0F, head >> 4
            fid = last + delta if delta else self.zigzag()
            append([fid, t, (t == _TRUE) if t == _TRUE or t == _FALSE else self.value(t)])
            last = fid


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, n: int) -> None:
        while True:
            if n < 0x80:
                self.out.append(n)
                return
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7

    def zigzag(self, n: int) -> None:
        self.varint((n << 1) ^ (n >> 63))

    def value(self, t: int, v: Any) -> None:
        if t in (_TRUE, _FALSE):
            self.out.append(1 if v else 2)
        elif t == _BYTE:
            self.out.append(v)
        elif t in (_I16, _I32, _I64):
            self.zigzag(v)
        elif t == _DOUBLE:
            self.out += v
        elif t == _BINARY:
            self.varint(len(v))
            self.out += v
        elif t in (_LIST, _SET):
            et, items = v
            if len(items) < 15:
                self.out.append((len(items) << 4) | et)
            else:
                self.out.append(0xF0 | et)
                self.varint(len(items))
            for item in items:
                self.value(et, item)
        elif t == _MAP:
            kt, vt, items = v
            self.varint(len(items))
            if items:
                self.out.append((kt << 4) | vt)
                for k, val in items:
                    self.value(kt, k)
                    self.value(vt, val)
        elif t == _STRUCT:
            self.struct(v)
        else:
            raise ParquetConcatError(f"unknown Thrift type {t}")

    def struct(self, fields: list[list[Any]]) -> None:
        last = 0
        for fid, t, v in fields:
            wire_t = (_TRUE if v else _FALSE) if t in (_TRUE, _FALSE) else t
            if 0 < fid - last <= 15:
                self.out.append(((fid - last) << 4) | wire_t)
            else:
                self.out.append(wire_t)
                self.zigzag(fid)
            if t not in (_TRUE, _FALSE):
                self.value(t, v)
            last = fid
        self.out.append(0)


# ---------------------------------------------------------------- Parquet footers


def _field(fields: list[list[Any]], fid: int) -> list[Any] | None:
    return next((f for f in fields if f[0] == fid), None)


def _footer(data: bytes) -> tuple[list[list[Any]], int]:
    """The parsed FileMetaData of a Parquet file's bytes and where the footer starts."""
    return _parse_footer(len(data), lambda at, n: data[at:at + n])


def _read_footer(fd: int) -> tuple[list[list[Any]], int]:
    """`_footer` of an open file, reading only its magic bytes and footer."""
    return _parse_footer(os.fstat(fd).st_size, lambda at, n: os.pread(fd, n, at))


def _parse_footer(size: int, read: Callable[[int, int], bytes]) -> tuple[list[list[Any]], int]:
    """`_footer` of a file of `size` bytes whose byte ranges `read(offset, count)` gives: the magic bytes checked,
    the footer parsed with nothing left over."""
    if size < 12:
        raise ParquetConcatError("not a Parquet file (magic bytes)")
    tail = read(size - 8, 8)
    if read(0, 4) != MAGIC or tail[4:] != MAGIC:
        raise ParquetConcatError("not a Parquet file (magic bytes)")
    n = int.from_bytes(tail[:4], "little")
    start = size - 8 - n
    if start < 4:
        raise ParquetConcatError("footer length out of range")
    footer = read(start, n)
    if len(footer) != n:
        raise ParquetConcatError("file shorter than its footer says")
    reader = _Reader(footer)
    meta = reader.struct()
    if reader.pos != n:
        raise ParquetConcatError("footer has trailing bytes")
    return meta, start


# FileMetaData: 1 version, 2 schema, 3 num_rows, 4 row_groups, 5 key_value_metadata, 6 created_by, 7 column_orders.
# RowGroup: 1 columns, 5 file_offset, 7 ordinal. ColumnChunk: 1 file_path, 2 file_offset, 3 meta_data,
# 4 offset_index_offset, 6 column_index_offset. ColumnMetaData: 9 data_page_offset, 10 index_page_offset,
# 11 dictionary_page_offset, 14 bloom_filter_offset.
_CHUNK_OFFSETS = (2, 4, 6)
_META_OFFSETS = (9, 10, 11, 14)


def _shift_row_group(rg: list[list[Any]], shift: int, ordinal: int) -> None:
    for fid, t, v in rg:
        if fid == 1 and t == _LIST:
            for chunk in v[1]:
                if _field(chunk, 1) is not None:
                    raise ParquetConcatError("a column chunk in another file (file_path) cannot be moved")
                for f in chunk:
                    if f[0] in _CHUNK_OFFSETS and f[1] == _I64:
                        f[2] += shift
                    elif f[0] == 3 and f[1] == _STRUCT:
                        for m in f[2]:
                            if m[0] in _META_OFFSETS and m[1] == _I64:
                                m[2] += shift
    for f in rg:
        if f[0] == 5 and f[1] == _I64:
            f[2] += shift
        elif f[0] == 7 and f[1] == _I16:
            f[2] = ordinal


def concat_files(parts: list[Path], out: Path) -> int:
    """Write `out` as the concatenation of the Parquet files `parts` (same schema, plain footers) and return its
    row count; ParquetConcatError when they cannot be concatenated this way (nothing is left at `out` then)."""
    if not parts:
        raise ParquetConcatError("nothing to concatenate")
    joined = Concatenation(out)
    try:
        for part in parts:
            joined.add(part)
        return joined.close()
    except BaseException:
        joined.abort()
        raise


class Concatenation:
    """`concat_files` one part at a time, so each part is appended as soon as it exists: the column chunks are
    copied in the kernel (copy_file_range) where it can, and only each part's footer is read into memory."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self._fd: int | None = os.open(self.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        self._pos = 0
        self._first: list[list[Any]] | None = None  # the first part's footer, whose fields the output keeps
        self._row_groups: list[Any] = []
        self._rows = 0
        try:
            self._append(MAGIC)
        except BaseException:
            self.abort()
            raise

    def _append(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._require_fd(), view):]
        self._pos += len(data)

    def _require_fd(self) -> int:
        if self._fd is None:
            raise ParquetConcatError("the concatenation is closed")
        return self._fd

    def add(self, part: Path) -> int:
        """Append one Parquet file (its schema must be the first part's); the number of bytes appended."""
        name = Path(part).name
        src = os.open(part, os.O_RDONLY)
        try:
            meta, start = _read_footer(src)
            if self._first is None:
                self._first = meta
            elif _field(meta, 2) != _field(self._first, 2):
                raise ParquetConcatError(f"{name}: another schema")
            if any(f[0] > 7 for f in meta):
                raise ParquetConcatError(f"{name}: encrypted or extended footer")
            groups = _field(meta, 4)
            for rg in groups[2][1] if groups else []:
                _shift_row_group(rg, self._pos - len(MAGIC), len(self._row_groups))
                self._row_groups.append(rg)
            num = _field(meta, 3)
            self._rows += num[2] if num else 0
            _copy_range(src, self._require_fd(), len(MAGIC), start - len(MAGIC))
            self._pos += start - len(MAGIC)
            return start - len(MAGIC)
        finally:
            os.close(src)

    def sync(self) -> None:
        """fdatasync what has been appended so far (the file's final fsync then has little left to write); fsync
        where the system has no fdatasync (macOS)."""
        getattr(os, "fdatasync", os.fsync)(self._require_fd())

    def close(self) -> int:
        """Write the footer listing every row group and close the file; its row count."""
        if self._first is None:
            raise ParquetConcatError("nothing to concatenate")
        meta = [list(f) for f in self._first]
        for f in meta:
            if f[0] == 3:
                f[2] = self._rows
            elif f[0] == 4:
                f[2] = (_STRUCT, self._row_groups)
        w = _Writer()
        w.struct(meta)
        self._append(bytes(w.out) + len(w.out).to_bytes(4, "little") + MAGIC)
        fd, self._fd = self._require_fd(), None
        os.close(fd)
        return self._rows

    def abort(self) -> None:
        """Close and remove the unfinished file."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        self.out.unlink(missing_ok=True)


class LenientConcatenation:
    """A Concatenation that gives up quietly: a part it cannot append removes the file, and `close` then returns
    None, so the caller writes the file another way."""

    GIVE_UP = (ParquetConcatError, OSError, IndexError, ValueError)

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self._joined: Concatenation | None = None
        try:
            self._joined = Concatenation(self.out)
        except self.GIVE_UP:
            self._joined = None

    def add(self, part: Path) -> int:
        """Append a part, or give up; the number of bytes appended (0 once given up)."""
        if self._joined is not None:
            try:
                return self._joined.add(part)
            except self.GIVE_UP:
                self.abort()
        return 0

    def sync(self) -> None:
        """fdatasync what has been appended so far, or give up."""
        if self._joined is not None:
            try:
                self._joined.sync()
            except self.GIVE_UP:
                self.abort()

    def close(self) -> Path | None:
        """The finished file, or None when it was given up."""
        if self._joined is None:
            return None
        try:
            self._joined.close()
        except self.GIVE_UP:
            self.abort()
            return None
        self._joined = None
        return self.out

    def abort(self) -> None:
        """Remove the file unless it was closed (nothing to do after `close`)."""
        joined, self._joined = self._joined, None
        if joined is not None:
            joined.abort()


_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.ETXTBSY}


def _copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """Append `count` bytes of `src` from `offset` at `dst`'s position: in the kernel where the system can
    (copy_file_range), else through a buffer."""
    kernel = getattr(os, "copy_file_range", None)
    while count > 0:
        n = 0
        if kernel is not None:
            try:
                n = kernel(src, dst, count, offset)
            except OSError as exc:
                if exc.errno not in _NO_KERNEL_COPY:
                    raise
                kernel = None
        if not n:
            data = os.pread(src, min(count, 1 << 22), offset)
            if not data:
                raise ParquetConcatError("file shorter than its footer says")
            view = memoryview(data)
            while view:
                view = view[os.write(dst, view):]
            n = len(data)
        offset += n
        count -= n
