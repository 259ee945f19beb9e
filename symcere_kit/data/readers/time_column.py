"""A time column judged as a whole: one representation per column (epoch numbers by size, or the one date format
that reads every value), for generic CSVs after the read and for recognised formats from their first records."""
from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .detect import _csv_header
from .json_records import _array_records, _parse_json
from .opening import _SAMPLE_LINES, _STREAM_ERRORS, _open_binary
from .schema import FormatSchema, _BadRecord
from .sink import _Sink
from .times import _DATE_FORMATS, _dated_ms, _epoch_milliseconds, _epoch_ms, _parse_dates, _yyyymmdd_lookalike


def _time_rule(path: Path, fmt: str, schema: FormatSchema, lines: list[str], date_format: str | None
               ) -> Callable[[Any], int]:
    """How the time column of a recognised format reads: ``date_format`` when given (refused when it reads none of
    the first records' times); else the publisher's form
    (``schema.to_ms``) when it reads every sampled record's time; else the one other representation the sample
    holds throughout, as the generic CSV path judges a column: all numbers, epoch times by size; no numbers,
    date strings in the one format that reads them all (a Yelp file re-saved with epoch milliseconds, a 2023 CSV
    re-saved by pandas with ISO date-times). A sample that fits none keeps the publisher's form, so each value
    it cannot read is a bad record naming its line.

    Raises:
        DataFormatError: two date formats read the sample differently (01/02/2014), naming --date-format.
    """
    times, where = _sample_times(path, fmt, schema, lines)
    if date_format is not None:
        if times and not any(_reads(_dated_ms(date_format), value) for value in times):
            raise DataFormatError(
                path, f'--date-format {date_format} reads none of the first {len(times)} values of its '
                f'"{schema.timestamp}" column (the first: {times[0]!r}).',
                "Leave out --date-format (the column's form is judged from its values), or give the format those "
                "values are written in.", line=where[0])
        return _dated_ms(date_format)
    numeric = all(_reads(_epoch_ms, value) for value in times)
    if numeric and _yyyymmdd_lookalike(times) is not None:
        raise _yyyymmdd_error(path, schema.timestamp, times[0], where[0])
    if all(_reads(schema.to_ms, value) for value in times):
        return schema.to_ms
    if numeric:
        return _epoch_ms
    if all(isinstance(value, str) and _epoch_milliseconds(value) is None for value in times):
        dates = pd.Series(times, dtype=object).str.strip()
        found = _infer_date_format(path, dates, where, schema.timestamp)
        if found is not None and dates.map(lambda v: _reads(_dated_ms(found), v)).all():
            return _dated_ms(found)
    return schema.to_ms


def _yyyymmdd_error(path: Path, column: str, value: Any, line: int) -> DataFormatError:
    return DataFormatError(
        path, f'its "{column}" values look like dates written as YYYYMMDD (the first: {value!r}), which read as '
        f"epoch seconds would all fall in 1970.", "Name their form with --date-format %Y%m%d.", line=line)


def _reads(rule: Callable[[Any], int], value: Any) -> bool:
    try:
        rule(value)
    except (TypeError, ValueError, OverflowError):
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
                try:
                    fields = split(raw.decode("utf-8", "replace").rstrip("\r\n"))
                except csv.Error:  # a NUL byte: the full read names that line
                    continue
                if len(fields) == len(header):
                    found.append((line, dict(zip(header, fields)).get(schema.timestamp)))
                if len(found) == _SAMPLE_LINES:
                    break
    found = [(line, value) for line, value in found if value is not None]
    return [value for _, value in found], [line for line, _ in found]


def _column_times(path: Path, sink: _Sink, schema: FormatSchema, date_format: str | None) -> None:
    """Turn the raw time cells of a generic CSV into UTC milliseconds with one rule for the whole column."""
    raw = pd.Series([row[5] for row in sink.rows], dtype=object).astype(str).str.strip()
    ms = pd.Series(np.nan, index=raw.index, dtype=float)
    if date_format is None:  # numbers are epoch times (unit by size: _epoch_milliseconds); the rest are dates
        numbers = raw.map(_epoch_milliseconds)
        first = _yyyymmdd_lookalike(list(raw[numbers.notna()]))
        if first is not None:
            raise _yyyymmdd_error(path, schema.timestamp, first, sink.lines[int(numbers.notna().idxmax())])
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
