"""DuckDB-native reading of the JSON-lines review formats (Amazon 2014, 2018, 2023 and Yelp; plain or gzip):
DuckDB's own JSON scan projects the needed fields straight into the reader's spool file, ~10x faster than
decoding each line in Python (``make bench-data``; table in docs/benchmarks.md).

The result must be what the Python reader (``readers``) gives, row for row and value for value, so this
path reads only files where that is certain and refuses the rest with ``NativeRefused``, on which the
caller reads the file again in Python, which names the bad line (or, with ``skip_bad_records``, skips and
counts it). Refused:

* anything DuckDB cannot parse strictly as one JSON object per line: broken JSON, loose JSON (Python dict
  literals), a non-object line, a duplicate key, a byte that is not UTF-8, a cut gzip stream;
* a zip or tar archive, a JSON array file, a format without a native time rule below, a path with glob
  characters (``*?[]{}``: read_json would expand it); a gzip stream whose CRC or length check fails (DuckDB does
  not check them: a flipped bit would load as a changed value; Python's gzip checks them beside DuckDB's read);
* a missing or blank user, item or time (a bad record for the Python reader), a time that is not a whole
  number of epoch seconds or milliseconds (unit by size, as ``readers._epoch_ms``: up to 1e11 seconds, up to
  1e14 milliseconds) or not ``YYYY-MM-DD HH:MM:SS`` (Yelp), and a time column the Python reader reads in
  another form than the publisher's (``readers._time_rule``);
* a text-like field (user, item, text, title) holding a value that DuckDB writes otherwise than Python's
  ``str``: ``true``/``false`` (Python: ``True``), an object or array (Python: its ``repr``), ``NaN`` or
  ``Infinity``, a number in exponent notation (``1e400``: Python ``inf``). Measured: every other JSON
  number, escape and non-ASCII character gives the same string in both.

One leniency is DuckDB's and stays: a trailing comma inside an object (``{"a": 1, }``) is read, where
Python's ``json`` refuses the line. And a record nested a thousand levels deep after the first 50 lines: DuckDB
reads it, Python refuses it as too deep.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ...files import check_gzip
from ..duck import connect, sql_path

if TYPE_CHECKING:
    from .schema import FormatSchema

# Every character Python's str.strip() removes (str.isspace), as one RE2 class: the blank-text rule of
# preprocess.blank_text, so a text of only such characters is blank on both paths.
_PY_WHITESPACE = "[" + "".join(f"\\x{{{c:x}}}" for c in range(0x110000) if chr(c).isspace()) + "]*"
# Values a VARCHAR column of DuckDB's JSON scan writes otherwise than Python's str() of the parsed value: one
# regular expression per value (the check runs on every text), json_valid only on the few that start like JSON.
_UNLIKE_PYTHON = """(regexp_full_match({col}, '(?s)true|false|NaN|-?Infinity|-?[0-9.]+[eE][+-]?[0-9]+|[{{\\[].*')
    AND (NOT (prefix({col}, '{{') OR prefix({col}, '[')) OR json_valid({col})))"""


class NativeRefused(Exception):
    """The file is not one the DuckDB path reads exactly like the Python reader; the message says why."""


def _time_sql(unit: str, field: str) -> str:
    """The SQL giving UTC milliseconds (BIGINT) from the raw time ``field``, NULL where the Python reader's rule
    would read another value or refuse."""
    number = f'"{field}"::DOUBLE'
    if unit in ("ms", "s"):  # readers._epoch_ms: the unit by size, seconds up to 1e11, milliseconds up to 1e14
        return (f"CASE WHEN {number} = floor({number}) AND abs({number}) <= 1e11 THEN {number}::BIGINT * 1000 "
                f"WHEN {number} = floor({number}) AND abs({number}) <= 1e14 THEN {number}::BIGINT END")
    if unit == "UTC":  # Yelp: "YYYY-MM-DD HH:MM:SS", read by datetime.fromisoformat as UTC
        return (f"""CASE WHEN regexp_full_match("{field}", '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}} [0-9]{{2}}:[0-9]{{2}}"""
                f""":[0-9]{{2}}') THEN epoch_ms(try_strptime("{field}", '%Y-%m-%d %H:%M:%S')) END""")
    raise NativeRefused(f"no native rule for times in {unit!r}")


