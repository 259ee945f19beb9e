"""The format registry: every format family's rows, in the order detection tries them. A new format is a row
in its family's module (a new family: a module with ``ROWS``, listed here) and its name in ``data/formats.py``;
tests/test_readers.py checks the two agree and that every row can be recognised."""
from __future__ import annotations

from . import amazon, yelp
from .schema import FormatSchema

FAMILIES = (amazon, yelp)
SCHEMAS: dict[str, FormatSchema] = {row.fmt: row for family in FAMILIES for row in family.ROWS}
# The review file inside a publisher's multi-file archive, by name (the only member is read otherwise).
ARCHIVE_MEMBERS = frozenset(row.archive_member for row in SCHEMAS.values() if row.archive_member)
