"""A review format as data: the output columns, the ``FormatSchema`` row that maps a source's fields onto them,
and the bad record a row raises on a field it cannot use."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

COLUMNS = ("user", "item", "rating", "text", "title", "timestamp")
_SKIP_HINT = "or pass --skip-bad-records (skip_bad_records=True) to skip such records and count them."


class _BadRecord(Exception):
    """One record cannot be used; the reader adds the line and decides whether to raise or skip."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


@dataclass(frozen=True)
class FormatSchema:
    """One review format of the registry ``catalogue.SCHEMAS``: which source field feeds which output column, how its
    times read, how its lines split and how it is recognised. ``docs/data/index.md``'s formats table is made
    from these rows when the site is built.

    ``header``: for a CSV/TSV format, the header columns that identify it (``detect_format`` tries the rows in
    registry order); ``recognise``: for a JSON format, the rule on the keys of the first records that
    identifies it (tried in registry order too); ``quoted``: False for a tab-separated format read with no
    quote processing (a ``"`` inside a review is text); ``time_unit`` and ``recognised_by`` say in words what
    ``to_ms`` and ``recognise`` do."""

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
    recognise: Callable[[set[str]], bool] | None = None  # JSON formats: do the first records' keys say it is this?
    archive_member: str | None = None  # the review file's name inside the publisher's multi-file archive

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
        row = (str(user), str(item), self._rating(record),
               _text(record.get(self.text)) if self.text else "", _text(record.get(self.title)) if self.title else "",
               ms)
        for value in row[:2] + row[3:5]:  # a JSON escape of half a surrogate pair ("\ud800") is no character
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise _BadRecord("it holds an unpaired surrogate escape (\\ud800-\\udfff), which is no "
                                     "character.", self._fix()) from None
        return row

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
