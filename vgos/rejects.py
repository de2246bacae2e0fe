"""A window's rejects kept as columns: a list of `Reject` to every reader, built only when one is read, while the
fold's outputs (rejects.jsonl, the transcript's `rejects` segment, counts by reason) are written column-wise.

Hundreds of thousands of rejects (late events, duplicates) made the per-record objects and their JSON one of the
largest costs of a fold; the bytes written are exactly those of the per-object code (tests hold them equal).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any, overload

import orjson
import polars as pl

from vgos.canonical import json_string
from vgos.canonical_rows import _needs_escape, _row_buffers, leaf_pieces
from vgos.events import REASONS, Reject


def _short_name(name: str) -> str:
    """The file name a transcript keeps of a source path (as vgos.transcript._reject_entry shortens it)."""
    return name.replace(chr(92), "/").rsplit("/", 1)[-1]


def _json_pieces(col: str, frame: pl.DataFrame, before: str, after: str, escape: bool | None = None
                 ) -> list[pl.Expr]:
    """`concat_str` pieces of `before` + the RFC 8785 (= orjson) form of a string column + `after`, `null` for
    nulls: when no value is null or needs escaping, the column itself between literal quotes (no quoted copy of it
    is built first); per-value escaping only when some value needs it (`escape`, when the caller knows)."""
    series = frame[col]
    escape = _needs_escape(series) if escape is None else escape
    if series.null_count() == 0 and not escape:
        return [pl.lit(before + '"'), pl.col(col), pl.lit('"' + after)]
    if escape:
        quoted = pl.col(col).map_elements(json_string, return_dtype=pl.String, skip_nulls=True)
    else:
        quoted = pl.lit('"') + pl.col(col) + pl.lit('"')
    return [pl.lit(before), pl.when(pl.col(col).is_null()).then(pl.lit("null")).otherwise(quoted), pl.lit(after)]


def _reason_names() -> pl.Expr:
    """The reason code names of the `_reason` column (its values index REASONS)."""
    return pl.col("_reason").replace_strict(pl.Series(range(len(REASONS)), dtype=pl.UInt8),
                                            pl.Series(list(REASONS), dtype=pl.String), return_dtype=pl.String)


_REJECT_COLUMNS = ("event_id", "_file", "_line", "_reason")
_EMPTY_SCHEMA = {"event_id": pl.String, "_file": pl.Int32, "_line": pl.Int64, "_reason": pl.UInt8}


class RejectLog(Sequence[Reject]):
    """Rejects in (file, line) order: field-less intake rejects as a frame (event_id, _file, _line, _reason code)
    plus the few records rejected while reading (schema) as objects, merged by (file, line) like the fold did."""

    def __init__(self, frame: pl.DataFrame | list[pl.DataFrame], sources: list[str],
                 schema: list[tuple[int, int, Reject]]) -> None:
        """`frame`: the intake rejects in (file, line) order, or frames of them in any order, sorted only when
        first read in order (a fold that writes its rejects early sorts them there, off its intake's path)."""
        self._given = list(frame) if isinstance(frame, list) else None
        self._sorted = None if isinstance(frame, list) else frame.select(*_REJECT_COLUMNS)
        self._sorting = threading.Lock()
        self._sources = list(sources)
        self._schema = sorted(schema, key=lambda t: (t[0], t[1]))
        self._list: list[Reject] | None = None
        self._prepared: tuple[pl.DataFrame, bool] | None = None

    @property
    def _frame(self) -> pl.DataFrame:
        """The intake rejects in (file, line) order (each record has its own (file, line): one order only)."""
        with self._sorting:  # one sort, and no reader of `_given` after it is cleared
            return self._sort()

    def _sort(self) -> pl.DataFrame:
        if self._sorted is None:
            given = self._given or []
            frame = (pl.concat([f.select(*_REJECT_COLUMNS) for f in given]) if given
                     else pl.DataFrame(schema=_EMPTY_SCHEMA))
            self._sorted = frame.sort(["_file", "_line"])
            self._given = None
        return self._sorted

    # ------------------------------------------------------------------ the list every reader sees

    def _items(self) -> list[Reject]:
        if self._list is None:
            import heapq

            from vgos.fold import _reject_objects

            rej = self._frame
            objects = _reject_objects(rej, self._sources)
            if self._schema:
                positions = zip(rej["_file"].to_list(), rej["_line"].to_list(), objects, strict=True)
                merged = heapq.merge(self._schema, positions, key=lambda t: (t[0], t[1]))
                objects = [r for _, _, r in merged]
            self._list = objects
        return self._list

    def _unordered(self) -> list[pl.DataFrame]:
        """The intake rejects as frames, sorted or not: what length and counts read, without sorting."""
        with self._sorting:
            return [self._sorted] if self._sorted is not None else list(self._given or [])

    def __len__(self) -> int:
        return sum(f.height for f in self._unordered()) + len(self._schema)

    @overload
    def __getitem__(self, i: int) -> Reject: ...

    @overload
    def __getitem__(self, i: slice) -> list[Reject]: ...

    def __getitem__(self, i: int | slice) -> Reject | list[Reject]:
        return self._items()[i]

    def __iter__(self) -> Iterator[Reject]:
        return iter(self._items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RejectLog | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RejectLog({len(self)} rejects)"

    # ------------------------------------------------------------------ column-wise outputs

    def by_reason(self) -> dict[str, int]:
        """Reject counts per reason code, in code order."""
        counts: dict[str, int] = {}
        for frame in self._unordered():
            if frame.height:
                for code, n in frame.group_by("_reason").len().iter_rows():
                    counts[REASONS[code]] = counts.get(REASONS[code], 0) + int(n)
        for _f, _l, r in self._schema:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return dict(sorted(counts.items()))

    def _prepare(self) -> tuple[pl.DataFrame, bool]:
        """The frame with its reason names and line numbers as strings, and whether some event_id needs escaping:
        what the rows of both column-wise outputs read, made once (`_line_str`, `_reason_name`)."""
        if self._prepared is None:
            frame = self._frame.with_columns(pl.col("_line").cast(pl.String).alias("_line_str"),
                                             _reason_names().alias("_reason_name"))
            self._prepared = (frame, _needs_escape(frame["event_id"]))
        return self._prepared

    def _merged_lines(self, frame_line: pl.Expr, schema_line: Any) -> list[Any]:
        """Per reject, in (file, line) order, its serialized form: `frame_line` for the frame part (a string
        expression over `_prepare`'s frame), `schema_line(reject)` (bytes) for the others; returned as few large
        buffers, not copied (the Arrow buffers of the column), so they can be hashed and written without joining
        them."""
        parts = self._prepare()[0].select(pl.col("_file"), pl.col("_line"), frame_line.alias("s"))
        if self._schema:
            extra = pl.DataFrame({"_file": [f for f, _l, _r in self._schema],
                                  "_line": [ln for _f, ln, _r in self._schema],
                                  "s": [schema_line(r).decode() for _f, _l, r in self._schema]},
                                 schema={"_file": parts.schema["_file"], "_line": parts.schema["_line"],
                                         "s": pl.String})
            parts = pl.concat([parts, extra]).sort(["_file", "_line"], maintain_order=True)
        if parts.height == 0:
            return []
        return _row_buffers(parts["s"])

    def _source_exprs(self, short: bool) -> tuple[pl.Expr, pl.Expr]:
        """(opening of the JSON source string per file, the line digits): `"<name>:` + line + `"`."""
        names = [(_short_name(s) if s else "") if short else s for s in self._sources]
        if len(names) == 1:  # one input file: the same opening on every row
            return pl.lit(json_string(names[0] + ":")[:-1]), pl.col("_line_str")
        opening = pl.Series([json_string(n + ":")[:-1] for n in names], dtype=pl.String)
        head = pl.col("_file").replace_strict(pl.Series(range(len(names)), dtype=pl.Int32), opening,
                                              return_dtype=pl.String)
        return head, pl.col("_line_str")

    def jsonl_bytes(self) -> bytes:
        """rejects.jsonl: exactly `orjson.dumps(r.to_dict()) + b"\\n"` per reject, built column-wise."""
        return b"".join(self.jsonl_parts())

    def jsonl_parts(self) -> list[Any]:
        """`jsonl_bytes` as buffers whose concatenation is the file (written as they are, never joined)."""
        head, line = self._source_exprs(short=False)
        frame, escape = self._prepare()
        row = pl.concat_str([*_json_pieces("event_id", frame, '{"event_id":', ',"reason":"', escape),
                             pl.col("_reason_name"), pl.lit('","source":'), head, line,
                             pl.lit('","field":null,"detail":null}\n')])
        return self._merged_lines(row, lambda r: orjson.dumps(r.to_dict()) + b"\n")

    def transcript_bytes(self) -> bytes | None:
        """The transcript's `rejects` segment (`rejects_segment_bytes(_reject_entries(list(self)))`) built
        column-wise; None when a read-time reject holds a value that is not a string or null (then the generic
        path decides)."""
        parts = self.transcript_parts()
        return None if parts is None else b"".join(parts)

    def transcript_parts(self) -> list[Any] | None:
        """`transcript_bytes` as buffers whose concatenation is the segment (hashed and written without a join)."""
        from vgos.transcript import _reject_entries

        entries = [e for e in _reject_entries([r for _f, _l, r in self._schema])]
        if not all(type(v) is str or v is None for e in entries for v in e.values()):
            return None
        by_id = {id(r): e for (_f, _l, r), e in zip(self._schema, entries, strict=True)}
        head, line = self._source_exprs(short=True)
        frame, escape = self._prepare()
        row = pl.concat_str([*_json_pieces("event_id", frame, '{"event_id":', ',"field":null,"reason":"', escape),
                             pl.col("_reason_name"), pl.lit('","source":'), head, line, pl.lit('"},')])
        body = self._merged_lines(row, lambda r: orjson.dumps(by_id[id(r)], option=orjson.OPT_SORT_KEYS) + b",")
        return leaf_pieces(body)


def frame_rejects(rejects: Sequence[Reject]) -> RejectLog | None:
    """The column-wise log behind a fold's rejects, when it has one."""
    return rejects if isinstance(rejects, RejectLog) else None
