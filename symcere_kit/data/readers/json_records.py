"""JSON records, one per line or as one JSON array, both streamed; McAuley's loose JSON (Python literals) too."""
from __future__ import annotations

import ast
import codecs
import json
import re
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from ...errors import DataFormatError
from .opening import (
    _SAMPLE_LINES,
    _STREAM_ERRORS,
    _TRUNCATED_FIX,
    _encoding_fix,
    _open_binary,
    _progress,
    _stream_problem,
    _utf8_problem,
)
from .schema import _SKIP_HINT, FormatSchema, _BadRecord
from .sink import _Sink

_CHUNK_BYTES = 1 << 20  # JSON arrays are decoded in chunks of this many bytes


def _parse_json(text: str) -> dict:
    """One JSON object; McAuley's older "loose JSON" (Python dict literals) goes through literal_eval."""
    try:
        record = json.loads(text)
    except RecursionError:
        raise _BadRecord("its JSON is nested too deeply to read (a thousand or more levels).",
                         "Fix or delete that line, " + _SKIP_HINT) from None
    except json.JSONDecodeError as exc:
        record = _loose_json(text) if text.startswith("{'") else None
        if record is None:  # json's messages may end in "at" ("Invalid control character at")
            raise _BadRecord(f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno}): the record "
                             "is cut short or corrupt.", "Fix or delete that line, " + _SKIP_HINT) from None
    if not isinstance(record, dict):
        raise _BadRecord("the line is JSON but not an object {...}.", "Fix or delete that line, " + _SKIP_HINT)
    return record


def _loose_json(text: str) -> Any:
    try:
        return ast.literal_eval(text)  # literals only: safe on untrusted input, unlike eval
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _read_json_lines(path: Path, schema: FormatSchema, sink: _Sink, progress: bool) -> None:
    """Stream lines as bytes and decode each strictly, so a bad byte is pinned to its line."""
    line = 0
    with _open_binary(path) as stream:
        try:
            for line, raw in enumerate(_progress(stream, path, progress), 1):
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    sink.bad(line, _utf8_problem(raw, exc), sink.encoding_fix())
                    continue
                try:
                    sink.add(schema.row(_parse_json(text.lstrip("\ufeff").strip())))
                except _BadRecord as bad:
                    sink.bad(line, bad.problem, bad.fix)
        except _STREAM_ERRORS as exc:
            sink.bad(None, _stream_problem(exc, stream, line), _TRUNCATED_FIX)


class _ArrayError(Exception):
    """The JSON array cannot be read on from here: no record boundary to resume at, so never skippable."""

    def __init__(self, line: int, problem: str, truncated: bool = False):
        super().__init__(problem)
        self.line, self.problem, self.truncated = line, problem, truncated


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _text_chunks(stream: BinaryIO) -> Iterator[str]:
    """Strictly decoded UTF-8 text in chunks; a bad byte raises _ArrayError naming its line."""
    decoder, line = codecs.getincrementaldecoder("utf-8")("strict"), 1
    while True:
        chunk = stream.read(_CHUNK_BYTES)
        try:
            text = decoder.decode(chunk, final=not chunk)  # keeps a character split between chunks for the next
        except UnicodeDecodeError as exc:  # exc.object: the bytes held back (never a newline) + this chunk
            data = exc.object
            start = data.rfind(b"\n", 0, exc.start) + 1
            raise _ArrayError(line + data.count(b"\n", 0, exc.start), f"byte 0x{data[exc.start]:02x} at byte "
                              f"{exc.start - start + 1} of the line is not valid UTF-8.") from None
        line += chunk.count(b"\n")
        if text:
            yield text
        if not chunk:
            return


