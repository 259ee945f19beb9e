"""Times: every format ends as int64 milliseconds since the epoch, UTC. Amazon 2023's times are in
milliseconds, and cutting them to seconds would let file order decide between two reviews 400 ms apart.
Conversions only, no I/O: how a whole column is judged is ``time_column``'s."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, Callable

import pandas as pd

_MILLISECONDS_ABOVE = 1e11  # an integer time above this is milliseconds: 1e11 seconds is the year 5138


_EPOCH_DT = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_ms(value: Any) -> int:
    """An epoch time as a number, its unit judged by size (``_epoch_milliseconds``): the Amazon formats' rule, so
    a file re-saved in the other unit (2014's seconds as milliseconds, 2023's milliseconds as seconds) reads
    right; the publishers' own values are seconds below 1e11 and milliseconds above. ValueError otherwise (a
    boolean too: ``_epoch_milliseconds`` reads none)."""
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
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError(f"{value!r} is not a date")
        text = str(value).strip()  # an integer too: 20180701 under %Y%m%d
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
    """UTC milliseconds (float, NaN where ``fmt`` does not read the value); a time without a zone is UTC. Dates
    outside pandas' nanosecond range (before 1677, after 2262: a 0001-01-01 placeholder, a typed 2300) are read
    one by one with Python's datetime instead: pandas raises on them even when coercing."""
    try:
        return (pd.to_datetime(values, format=fmt, errors="coerce", utc=True) - _EPOCH) // pd.Timedelta(milliseconds=1)
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        rule = _dated_ms(fmt)

        def one(value):
            try:
                return float(rule(value))
            except (TypeError, ValueError, OverflowError):
                return float("nan")

        return values.map(one).astype(float)


def _epoch_milliseconds(value: Any) -> int | None:
    """A number as epoch milliseconds, its unit judged by size: seconds up to 1e11, then milliseconds,
    microseconds above 1e14, nanoseconds above 1e17 (each bound is the year 5138 in the smaller unit); a
    fraction is kept down to the millisecond (1588687728.923 seconds: ...728923 ms; floored below), read as the
    decimal it is written as, never through a float; None if not a finite number (a boolean is none)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number: int | Decimal = value
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
    size = abs(number)
    if size <= _MILLISECONDS_ABOVE:  # seconds
        ms = number * 1000
    elif size <= _MILLISECONDS_ABOVE * 1e3:  # milliseconds
        ms = number
    elif size <= _MILLISECONDS_ABOVE * 1e6:  # microseconds
        ms = number / 1000 if isinstance(number, Decimal) else number // 1000
    else:  # nanoseconds
        ms = number / 1_000_000 if isinstance(number, Decimal) else number // 1_000_000
    return int(ms.to_integral_value(rounding=ROUND_FLOOR)) if isinstance(ms, Decimal) else ms


def _yyyymmdd_lookalike(values: list) -> Any:
    """The first of ``values`` when every one is an 8-digit whole number that reads as a date ``%Y%m%d`` of
    1900-2099 (20180701, which as epoch seconds is a day of 1970): such a column holds dates, not epoch times;
    None otherwise (or when there are no values)."""
    for value in values:
        text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
        if not (len(text) == 8 and text.isdigit() and text[:2] in ("19", "20")):
            return None
        try:
            datetime.strptime(text, "%Y%m%d")
        except ValueError:
            return None
    return values[0] if len(values) else None
