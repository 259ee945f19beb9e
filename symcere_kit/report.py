"""Where results go: tidy tables as CSV plus a Markdown view, written atomically into results/."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .io import write_text_atomic
from .paths import results_dir


def save_table(table: pd.DataFrame, stem: str, directory: str | Path | None = None) -> dict[str, Path]:
    """Write ``<stem>.csv`` and ``<stem>.md``; return their paths."""
    directory = Path(directory) if directory else results_dir()
    paths = {"csv": directory / f"{stem}.csv", "md": directory / f"{stem}.md"}
    write_text_atomic(paths["csv"], table.to_csv(index=False))
    write_text_atomic(paths["md"], table.to_markdown(index=False) + "\n")
    return paths
