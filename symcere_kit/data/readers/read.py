"""Reading a file: detect, check the options, then the DuckDB-native path where it applies or the Python
readers into the sink."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ...errors import DataFormatError
from ..formats import FORMATS
from .catalogue import SCHEMAS
from .delimited import _check_header, _read_csv, _read_unquoted_tsv
from .detect import _csv_header, _detect
from .generic import _check_column_map, _generic_schema, _positions
from .json_records import _read_json_array, _read_json_lines
from .native import NativeRefused, spool_json_lines
from .opening import _sample
from .schema import FormatSchema
from .sink import ReadResult, _Sink
from .time_column import _column_times, _time_rule


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
    (``readers.native``; same rows and values, ~10x faster) and any file that path refuses in Python, which
    names a bad line; ``"python"`` always reads in Python; ``"duckdb"`` raises ``readers.NativeRefused``
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


def _read_native(path: Path, fmt: str, lines: list[str], spool: Path, engine: str,
                 schema: FormatSchema | None) -> ReadResult | None:
    """The file read by DuckDB's JSON scan (``readers.native``), or None where that path refuses it and ``engine``
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
