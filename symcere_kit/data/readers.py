"""Read a raw review file of any supported format into one tidy table.

The format is detected from the content, never from the file name (downloads get renamed), and
gzip, a single-file zip (as Kaggle ships) and tar archives (Yelp's yelp_dataset.tar; plain or
gzip'ed) are opened transparently, a tar by member, streamed. JSON records may come one per
line (JSON lines) or as one JSON array (Kaggle / Hugging Face exports), read streamed either way.
Every reader returns the same columns in file order, because later steps break ties in time by file
order. Bad input raises
``DataFormatError`` naming the file, the line and the fix; with ``skip_bad_records=True`` bad
records are dropped and counted instead. Nothing here writes a file.
"""
from __future__ import annotations

import ast
import codecs
import contextlib
import csv
import dataclasses
import gzip
import io
import json
import math
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd

from ..errors import DataFormatError
from ..progress import progress_bar
from .formats import FORMATS
from .native_json import NativeRefused, spool_json_lines

COLUMNS = ("user", "item", "rating", "text", "title", "timestamp")

_SAMPLE_LINES = 50  # lines (or array records) read to detect the format
_SAMPLE_LINE_BYTES = 1 << 20  # a one-line JSON array must not be read whole just to detect it
_CHUNK_BYTES = 1 << 20  # JSON arrays are decoded in chunks of this many bytes
_PROGRESS_EVERY = 10_000  # lines between progress-bar updates: updating per line would cost more than parsing
_MAX_EXAMPLES = 5
_SPOOL_ROWS = 100_000  # rows held before they go to the spool file: ~50 MB of Python objects
# The spool's columns, rows in file order: ours and the blank-text flag that preprocess needs.
SPOOL_COLUMNS = (*COLUMNS, "blank")
_MILLISECONDS_ABOVE = 1e11  # an integer time above this is milliseconds: 1e11 seconds is the year 5138
_DELIMITERS = ",\t;|"
_AMAZON2018_ONLY = {"verified", "vote", "style", "image"}
_MAP_REQUIRED = ("user", "item", "timestamp")
_MAP_OPTIONAL = ("text", "rating", "title")  # no text: a ratings-only file, text "" on every row
# The two csv.Error messages that mean a quote was never closed, so the rest of the file is one field.
_UNCLOSED_QUOTE = ("unexpected end of data", "field larger than field limit")
_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, tarfile.ReadError)
_YELP_REVIEW_MEMBER = "yelp_academic_dataset_review.json"  # chosen by name in Yelp's multi-file tar

_COLUMNS_USAGE = "--columns user=COL,item=COL,timestamp=COL[,text=COL][,rating=COL][,title=COL]"
_POSITIONS_USAGE = "--columns user=1,item=2,rating=3,timestamp=4"  # a headerless file: columns by position
_UNKNOWN_FIX = (f"Known formats: {', '.join(FORMATS)}. For any other table of reviews, save it as CSV or TSV "
                f"with a header row and name its columns with {_COLUMNS_USAGE} (read as generic_csv; without "
                f"text=, a ratings-only file); a file without a header row names them by position, e.g. "
                f"{_POSITIONS_USAGE}.")
_REENCODE_FIX = ("Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT` "
                 "(for a .gz: `zcat IN.gz | iconv -f latin1 -t utf-8 | gzip > OUT.gz`).")
_ENCODING_SAMPLE_BYTES = 8 << 20  # judged on the first 8 MiB: enough characters to tell UTF-8 from Latin-1
# A valid UTF-8 multi-byte character (RFC 3629: no overlong forms, no surrogates).
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
                             rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
                             rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")
_SKIP_HINT = "or pass --skip-bad-records (skip_bad_records=True) to skip such records and count them."
_TRUNCATED_FIX = ("Download it again and compare its size with the source's, "
                  "or pass --skip-bad-records (skip_bad_records=True) to keep the lines before the cut.")


@dataclass
class ReadResult:
    """A review table with columns ``COLUMNS`` in file order, and what was skipped to get it.

    ``read_reviews`` fills ``frame``; ``spool_reviews`` leaves it None and names the Parquet ``spool``
    holding ``n_rows`` rows (``SPOOL_COLUMNS``)."""

    frame: pd.DataFrame | None
    format: str
    n_skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)  # up to 5, e.g. "line 17: not valid JSON ..."
    has_text: bool = True  # False for a ratings-only format or column map: every text is ""
    n_rows: int | None = None
    spool: Path | None = None
    engine: str = "python"  # "duckdb" when native_json read the file


class _BadRecord(Exception):
    """One record cannot be used; the reader adds the line and decides whether to raise or skip."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


# ---------------------------------------------------------------------------------------------
# Times: every format ends as int64 milliseconds since the epoch, UTC: Amazon 2023's times are in
# milliseconds, and cutting them to seconds would let file order decide between two reviews 400 ms apart.


def _as_int(value: Any) -> int:
    """Integers as they are; "1393545600" or 1393545600.0 (CSV cells, float columns) as integers; a JSON
    true/false is no time (TypeError), though Python counts bool as int."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a time")
    return value if isinstance(value, int) else int(float(value))