def _compression(path: Path) -> str:
    """DuckDB's compression name for the file, judged by its bytes as the Python reader judges them."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:2] == b"\x1f\x8b":
        import gzip

        with gzip.open(path, "rb") as f:
            inner = f.read(512)
        if inner[257:262] == b"ustar":
            raise NativeRefused("a gzip'ed tar archive")
        return "gzip"
    if head[:4] == b"PK\x03\x04" or head[257:262] == b"ustar":
        raise NativeRefused("a zip or tar archive")
    return "none"


def spool_json_lines(path: str | Path, spool: str | Path, schema: FormatSchema) -> int:
    """Write the reviews of the JSON-lines file ``path`` in format ``schema`` to the
    Parquet file ``spool`` (``readers.SPOOL_COLUMNS``, rows in file order), as the Python reader would.

    Returns:
        The number of rows written.

    Raises:
        NativeRefused: the file is one the Python reader must read (module docstring); ``spool`` is then removed.
    """
    import duckdb

    path, spool = Path(path), Path(spool)
    if any(char in str(path) for char in "*?[]{}"):  # read_json would take the name as a glob pattern
        raise NativeRefused("a path DuckDB would read as a glob pattern")
    compression = _compression(path)
    time_sql = _time_sql(schema.time_unit, schema.timestamp)
    fields = {schema.user: "VARCHAR", schema.item: "VARCHAR", schema.timestamp: "VARCHAR"}
    text = f'coalesce("{schema.text}", \'\')' if schema.text else "''"
    title = f'coalesce("{schema.title}", \'\')' if schema.title else "''"
    rating = f'coalesce("{schema.rating}", \'NaN\')::FLOAT' if schema.rating else "'NaN'::FLOAT"
    fields.update({name: "VARCHAR" for name in (schema.text, schema.title) if name})
    if schema.rating:
        fields[schema.rating] = "DOUBLE"
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in fields.items()) + "}"
    scan = (f"read_json('{sql_path(path)}', format='newline_delimited', records='true', columns={columns}, "
            f"compression='{compression}')")
    # A value is written NULL where the Python reader would read it otherwise or refuse it (module docstring),
    # so the file is read once and the check counts NULLs in the spool.
    text_like = {"user": f'"{schema.user}"', "item": f'"{schema.item}"', "text": text, "title": title}
    kept = {name: f"CASE WHEN {_UNLIKE_PYTHON.format(col=sql)} THEN NULL ELSE {sql} END"
            for name, sql in text_like.items()}
    for name in ("user", "item"):  # required: also NULL when missing or blank
        blank = f"regexp_full_match({text_like[name]}, '{_PY_WHITESPACE}')"
        kept[name] = f"CASE WHEN {blank} THEN NULL ELSE {kept[name]} END"
    checked = ("user", "item", "text", "title", "timestamp")
    # the gzip check runs beside DuckDB's single-threaded decompression of the same stream (zlib frees the GIL)
    checking = ThreadPoolExecutor(1) if compression == "gzip" else None
    crc = checking.submit(check_gzip, path) if checking else None
    try:
        with connect() as con:
            # preserve_insertion_order (DuckDB's default) writes the rows in file order
            con.execute(f"""COPY (SELECT {kept["user"]} AS "user", {kept["item"]} AS item, {rating} AS rating,
                                         {kept["text"]} AS text, {kept["title"]} AS title, {time_sql} AS "timestamp",
                                         regexp_full_match({text}, '{_PY_WHITESPACE}') AS blank
                                  FROM {scan}) TO '{sql_path(spool)}' (FORMAT parquet)""")
            n_rows, *nulls = con.execute("SELECT count(*), " + ", ".join(f'count(*) - count("{c}")' for c in checked)
                                         + f" FROM read_parquet('{sql_path(spool)}')").fetchone()
    except duckdb.Error as exc:
        spool.unlink(missing_ok=True)
        raise NativeRefused(f"DuckDB cannot read it strictly ({str(exc).splitlines()[0]})") from None
    finally:
        if checking:
            checking.shutdown(wait=True)
    if crc is not None and crc.exception() is not None:
        spool.unlink(missing_ok=True)
        raise NativeRefused(f"the gzip stream is damaged ({crc.exception()})")
    problems = [f"{n:,} {column} values the Python reader reads otherwise or refuses"
                for column, n in zip(checked, nulls) if n]
    if problems:
        spool.unlink(missing_ok=True)
        raise NativeRefused("; ".join(problems))
    return n_rows
