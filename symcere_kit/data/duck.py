"""One way to open DuckDB for the data steps: bounded working memory and a spill folder of its own."""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator

MEMORY_LIMIT = "512MB"  # DuckDB's working memory; past it, it spills to a temporary folder


@contextlib.contextmanager
def connect() -> Iterator:
    """A DuckDB connection with bounded memory and its own spill folder (removed afterwards)."""
    import duckdb  # imported here: the command line starts without it

    with tempfile.TemporaryDirectory(prefix="symcere-duckdb-") as spill:
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": spill})
        con.execute("SET enable_progress_bar = false")  # a bar drawn into the caller's output; ours say enough
        try:
            yield con
        finally:
            con.close()


def sql_path(path: str | Path) -> str:
    """``path`` as the body of a single-quoted SQL string literal."""
    return str(path).replace("'", "''")