_EPOCH_DT = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_ms(value: Any) -> int:
    """An epoch time as a number, its unit judged by size (``_epoch_milliseconds``): the Amazon formats' rule, so
    a file re-saved in the other unit (2014's seconds as milliseconds, 2023's milliseconds as seconds) reads
    right; the publishers' own values are seconds below 1e11 and milliseconds above. ValueError otherwise."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a time")
    ms = _epoch_milliseconds(value)
    if ms is None:
        raise ValueError(f"{value!r} is not a number")
    return ms


def _utc_milliseconds(moment: datetime) -> int:
    """Milliseconds since the epoch; a time without a zone is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH_DT) // timedelta(milliseconds=1)


def _date_milliseconds(value: Any) -> int:
    """Yelp's "YYYY-MM-DD HH:MM:SS" (UTC); fromisoformat is much faster than pandas per record."""
    return _utc_milliseconds(datetime.fromisoformat(value))


def _dated_ms(fmt: str) -> Callable[[Any], int]:
    """The per-record rule reading a time string with ``fmt`` (a strptime format or "ISO8601"), UTC unless it
    carries a zone: what ``_parse_dates`` does for a column, one value at a time."""
    def to_ms(value: Any) -> int:
        text = value.strip()  # a number or None is no date: AttributeError, reported as a bad time
        moment = datetime.fromisoformat(text) if fmt == "ISO8601" else datetime.strptime(text, fmt)
        return _utc_milliseconds(moment)
    return to_ms


def _raw(value: Any) -> Any:
    """Generic CSV times are converted per column after the read (``_column_times``): keep the cell."""
    return value


# One format per column: a value-by-value parser reads 12/01/2014 month-first and 13/01/2014
# day-first in the same column. ISO 8601 (any separator, optional time and zone) is one candidate.
_DATE_FORMATS = ("ISO8601",
                 "%d/%m/%Y", "%m/%d/%Y", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
                 "%m/%d/%Y %H:%M:%S", "%d/%m/%y", "%m/%d/%y", "%d/%m/%y %H:%M", "%m/%d/%y %H:%M",
                 "%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d-%m-%Y", "%m-%d-%Y",
                 "%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S",
                 "%m %d, %Y",  # Amazon 2014's reviewTime, "05 13, 2014"
                 "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%a, %d %b %Y %H:%M:%S %z")
_EPOCH = pd.Timestamp(0, tz="UTC")


def _parse_dates(values: pd.Series, fmt: str) -> pd.Series:
    """UTC milliseconds (float, NaN where ``fmt`` does not read the value); a time without a zone is UTC."""
    moments = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    return (moments - _EPOCH) // pd.Timedelta(milliseconds=1)


def _epoch_milliseconds(value: str) -> int | None:
    """A number as epoch milliseconds, its unit judged by size: seconds up to 1e11, then milliseconds,
    microseconds above 1e14, nanoseconds above 1e17 (each bound is the year 5138 in the smaller unit);
    None if not a number."""
    try:
        number = _as_int(value)
    except (ValueError, OverflowError):
        return None
    size = abs(number)
    if size <= _MILLISECONDS_ABOVE:  # seconds
        return number * 1000
    if size <= _MILLISECONDS_ABOVE * 1e3:  # milliseconds
        return number
    if size <= _MILLISECONDS_ABOVE * 1e6:  # microseconds
        return number // 1000
    return number // 1_000_000  # nanoseconds


# ---------------------------------------------------------------------------------------------
# Schemas: which source field feeds which output column.


@dataclass(frozen=True)
class FormatSchema:
    """One review format of the registry ``SCHEMAS``: which source field feeds which output column, how its
    times read, how its lines split and how it is recognised. ``docs/data/index.md``'s formats table is made
    from these rows when the site is built.

    ``header``: for a CSV/TSV format, the header columns that identify it (``detect_format`` tries the rows in
    registry order); ``quoted``: False for a tab-separated format read with no quote processing (a ``"``
    inside a review is text); ``time_unit`` and ``recognised_by`` say in words what ``to_ms`` and the JSON
    formats' key rules do."""

    fmt: str
    user: str
    item: str
    text: str | None  # None: the format has no review text (ratings only)
    timestamp: str
    to_ms: Callable[[Any], int]  # the source's time value -> UTC milliseconds
    rating: str | None = None
    title: str | None = None
    time_unit: str = ""
    header: frozenset[str] = frozenset()
    quoted: bool = True
    recognised_by: str = ""

    def row(self, record: Mapping[str, Any]) -> tuple:
        """The output row of one parsed record, in ``COLUMNS`` order; raises _BadRecord on a bad field."""
        user = self._required(record, self.user, "user")
        item = self._required(record, self.item, "item")
        stamp = self._required(record, self.timestamp, "timestamp")
        try:
            ms = self.to_ms(stamp)
        except (TypeError, ValueError, OverflowError):
            raise _BadRecord(f'its "{self.timestamp}" value {stamp!r} is not a valid time for {self.fmt}.',
                             self._fix()) from None
        title = _text(record.get(self.title)) if self.title else ""
        text = _text(record.get(self.text)) if self.text else ""
        return str(user), str(item), self._rating(record), text, title, ms

    def _required(self, record: Mapping[str, Any], key: str, column: str) -> Any:
        value = record.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            state = "an empty" if key in record else "no"
            raise _BadRecord(f'the record has {state} "{key}" field, which {self.fmt} reads as the {column}.',
                             self._fix())
        return value

    def _rating(self, record: Mapping[str, Any]) -> float:
        value = record.get(self.rating) if self.rating else None
        if value is None or value == "":
            return math.nan
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _BadRecord(f'its "{self.rating}" value {value!r} is not a number.', self._fix()) from None

    def _fix(self) -> str:
        return (f"Fix or delete that record (or, if the file is not {self.fmt}, name its format with --format), "
                + _SKIP_HINT)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_AMAZON_FIELDS = dict(user="reviewerID", item="asin", text="reviewText", timestamp="unixReviewTime",
                      to_ms=_epoch_ms, rating="overall", title="summary", time_unit="s")  # times in seconds
