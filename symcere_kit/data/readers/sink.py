"""Where read rows go: a table in memory or a Parquet spool written in chunks; bad records raised or counted."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .opening import _encoding_fix
from .schema import COLUMNS

_MAX_EXAMPLES = 5
_SPOOL_ROWS = 100_000  # rows held before they go to the spool file: ~50 MB of Python objects
# The spool's columns, rows in file order: ours and the blank-text flag that preprocess needs.
SPOOL_COLUMNS = (*COLUMNS, "blank")


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
    engine: str = "python"  # "duckdb" when readers.native read the file


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