def _json_array(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """(line where it starts, value) for each element of the top-level JSON array in ``stream``, streamed.

    ``raw_decode`` parses one element at a time from a rolling buffer; an element cut by the chunk
    boundary fails to parse and is retried with the next chunk. (ijson streams too, but cannot say on
    which line a record starts.) A syntax error raises _ArrayError: there is no line structure to
    resume at; an array cut short raises it with ``truncated`` set, after every whole element.
    """
    decoder = json.JSONDecoder()
    chunks = _text_chunks(stream)
    buf, pos, line, eof, state = "", 0, 1, False, "open"
    while True:
        end = _WHITESPACE.match(buf, pos).end()
        line, pos = line + buf.count("\n", pos, end), end
        if pos == len(buf):
            if eof:
                break
            buf, pos = buf[pos:] + next(chunks, ""), 0
            eof = pos == len(buf)
            continue
        char = buf[pos]
        if state == "open":
            if char == "\ufeff" and line == 1:
                pos += 1
                continue
            if char != "[":
                raise _ArrayError(line, "it does not start with a JSON array.")
            pos, state = pos + 1, "first"
        elif state in ("first", "value"):
            if char == "]" and state == "first":
                pos, state = pos + 1, "done"
                continue
            try:
                value, end = decoder.raw_decode(buf, pos)
            except RecursionError:
                raise _ArrayError(line, "the JSON record starting here is nested too deeply to read (a thousand or "
                                  "more levels), and the array cannot be read on past it.") from None
            except json.JSONDecodeError as exc:
                more = "" if eof else next(chunks, "")
                if more:  # maybe cut by the chunk boundary: retry with more text
                    buf, pos = buf[pos:] + more, 0
                    continue
                eof = True
                if exc.pos >= len(buf.rstrip()) or exc.msg.startswith("Unterminated string"):
                    raise _ArrayError(line, "the JSON array ends inside this record: the file is truncated.",
                                      truncated=True) from None
                where = line + buf.count(chr(10), pos, exc.pos)
                raise _ArrayError(line, f"the JSON record starting here is not valid JSON "
                                  f"({exc.msg.removesuffix(' at')} at line {where}), and the array cannot be read on "
                                  "past it.") from None
            yield line, value
            line, pos, state = line + buf.count("\n", pos, end), end, "sep"
        elif state == "sep":
            if char not in ",]":
                raise _ArrayError(line, f"expected , or ] between the records of the JSON array, found {char!r}.")
            pos, state = pos + 1, ("value" if char == "," else "done")
        else:
            raise _ArrayError(line, "there is more text after the end of the JSON array.")
    if state != "done":
        raise _ArrayError(line, "the JSON array is never closed with ]: the file is truncated.", truncated=True)


def _array_records(path: Path) -> list[tuple[int, Any]]:
    """(line, element) of the first elements of a JSON-array file, for detection and the time column; an error
    in them says what is wrong."""
    records: list = []
    with _open_binary(path) as stream:
        try:
            for line, value in _json_array(stream):
                records.append((line, value))
                if len(records) == _SAMPLE_LINES:
                    break
        except _ArrayError as exc:
            if not (exc.truncated and records):
                raise DataFormatError(path, f"it starts like a JSON array, but {exc.problem}",
                                      "Fix the file (a JSON array of review objects, or one JSON object per line), "
                                      + _SKIP_HINT if exc.truncated else "Fix the file.", line=exc.line) from None
        except _STREAM_ERRORS as exc:
            if not records:
                raise DataFormatError(path, _stream_problem(exc, stream, 0), _TRUNCATED_FIX) from None
    return records


def _read_json_array(path: Path, schema: FormatSchema, sink: _Sink, progress: bool) -> None:
    """A JSON array of records, streamed; a bad field skips its record, bad JSON stops the read."""
    line = 0
    with _open_binary(path) as stream:
        try:
            for line, value in _progress(_json_array(stream), path, progress):
                if not isinstance(value, dict):
                    sink.bad(line, "the array element is JSON but not an object {...}.",
                             "Fix or delete that record, " + _SKIP_HINT)
                    continue
                try:
                    sink.add(schema.row(value))
                except _BadRecord as bad:
                    sink.bad(line, bad.problem, bad.fix)
        except _ArrayError as exc:
            if not exc.truncated:
                fix = _encoding_fix(path, False) if "UTF-8" in exc.problem else "Fix or delete that record."
                raise DataFormatError(path, exc.problem, fix, line=exc.line) from None
            sink.bad(exc.line, exc.problem, _TRUNCATED_FIX)
        except _STREAM_ERRORS as exc:
            sink.bad(None, _stream_problem(exc, stream, line), _TRUNCATED_FIX)
