"""Where results go: tidy tables as CSV plus a Markdown view, written atomically into results/."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .files import write_text_atomic
from .paths import results_dir


def save_table(table: pd.DataFrame, stem: str, directory: str | Path | None = None) -> dict[str, Path]:
    """Write ``<stem>.csv`` and ``<stem>.md``; return their paths."""
    directory = Path(directory) if directory else results_dir()
    paths = {"csv": directory / f"{stem}.csv", "md": directory / f"{stem}.md"}
    write_text_atomic(paths["csv"], table.to_csv(index=False))
    write_text_atomic(paths["md"], table.to_markdown(index=False) + "\n")
    return paths


def save_tables(tables: dict[str, pd.DataFrame], directory: str | Path | None = None) -> str:
    """[`save_table`][symcere_kit.report.save_table] for each ``stem -> table``; returns a one-line summary of what was
    written where."""
    for stem, table in tables.items():
        save_table(table, stem, directory)
    return f"{len(tables)} tables ({', '.join(tables)}) as .csv and .md in {directory or results_dir()}"


def readable(table: pd.DataFrame, digits: int = 4):
    """A pandas Styler that shows ``table`` for reading, by column name and type: shares (``*share*``) as
    percentages, p-values (``p``, ``p_*``, ``*_p``) in 2 significant digits, integers with thousands
    separators, other floats with ``digits`` decimals; missing values as "-"; no index."""
    formats = {}
    for column in table.columns:
        name, kind = str(column).lower(), table[column].dtype.kind
        if kind == "f" and "share" in name:
            formats[column] = "{:.1%}"
        elif kind == "f" and (name == "p" or name.startswith("p_") or name.endswith("_p")):
            formats[column] = "{:.2g}"
        elif kind in "iu":
            formats[column] = "{:,}"
        elif kind == "f":
            formats[column] = f"{{:.{digits}f}}"
    return table.style.format(formats, na_rep="-").hide(axis="index")
