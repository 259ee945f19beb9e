"""Which format a file is, judged from its first records, never from its name: JSON formats by the keys their
rows' ``recognise`` rules look for, tables by the header columns of their rows, in registry order."""
from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Mapping

from ...errors import DataFormatError
from .catalogue import SCHEMAS
from .generic import _MAP_REQUIRED, _POSITIONS_USAGE, _UNKNOWN_FIX, _looks_like_headerless_ratings
from .json_records import _array_records, _parse_json
from .opening import _sample
from .schema import _BadRecord

_DELIMITERS = ",\t;|"


def detect_format(path: str | Path, column_map: Mapping[str, str] | None = None) -> str:
    """The file's format, one of ``FORMATS``, judged from its first lines (the file name is ignored);
    a ``column_map`` makes a table generic_csv."""
    path = Path(path)
    return _detect(path, _sample(path), column_map)


def _detect(path: Path, lines: list[str], column_map: Mapping[str, str] | None) -> str:
    if lines[0].startswith("{"):
        return _json_format(path, lines)
    if lines[0].startswith("["):  # a JSON array, never a CSV header
        return _json_format(path, [value for _, value in _array_records(path)], array=True)
    header, delimiter = _csv_header(path, lines[0])
    if column_map is not None:
        return "generic_csv"
    for schema in SCHEMAS.values():  # registry order: a 2023 CSV with text before the ratings-only one
        if schema.header and schema.header <= set(header):
            return schema.fmt
    if set(_MAP_REQUIRED) <= set(header):
        return "generic_csv"
    fix = _UNKNOWN_FIX
    if _looks_like_headerless_ratings(lines, delimiter):
        fix = (f"It looks like ratings without a header row (4 fields, the last two numbers). If its columns are "
               f"user, item, rating, timestamp (as SNAP's ratings_*.csv), pass {_POSITIONS_USAGE}; "
               "otherwise name the positions as they are.")
    raise DataFormatError(path, f"its content matches no known format (header: {', '.join(header[:12])}).",
                          fix, line=1)


def _json_format(path: Path, records: list, array: bool = False) -> str:
    """Tell the JSON formats apart by the keys of the sampled records (lines of text, or array elements)."""
    keys: set[str] = set()
    for record in records:
        if array:
            keys |= record.keys() if isinstance(record, dict) else set()
            continue
        with contextlib.suppress(_BadRecord):
            keys |= _parse_json(record).keys()
    for schema in SCHEMAS.values():  # registry order
        if schema.recognise is not None and schema.recognise(keys):
            return schema.fmt
    what = "elements" if array else "lines"
    problem = (f"its JSON records (keys: {', '.join(sorted(keys)[:12])}) match no known review format."
               if keys else f"it starts like JSON {'array' if array else 'lines'}, but none of its first "
               f"{len(records)} {what} is a JSON object.")
    raise DataFormatError(path, problem, _UNKNOWN_FIX, line=1)


def _csv_header(path: Path, first_line: str) -> tuple[list[str], str]:
    """Header fields and delimiter: the candidate delimiter found most often in the header line."""
    delimiter = max(_DELIMITERS, key=first_line.count)
    if delimiter not in first_line:
        raise DataFormatError(path, f"its content matches no known format (first line: {first_line[:80]!r}).",
                              _UNKNOWN_FIX, line=1)
    try:
        return [name.strip() for name in next(csv.reader([first_line], delimiter=delimiter))], delimiter
    except csv.Error:  # control bytes: binary or compressed data, not a table
        raise DataFormatError(path, f"its content matches no known format (the first line holds control bytes: "
                              f"{first_line[:40]!r}; binary or compressed data?).", _UNKNOWN_FIX, line=1) from None
