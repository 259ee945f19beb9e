"""Tables: CSV/TSV through the csv module (which knows the line each record starts on), and tab-separated files
with no quoting at all (``FormatSchema.quoted`` False), split on tabs only."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator, Mapping

from ...errors import DataFormatError
from .generic import _UNKNOWN_FIX, _positions
from .opening import (
    _STREAM_ERRORS,
    _TRUNCATED_FIX,
    _open_binary,
    _progress,
    _stream_problem,
    _utf8_error,
    _utf8_problem,
)
from .schema import _SKIP_HINT, FormatSchema, _BadRecord
from .sink import _Sink

# The two csv.Error messages that mean a quote was never closed, so the rest of the file is one field.
_UNCLOSED_QUOTE = ("unexpected end of data", "field larger than field limit")


def _read_unquoted_tsv(path: Path, schema: FormatSchema, sink: _Sink, progress: bool) -> None:
    """One record per line, fields split on tabs and nothing else: the file has no quoting, so a body
    starting with a quote is text, not a quoted field. A line with the wrong number of fields is a bad record."""
    header: list[str] | None = None
    line = 0
    with _open_binary(path) as stream:
        try:
            for line, raw in enumerate(_progress(stream, path, progress), 1):
                try:
                    text = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    sink.bad(line, _utf8_problem(raw, exc), sink.encoding_fix())
                    continue
                if header is None:
                    if text.strip():
                        header = [name.strip() for name in text.lstrip("\ufeff").split("\t")]
                    continue
                if not text.strip():
                    continue
                fields = text.split("\t")
                if len(fields) != len(header):
                    sink.bad(line, f"the line has {len(fields)} tab-separated fields but the header has "
                             f"{len(header)} (a tab or line break inside a review?).",
                             "Fix or delete that line, " + _SKIP_HINT)
                    continue
                try:
                    sink.add(schema.row(dict(zip(header, fields))))
                except _BadRecord as bad:
                    sink.bad(line, bad.problem, bad.fix)
        except _STREAM_ERRORS as exc:
            sink.bad(None, _stream_problem(exc, stream, line), _TRUNCATED_FIX)


def _check_header(path: Path, header: list[str], schema: FormatSchema, column_map: Mapping[str, str] | None) -> None:
    """Columns the schema needs must be in the header; rating and title only when --columns names them."""
    needed = (list(column_map.values()) if column_map
              else [name for name in (schema.user, schema.item, schema.text, schema.timestamp) if name])
    missing = [name for name in needed if name not in header]
    if missing and _positions(column_map):
        raise DataFormatError(path, f"--columns names position {', '.join(missing)}, but the first line has "
                              f"{len(header)} fields.", "Count positions from 1 in the first line.", line=1)
    if missing:
        raise DataFormatError(path, f"the header has no column {', '.join(missing)}, which {schema.fmt} needs "
                              f"(it has: {', '.join(header[:20])}).", _UNKNOWN_FIX, line=1)


def _read_csv(path: Path, delimiter: str, schema: FormatSchema, sink: _Sink, progress: bool,
              header: list[str] | None = None) -> None:
    """Parse with the csv module, which knows the physical line where each record starts.

    ``header``: the column names of a file without a header row (its first row is then data)."""
    with _open_binary(path) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        reader = csv.reader(_progress(text, path, progress), delimiter=delimiter, strict=True)
        try:
            if header is None:
                header = [name.strip() for name in next(filter(None, reader))]  # first non-blank row
            for line, row in _csv_rows(reader):
                if isinstance(row, csv.Error):
                    _csv_error(path, row, line, reader.line_num, sink)
                elif row:
                    _add_csv_row(header, row, line, schema, sink)
        except UnicodeDecodeError:
            raise _utf8_error(path) from None
        except _STREAM_ERRORS as exc:
            sink.bad(None, _stream_problem(exc, stream, reader.line_num), _TRUNCATED_FIX)


def _csv_rows(reader) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """(first line, fields) per record; a csv.Error takes the place of the fields so reading can go on."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row = exc
        yield line, row


def _csv_error(path: Path, exc: csv.Error, line: int, last_line: int, sink: _Sink) -> None:
    if str(exc).startswith(_UNCLOSED_QUOTE):  # the rest of the file was swallowed: never skippable
        raise DataFormatError(path, f"a quoted field in the record starting here is never closed, so everything "
                              f"up to line {last_line} would be one field ({exc}).",
                              'Close or remove the stray quote (a quote inside a quoted field is written "").',
                              line=line)
    sink.bad(line, f"unreadable CSV ({exc}).", "Fix the quoting of that row, or delete it, " + _SKIP_HINT)


def _add_csv_row(header: list[str], row: list[str], line: int, schema: FormatSchema, sink: _Sink) -> None:
    if len(row) != len(header):
        sink.bad(line, f"the row has {len(row)} fields but the header has {len(header)} (a stray delimiter "
                 "or quote?).", "Fix or delete that row, " + _SKIP_HINT)
        return
    try:
        sink.add(schema.row(dict(zip(header, row))), line)
    except _BadRecord as bad:
        sink.bad(line, bad.problem, bad.fix)
