"""Generic CSV/TSV: columns named by ``--columns`` (or a header named as ours) and the advice for a table no
format recognises."""
from __future__ import annotations

import csv
import math
from typing import Mapping

from ...errors import DataFormatError
from ..formats import FORMATS
from .schema import COLUMNS, FormatSchema
from .times import _raw

# generic_csv has no row: its columns come from --columns or a header named as ours (_generic_schema).
GENERIC_RECOGNISED_BY = ("`--columns`, or a header with `user`, `item`, `timestamp` (and `text`, `rating`, `title` "
                         "when present)")
_MAP_REQUIRED = ("user", "item", "timestamp")
_MAP_OPTIONAL = ("text", "rating", "title")  # no text: a ratings-only file, text "" on every row
_COLUMNS_USAGE = "--columns user=COL,item=COL,timestamp=COL[,text=COL][,rating=COL][,title=COL]"
_POSITIONS_USAGE = "--columns user=1,item=2,rating=3,timestamp=4"  # a headerless file: columns by position
_UNKNOWN_FIX = (f"Known formats: {', '.join(FORMATS)}. For any other table of reviews, save it as CSV or TSV "
                f"with a header row and name its columns with {_COLUMNS_USAGE} (read as generic_csv; without "
                f"text=, a ratings-only file); a file without a header row names them by position, e.g. "
                f"{_POSITIONS_USAGE}.")


def _generic_schema(column_map: Mapping[str, str] | None, header: list[str]) -> FormatSchema:
    """Without a map, columns named as ours; the optional ones (text included) only when the header has them."""
    names = column_map or {column: column for column in COLUMNS if column in _MAP_REQUIRED or column in header}
    return FormatSchema("generic_csv", names["user"], names["item"], names.get("text"), names["timestamp"], _raw,
                   rating=names.get("rating"), title=names.get("title"))


def parse_column_map(spec: str) -> dict[str, str]:
    """Parse ``user=uid,item=iid,timestamp=ts[,text=body][,rating=stars][,title=head]`` (the --columns value).

    Without ``text`` the file is ratings-only: every text is "" and text models refuse the dataset.
    All columns given as numbers (``user=1,item=2,rating=3,timestamp=4``) name positions, counted from
    1, in a file WITHOUT a header row (e.g. SNAP's ratings_*.csv). Such files are never detected on
    their own: nothing in ``A1,B2,5.0,1383609600`` says which column is the user and which the item,
    and a swapped guess would load silently wrong.
    """
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, source = (s.strip() for s in part.partition("="))
        if not (sep and key and source):
            raise _column_map_error(spec, f"{part.strip()!r} is not of the form field=column.")
        if key in mapping:
            raise _column_map_error(spec, f'it names "{key}" twice.')
        mapping[key] = source
    _check_column_map(mapping, spec)
    return mapping


def _check_column_map(mapping: Mapping[str, str], spec: str) -> None:
    unknown = [key for key in mapping if key not in _MAP_REQUIRED + _MAP_OPTIONAL]
    missing = [key for key in _MAP_REQUIRED if key not in mapping]
    if unknown:
        raise _column_map_error(spec, f"{', '.join(unknown)} is not a field we read.")
    if missing:
        raise _column_map_error(spec, f"it does not say which column holds the {', '.join(missing)}.")
    numbered = [source.isdigit() for source in mapping.values()]
    if any(numbered) and not all(numbered) or "0" in mapping.values():
        raise _column_map_error(spec, "it mixes column names and positions, or counts positions from 0.")


def _positions(column_map: Mapping[str, str] | None) -> bool:
    """Whether --columns names columns by position (a file without a header row)."""
    return bool(column_map) and all(source.isdigit() for source in column_map.values())


def _column_map_error(spec: str, problem: str) -> DataFormatError:
    fix = (f"Write it as {_COLUMNS_USAGE}, naming columns of the file's header row, or by position "
           f"(from 1) for a file without one, e.g. {_POSITIONS_USAGE}.")
    return DataFormatError(f"--columns {spec!r}", problem, fix)


def _looks_like_headerless_ratings(lines: list[str], delimiter: str) -> bool:
    """4 fields with a numeric rating and timestamp on every sampled line: only used to advise, never to read."""
    try:
        return all(len(row) == 4 and all(math.isfinite(float(v)) for v in row[2:])
                   for row in csv.reader(lines, delimiter=delimiter))
    except ValueError:
        return False