_2023_FIELDS = dict(user="user_id", item="parent_asin", timestamp="timestamp", to_ms=_epoch_ms, rating="rating",
                    time_unit="ms")  # 2023 reviews name variants by asin; parent_asin is the product, as its benchmarks
SCHEMAS: dict[str, FormatSchema] = {
    "amazon2014_json": FormatSchema("amazon2014_json", **_AMAZON_FIELDS,
                                    recognised_by="JSON records with `reviewerID` and `asin`, none of 2018's keys"),
    "amazon2014_csv": FormatSchema("amazon2014_csv", **_AMAZON_FIELDS,
                                   header=frozenset({"reviewerID", "asin", "reviewText", "unixReviewTime"})),
    "amazon2018_json": FormatSchema("amazon2018_json", **_AMAZON_FIELDS,
                                    recognised_by="the same, plus any of " + ", ".join(
                                        f"`{k}`" for k in sorted(_AMAZON2018_ONLY))),
    "amazon2023_json": FormatSchema("amazon2023_json", text="text", title="title", **_2023_FIELDS,
                                    recognised_by="JSON records with `parent_asin`"),
    "amazon2023_csv": FormatSchema("amazon2023_csv", text="text", title="title", **_2023_FIELDS,
                                   # datasets' to_csv of the 2023 reviews
                                   header=frozenset({"user_id", "parent_asin", "text", "timestamp"})),
    "amazon2023_ratings_csv": FormatSchema("amazon2023_ratings_csv", text=None, **_2023_FIELDS,
                                           # the 2023 benchmark CSVs
                                           header=frozenset({"user_id", "parent_asin", "rating", "timestamp"})),
    # review_date is YYYY-MM-DD: midnight UTC of that day.
    # Amazon Customer Reviews (amazon_reviews_us_*.tsv): tab-separated with no quoting at all.
    "amazon_us_tsv": FormatSchema("amazon_us_tsv", "customer_id", "product_id", "review_body", "review_date",
                                  _date_milliseconds, rating="star_rating", title="review_headline",
                                  time_unit="midnight UTC", quoted=False,
                                  header=frozenset({"customer_id", "product_id", "star_rating", "review_headline",
                                                    "review_body", "review_date"})),
    "yelp_json": FormatSchema("yelp_json", "user_id", "business_id", "text", "date", _date_milliseconds,
                              rating="stars", time_unit="UTC", recognised_by="JSON records with `business_id`"),
}
# generic_csv has no row: its columns come from --columns or a header named as ours (_generic_schema).
GENERIC_RECOGNISED_BY = ("`--columns`, or a header with `user`, `item`, `timestamp` (and `text`, `rating`, `title` "
                         "when present)")


def _generic_schema(column_map: Mapping[str, str] | None, header: list[str]) -> FormatSchema:
    """Without a map, columns named as ours; the optional ones (text included) only when the header has them."""
    names = column_map or {column: column for column in COLUMNS if column in _MAP_REQUIRED or column in header}
    return FormatSchema("generic_csv", names["user"], names["item"], names.get("text"), names["timestamp"], _raw,
                   rating=names.get("rating"), title=names.get("title"))


# ---------------------------------------------------------------------------------------------
# Column maps for generic CSV.


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


# ---------------------------------------------------------------------------------------------
# Opening, sampling and detecting.


