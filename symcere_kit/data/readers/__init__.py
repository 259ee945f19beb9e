"""Read a raw review file of any supported format into one tidy table.

The format is detected from the content, never from the file name (downloads get renamed), and
gzip, a single-file zip (as Kaggle ships) and tar archives (Yelp's yelp_dataset.tar; plain or
gzip'ed) are opened transparently, a tar by member, streamed. JSON records may come one per
line (JSON lines) or as one JSON array (Kaggle / Hugging Face exports), read streamed either way.
Every reader returns the same columns in file order, because later steps break ties in time by file
order. Bad input raises
``DataFormatError`` naming the file, the line and the fix; with ``skip_bad_records=True`` bad
records are dropped and counted instead. Nothing here writes a file.

The package: ``read`` reads (``read_reviews``, ``spool_reviews``); ``detect`` recognises a format; ``catalogue``
is the format registry (``SCHEMAS``), filled from one module per family (``amazon``, ``yelp``; ``generic`` for
tables named by ``--columns``); ``schema`` and ``times`` describe a row and its times; ``opening``,
``json_records``, ``delimited`` and ``sink`` do the streaming; ``time_column`` judges a time column whole;
``native`` is the DuckDB-native path for JSON lines.
"""
from ..formats import FORMATS
from .catalogue import SCHEMAS
from .detect import detect_format
from .generic import GENERIC_RECOGNISED_BY, parse_column_map
from .native import NativeRefused
from .read import read_reviews, spool_reviews
from .schema import COLUMNS, FormatSchema
from .sink import SPOOL_COLUMNS, ReadResult

__all__ = ["COLUMNS", "FORMATS", "GENERIC_RECOGNISED_BY", "SCHEMAS", "SPOOL_COLUMNS", "FormatSchema",
           "NativeRefused", "ReadResult", "detect_format", "parse_column_map", "read_reviews", "spool_reviews"]