@contextlib.contextmanager
def _open_binary(path: Path) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed when it is gzip (by magic bytes) or a zip holding one file."""
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise DataFormatError(path, "no such file.", "Check the path, or download the file first.") from None
    except OSError as exc:
        raise DataFormatError(path, f"it cannot be opened ({exc.strerror}).",
                              "Check that the path names a readable file.") from None
    with raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw) as stream, _untar(path, stream) as inner:
                yield inner
        elif magic == b"PK\x03\x04":
            with _zip_member(path, raw) as stream:
                yield stream
        else:
            with _untar(path, raw) as inner:
                yield inner


@contextlib.contextmanager
def _untar(path: Path, stream: BinaryIO) -> Iterator[BinaryIO]:
    """``stream`` itself, or, when it is a tar archive (``ustar`` at byte 257), the review member of it,
    read in place: never extracted to disk. A plain tar on disk is indexed by seeking past the other
    members; a gzip'ed one is read in tarfile's streaming mode up to the member."""
    try:
        head = stream.read(512)
    except _STREAM_ERRORS:
        head = b""  # reported by the read that follows, with its line
    stream.seek(0)
    if head[257:262] != b"ustar":
        yield stream
        return
    seekable = isinstance(stream, io.BufferedReader)
    key = (str(path), path.stat().st_size, path.stat().st_mtime_ns)
    if key not in _TAR_MEMBERS:  # a read opens the file several times: list a tar.gz's members once
        _TAR_MEMBERS.clear()
        _TAR_MEMBERS[key] = _tar_member_name(path, stream, seekable)
        stream.seek(0)
    name = _TAR_MEMBERS[key]
    with tarfile.open(fileobj=stream, mode="r:" if seekable else "r|") as archive:
        member = next(m for m in archive if m.name == name)  # lazily: no need to index the members after it
        with archive.extractfile(member) as inner:
            if inner.peek(2)[:2] == b"\x1f\x8b":  # a compressed member, e.g. a tar of the .jsonl.gz downloads
                with gzip.GzipFile(fileobj=inner) as unzipped:
                    yield unzipped
            else:
                yield inner


_TAR_MEMBERS: dict[tuple, str] = {}  # (path, size, mtime) -> the member chosen


def _tar_member_name(path: Path, stream: BinaryIO, seekable: bool) -> str:
    """The member to read: the only file, else Yelp's review file by name; otherwise refuse, listing them."""
    names: list[str] = []
    try:
        with tarfile.open(fileobj=stream, mode="r:" if seekable else "r|") as archive:
            for m in archive:
                if m.isfile() and not Path(m.name).name.startswith("._") and not m.name.startswith("__MACOSX/"):
                    names.append(m.name)
    except _STREAM_ERRORS as exc:  # a cut archive: choose among the members before the cut; the read says where
        if not names:
            raise DataFormatError(path, f"it starts like a tar archive but cannot be read ({exc}).",
                                  _TRUNCATED_FIX) from None
    if len(names) == 1:
        return names[0]
    reviews = [name for name in names if Path(name).name == _YELP_REVIEW_MEMBER]
    if len(reviews) == 1:
        return reviews[0]
    raise DataFormatError(path, f"the tar archive holds {len(names)} files ({', '.join(names[:10])}"
                          f"{', ...' if len(names) > 10 else ''}), and none is a review file known by name.",
                          f"Extract the review file and pass that: `tar -xf {path} MEMBER`.")


@contextlib.contextmanager
def _zip_member(path: Path, raw: BinaryIO) -> Iterator[BinaryIO]:
    try:
        archive = zipfile.ZipFile(raw)
    except zipfile.BadZipFile as exc:
        raise DataFormatError(path, f"it starts like a zip archive but cannot be opened ({exc}).",
                              "Download it again, or unzip it and pass the file inside.") from None
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
        if len(names) != 1:
            raise DataFormatError(path, f"the zip archive holds {len(names)} files ({', '.join(names[:5])}), "
                                  "not one.", "Unzip it and pass the review file inside.")
        with archive.open(names[0]) as stream:
            yield stream


def _stream_problem(exc: Exception, stream: BinaryIO, line: int) -> str:
    kind = ("gzip" if isinstance(stream, gzip.GzipFile) else "tar" if isinstance(exc, tarfile.ReadError)
            or isinstance(stream, tarfile.ExFileObject) else "zip")
    if isinstance(exc, EOFError) or "unexpected end of data" in str(exc):  # tarfile's words for a cut archive
        return f"the {kind} stream ends early after line {line}: the file is truncated."
    return f"the {kind} data is corrupt after line {line} ({exc}): the file is damaged."


def _sample(path: Path) -> list[str]:
    """The first non-blank lines, decoded leniently: one bad byte is reported by the full read, not here."""
    lines: list[str] = []
    with _open_binary(path) as stream:
        try:
            for raw in iter(lambda: stream.readline(_SAMPLE_LINE_BYTES), b""):
                text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
                if text:
                    lines.append(text)
                if len(lines) == _SAMPLE_LINES:
                    break
        except _STREAM_ERRORS as exc:
            if not lines:
                raise DataFormatError(path, _stream_problem(exc, stream, 0), _TRUNCATED_FIX) from None
    if not lines:
        raise DataFormatError(path, "the file is empty.", _UNKNOWN_FIX)
    return lines


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


def _looks_like_headerless_ratings(lines: list[str], delimiter: str) -> bool:
    """4 fields with a numeric rating and timestamp on every sampled line: only used to advise, never to read."""
    try:
        return all(len(row) == 4 and all(math.isfinite(float(v)) for v in row[2:])
                   for row in csv.reader(lines, delimiter=delimiter))
    except ValueError:
        return False


def _json_format(path: Path, records: list, array: bool = False) -> str:
    """Tell the JSON formats apart by the keys of the sampled records (lines of text, or array elements)."""
    keys: set[str] = set()
    for record in records:
        if array:
            keys |= record.keys() if isinstance(record, dict) else set()
            continue
        with contextlib.suppress(_BadRecord):
            keys |= _parse_json(record).keys()
    if {"reviewerID", "asin"} <= keys:
        return "amazon2018_json" if keys & _AMAZON2018_ONLY else "amazon2014_json"
    if "parent_asin" in keys:
        return "amazon2023_json"
    if "business_id" in keys:
        return "yelp_json"
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


# ---------------------------------------------------------------------------------------------
# Reading.


class _Sink:
    """Collects output rows; a bad record raises, or with skip_bad_records is counted and dropped."""

    def __init__(self, path: Path, fmt: str, skip: bool, defer: bool = False, spool: Path | None = None):
        self.path, self.fmt, self.skip = path, fmt, skip
        self.rows: list[tuple] = []
        # spool: rows go to this Parquet file every _SPOOL_ROWS, so memory stays flat in the file's size.
        self.spool, self.n_spooled, self._writer = spool, 0, None
        # defer (a generic CSV): rows and bad records wait until the whole column of times is judged
        # (_column_times); then the bad records go in line order (flush)
        self.defer, self.deferred, self.lines = defer, [], []
        self.n_skipped = 0
        self.examples: list[str] = []
        self.has_text = True

    def bad(self, line: int | None, problem: str, fix: str) -> None:
        if self.defer:
            self.deferred.append((math.inf if line is None else line, problem, fix))
            return
        if not self.skip:
            raise DataFormatError(self.path, problem, fix, line=line)
        self.n_skipped += 1
        if len(self.examples) < _MAX_EXAMPLES:
            self.examples.append(problem if line is None else f"line {line}: {problem}")

    def encoding_fix(self) -> str:
        """The advice for a bad byte, judged once per read."""
        if not hasattr(self, "_encoding_fix"):
            self._encoding_fix = _encoding_fix(self.path, skippable=True)
        return self._encoding_fix

    def flush(self) -> None:
        """Report the deferred bad records in line order: the first raises, or with skip all are counted."""
        self.defer = False
        for line, problem, fix in sorted(self.deferred, key=lambda bad: bad[0]):
            self.bad(None if line == math.inf else line, problem, fix)
        self.deferred = []

    def add(self, row: tuple, line: int | None = None) -> None:
        self.rows.append(row)
        if line is not None:
            self.lines.append(line)
        if self.spool is not None and not self.defer and len(self.rows) >= _SPOOL_ROWS:
            self.write()

    @property
    def n_rows(self) -> int:
        return self.n_spooled + len(self.rows)

    def _columns(self) -> list[tuple]:
        """The rows held, as one tuple per column of ``COLUMNS``."""
        return list(zip(*self.rows)) if self.rows else [()] * len(COLUMNS)

    def write(self) -> None:
        """Append the rows held to the spool file (columns ``SPOOL_COLUMNS``) and let them go."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        user, item, rating, text, title, timestamp = self._columns()
        table = pa.table({
            "user": pa.array(user, pa.string()), "item": pa.array(item, pa.string()),
            "rating": pa.array(rating, pa.float32()), "text": pa.array(text, pa.string()),
            "title": pa.array(title, pa.string()), "timestamp": pa.array(timestamp, pa.int64()),
            "blank": pa.array([not t.strip() for t in text], pa.bool_()),
        })
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.spool, table.schema)
        self._writer.write_table(table)
        self.n_spooled += len(self.rows)
        self.rows, self.lines = [], []

    def close(self) -> None:
        """Close the spool file (idempotent); after an error it is left for the caller's folder to remove."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def result(self) -> ReadResult:
        if self.spool is not None:
            self.write()
            self.close()
            return ReadResult(None, self.fmt, self.n_skipped, self.examples, has_text=self.has_text,
                              n_rows=self.n_spooled, spool=self.spool)
        user, item, rating, text, title, timestamp = self._columns()
        frame = pd.DataFrame({
            "user": pd.Series(user, dtype=str),
            "item": pd.Series(item, dtype=str),
            "rating": np.asarray(rating, dtype=np.float32),
            "text": pd.Series(text, dtype=str),
            "title": pd.Series(title, dtype=str),
            "timestamp": np.asarray(timestamp, dtype=np.int64),
        })
        return ReadResult(frame, self.fmt, self.n_skipped, self.examples, has_text=self.has_text)


def read_reviews(path: str | Path, fmt: str | None = None, column_map: dict[str, str] | None = None,
                 skip_bad_records: bool = False, progress: bool = True, date_format: str | None = None) -> ReadResult:
    """Read a review file into columns ``COLUMNS`` (timestamps in UTC milliseconds), detecting ``fmt`` if not given.

    ``column_map`` names the source columns of a generic CSV/TSV (see ``parse_column_map``: without
    ``text`` the result has ``has_text=False``; numbers name positions in a file without a header
    row); there, integer times are seconds,
    except values above 1e11, which are milliseconds, and other times are date
    strings read with ONE format for the whole column (UTC unless they carry a zone): ``date_format``
    (a strptime format, e.g. ``%d/%m/%Y``; then every value, numbers too, is read with it) or else the
    candidate of ``_DATE_FORMATS`` that reads every value. A column that two candidates read with
    different dates (``01/02/2014``) raises DataFormatError naming --date-format; a value the chosen
    format cannot read is a bad record naming its line. A recognised format's time column is read in the
    publisher's form, or in the one other form its first records hold (``_time_rule``), or with ``date_format``.
    """
    return _read(Path(path), fmt, column_map, skip_bad_records, progress, date_format, None)


def spool_reviews(path: str | Path, spool: str | Path, fmt: str | None = None,
                  column_map: dict[str, str] | None = None, skip_bad_records: bool = False, progress: bool = True,
                  date_format: str | None = None, engine: str = "auto") -> ReadResult:
    """As ``read_reviews``, but the rows go to the Parquet file ``spool`` (columns ``SPOOL_COLUMNS``, rows in
    file order) as they are read, so memory does not grow with the file (a generic CSV is the exception: its
    rows wait for the whole time column). The result's ``frame`` is None.

    ``engine``: ``"auto"`` reads a JSON-lines file of a known format with DuckDB's own scan
    (``native_json``; same rows and values, ~10x faster) and any file that path refuses in Python, which
    names a bad line; ``"python"`` always reads in Python; ``"duckdb"`` raises ``native_json.NativeRefused``
    where the DuckDB path cannot read the file (for tests and benchmarks)."""
    if engine not in ("auto", "python", "duckdb"):
        raise ValueError(f"engine must be 'auto', 'python' or 'duckdb', not {engine!r}")
    return _read(Path(path), fmt, column_map, skip_bad_records, progress, date_format, Path(spool), engine)


def _read(path: Path, fmt: str | None, column_map: dict[str, str] | None, skip_bad_records: bool, progress: bool,
          date_format: str | None, spool: Path | None, engine: str = "python") -> ReadResult:
    lines = _sample(path)
    if column_map is not None:
        _check_column_map(column_map, ",".join(f"{k}={v}" for k, v in column_map.items()))
    fmt = fmt or _detect(path, lines, column_map)
    if fmt not in FORMATS:
        raise DataFormatError(path, f"{fmt!r} is not a format we read.",
                              f"Use one of {', '.join(FORMATS)}, or leave the format out to detect it.")
    if column_map is not None and fmt != "generic_csv":
        raise DataFormatError(path, f"--columns applies to generic CSV/TSV files, but this file is read as {fmt}.",
                              f"Leave out --columns: {fmt} has its own field names.")
    schema = SCHEMAS.get(fmt)
    if schema is not None:  # a recognised format: its time column as this file holds it
        schema = dataclasses.replace(schema, to_ms=_time_rule(path, fmt, schema, lines, date_format))
    if engine != "python":
        native = _read_native(path, fmt, lines, spool, engine, schema)
        if native is not None:
            return native
    sink = _Sink(path, fmt, skip_bad_records, defer=fmt == "generic_csv", spool=spool)
    try:
        return _fill(path, fmt, schema, lines, column_map, date_format, sink, progress)
    finally:
        sink.close()


def _time_rule(path: Path, fmt: str, schema: FormatSchema, lines: list[str], date_format: str | None
               ) -> Callable[[Any], int]:
    """How the time column of a recognised format reads: ``date_format`` when given; else the publisher's form
    (``schema.to_ms``) when it reads every sampled record's time; else the one other representation the sample
    holds throughout, as the generic CSV path judges a column: all numbers, epoch times by size; no numbers,
    date strings in the one format that reads them all (a Yelp file re-saved with epoch milliseconds, a 2023 CSV
    re-saved by pandas with ISO date-times). A sample that fits none keeps the publisher's form, so each value
    it cannot read is a bad record naming its line.

    Raises:
        DataFormatError: two date formats read the sample differently (01/02/2014), naming --date-format.
    """
    if date_format is not None:
        return _dated_ms(date_format)
    times, where = _sample_times(path, fmt, schema, lines)
    if all(_reads(schema.to_ms, value) for value in times):
        return schema.to_ms
    if all(_reads(_epoch_ms, value) for value in times):
        return _epoch_ms
    if all(isinstance(value, str) and _epoch_milliseconds(value) is None for value in times):
        dates = pd.Series(times, dtype=object).str.strip()
        found = _infer_date_format(path, dates, where, schema.timestamp)
        if found is not None and dates.map(lambda v: _reads(_dated_ms(found), v)).all():
            return _dated_ms(found)
    return schema.to_ms


def _reads(rule: Callable[[Any], int], value: Any) -> bool:
    try:
        rule(value)
    except (TypeError, ValueError, OverflowError, AttributeError):
        return False
    return True


def _sample_times(path: Path, fmt: str, schema: FormatSchema, lines: list[str]) -> tuple[list, list[int]]:
    """The time values of the first records (up to ``_SAMPLE_LINES``, unparseable ones left out) and their lines."""
    found: list[tuple[int, Any]] = []
    if fmt.endswith("_json") and lines[0].startswith("["):
        found = [(line, record.get(schema.timestamp)) for line, record in _array_records(path)
                 if isinstance(record, dict)]
    elif fmt.endswith("_json"):
        with _open_binary(path) as stream, contextlib.suppress(*_STREAM_ERRORS):  # a cut file: the lines before
            for line, raw in enumerate(stream, 1):
                text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
                with contextlib.suppress(_BadRecord):
                    if text:
                        found.append((line, _parse_json(text).get(schema.timestamp)))
                if len(found) == _SAMPLE_LINES:
                    break
    else:
        header, delimiter = _csv_header(path, lines[0])
        split = ((lambda text: text.split("\t")) if not schema.quoted
                 else (lambda text: next(csv.reader([text], delimiter=delimiter), [])))
        with _open_binary(path) as stream, contextlib.suppress(*_STREAM_ERRORS):
            body = enumerate(stream, 1)
            next(line for line, raw in body if raw.strip())  # the header
            for line, raw in body:
                fields = split(raw.decode("utf-8", "replace").rstrip("\r\n"))
                if len(fields) == len(header):
                    found.append((line, dict(zip(header, fields)).get(schema.timestamp)))
                if len(found) == _SAMPLE_LINES:
                    break
    found = [(line, value) for line, value in found if value is not None]
    return [value for _, value in found], [line for line, _ in found]


def _read_native(path: Path, fmt: str, lines: list[str], spool: Path, engine: str,
                 schema: FormatSchema | None) -> ReadResult | None:
    """The file read by DuckDB's JSON scan (``native_json``), or None where that path refuses it and ``engine``
    lets the Python reader take over."""
    try:
        if not (fmt.endswith("_json") and lines[0].startswith("{")):
            raise NativeRefused(f"{fmt} in this layout is read in Python (JSON lines only)")
        if schema.to_ms is not SCHEMAS[fmt].to_ms:
            raise NativeRefused("the time column holds another form than the publisher's (_time_rule)")
        n_rows = spool_json_lines(path, spool, schema)
    except NativeRefused:
        if engine == "duckdb":
            raise
        return None
    return ReadResult(None, fmt, n_rows=n_rows, spool=spool, engine="duckdb")


def _fill(path: Path, fmt: str, schema: FormatSchema | None, lines: list[str], column_map: dict[str, str] | None,
          date_format: str | None, sink: _Sink, progress: bool) -> ReadResult:
    if fmt.endswith("_json") and lines[0].startswith("["):
        _read_json_array(path, schema, sink, progress)
    elif fmt.endswith("_json"):
        _read_json_lines(path, schema, sink, progress)
    elif schema is not None and not schema.quoted:
        _check_header(path, _csv_header(path, lines[0])[0], schema, None)
        _read_unquoted_tsv(path, schema, sink, progress)
    else:
        header, delimiter = _csv_header(path, lines[0])
        schema = _generic_schema(column_map, header) if fmt == "generic_csv" else schema
        positional = _positions(column_map)
        if positional:  # no header row: the first line is data, its fields are numbered from 1
            header = [str(n) for n in range(1, len(header) + 1)]
        _check_header(path, header, schema, column_map)
        _read_csv(path, delimiter, schema, sink, progress, header=header if positional else None)
        if fmt == "generic_csv":
            _column_times(path, sink, schema, date_format)
            sink.flush()
    sink.has_text = schema.text is not None
    if sink.n_skipped and not sink.n_rows:  # "0 reviews in" later would hide why
        raise DataFormatError(path, f"all {sink.n_skipped:,} records were skipped as malformed, so nothing is left "
                              f"(first: {sink.examples[0]}).",
                              f"Check that the file is {fmt} (or name its format with --format); "
                              "fix the records as the first problem says.")
    return sink.result()


def _progress(lines: Iterable, path: Path, enabled: bool) -> Iterator:
    """Pass ``lines`` through while a progress bar counts them (total unknown: files may be compressed)."""
    with progress_bar(desc=f"reading {path.name}", unit=" lines", unit_scale=True, enabled=enabled) as bar:
        count = 0
        for count, line in enumerate(lines, 1):
            if count % _PROGRESS_EVERY == 0:
                bar.update(_PROGRESS_EVERY)
            yield line
        bar.update(count % _PROGRESS_EVERY)


def _parse_json(text: str) -> dict:
    """One JSON object; McAuley's older "loose JSON" (Python dict literals) goes through literal_eval."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        record = _loose_json(text) if text.startswith("{'") else None
        if record is None:
            raise _BadRecord(f"not valid JSON ({exc.msg} at column {exc.colno}): the record is cut short "
                             "or corrupt.", "Fix or delete that line, " + _SKIP_HINT) from None
    if not isinstance(record, dict):
        raise _BadRecord("the line is JSON but not an object {...}.", "Fix or delete that line, " + _SKIP_HINT)
    return record


def _loose_json(text: str) -> Any:
    try:
        return ast.literal_eval(text)  # literals only: safe on untrusted input, unlike eval
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _encoding_fix(path: Path, skippable: bool) -> str:
    """Advice for a byte that is not UTF-8, fitted to the file: a UTF-8 file with a few bad bytes must
    not be re-encoded whole (iconv -f latin1 would garble every valid accent in it); a file that looks
    single-byte throughout (Latin-1, cp1252) should be."""
    with _open_binary(path) as stream:
        try:
            data = stream.read(_ENCODING_SAMPLE_BYTES)
        except _STREAM_ERRORS:
            data = b""
    valid = _UTF8_MULTIBYTE.findall(data)
    stray = sum(byte >= 0x80 for byte in data) - sum(len(char) for char in valid)
    if valid and len(valid) >= stray:
        return (f"The file is UTF-8 with a few bad bytes ({len(valid):,} valid multi-byte characters and {stray:,} "
                f"stray bytes in its first {len(data) >> 20 or 1} MiB), so do not re-encode it whole (that would "
                "garble its valid accents): fix or delete that line"
                + (", " + _SKIP_HINT if skippable else "."))
    return _REENCODE_FIX


def _utf8_problem(raw: bytes, exc: UnicodeDecodeError) -> str:
    return f"byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line is not valid UTF-8."


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
            except json.JSONDecodeError as exc:
                more = "" if eof else next(chunks, "")
                if more:  # maybe cut by the chunk boundary: retry with more text
                    buf, pos = buf[pos:] + more, 0
                    continue
                eof = True
                if exc.pos >= len(buf.rstrip()) or exc.msg.startswith("Unterminated string"):
                    raise _ArrayError(line, "the JSON array ends inside this record: the file is truncated.",
                                      truncated=True) from None
                raise _ArrayError(line, f"the JSON record starting here is not valid JSON ({exc.msg} at line "
                                  f"{line + buf.count(chr(10), pos, exc.pos)}), and the array cannot be read on "
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


def _column_times(path: Path, sink: _Sink, schema: FormatSchema, date_format: str | None) -> None:
    """Turn the raw time cells of a generic CSV into UTC milliseconds with one rule for the whole column."""
    raw = pd.Series([row[5] for row in sink.rows], dtype=object).astype(str).str.strip()
    ms = pd.Series(np.nan, index=raw.index, dtype=float)
    if date_format is None:  # numbers are epoch times (unit by size: _epoch_milliseconds); the rest are dates
        numbers = raw.map(_epoch_milliseconds)
        ms[numbers.notna()] = numbers[numbers.notna()].astype(float)
    dates = raw[ms.isna()]
    fmt = date_format or _infer_date_format(path, dates, sink.lines, schema.timestamp)
    if fmt is not None and len(dates):
        unique = dates.drop_duplicates()
        parsed = pd.Series(_parse_dates(unique, fmt).to_numpy(), index=unique.to_numpy())
        ms[dates.index] = dates.map(parsed).to_numpy()
    how = (f"the column's date format {fmt}" + ("" if date_format else " (inferred from its values; set it with "
                                                 "--date-format)") if fmt else "any date format we know")
    bad = ms.isna().to_numpy()
    for i in np.flatnonzero(bad):
        sink.bad(sink.lines[i], f'its "{schema.timestamp}" value {raw[i]!r} is not a time in {how}.', schema._fix())
    keep = np.flatnonzero(~bad)
    sink.rows = [sink.rows[i][:5] + (int(ms[i]),) for i in keep]
    sink.lines = [sink.lines[i] for i in keep]


def _infer_date_format(path: Path, dates: pd.Series, lines: list[int], column: str) -> str | None:
    """The candidate format that reads the most values (all, normally); None if none reads any.

    Raises DataFormatError when two formats read equally many values but give different dates for some,
    e.g. 01/02/2014 (1 February or 2 January?): only --date-format can say which."""
    unique = dates.drop_duplicates()
    if unique.empty:
        return None
    readings = {fmt: _parse_dates(unique, fmt) for fmt in _DATE_FORMATS}
    counts = {fmt: int(parsed.notna().sum()) for fmt, parsed in readings.items()}
    best = max(counts.values())
    if best == 0:
        return None
    tied = [fmt for fmt in _DATE_FORMATS if counts[fmt] == best]
    first = tied[0]
    for other in tied[1:]:
        differs = (readings[first] != readings[other]) & readings[first].notna() & readings[other].notna()
        if differs.any():
            value = unique[differs].iloc[0]
            when = [pd.Timestamp(readings[f][differs].iloc[0], unit="ms").strftime("%Y-%m-%d %H:%M")
                    for f in (first, other)]
            line = lines[int(dates.index[dates == value][0])]
            raise DataFormatError(
                path, f'the dates of its "{column}" column fit more than one format, which read them differently: '
                f"{value!r} is {when[0]} as {first} but {when[1]} as {other}.",
                f"Name the format with --date-format (date_format=), e.g. --date-format '{first}' "
                "(a strptime format).", line=line)
    return first


def _utf8_error(path: Path) -> DataFormatError:
    """Text decoding works in blocks, so rescan line by line to name the line of the first bad byte."""
    with _open_binary(path) as stream:
        for line, raw in enumerate(stream, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return DataFormatError(path, _utf8_problem(raw, exc), _encoding_fix(path, False), line=line)
    return DataFormatError(path, "it is not valid UTF-8.", _encoding_fix(path, False))
