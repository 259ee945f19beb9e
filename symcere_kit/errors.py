"""Our own exception types.

Every error a user can cause (bad file, unknown name, empty data) is a ``SymcereError``: the CLI
prints its message as one paragraph and exits with code 2, without a traceback unless ``--debug``.
Messages name the file, the record and the fix.
"""
from __future__ import annotations

from pathlib import Path


class SymcereError(Exception):
    """Base class for errors caused by input or configuration, not by a bug."""

    exit_code = 2


class DataFormatError(SymcereError):
    """A raw review file cannot be read as any known format, or a record in it is malformed."""

    def __init__(self, path: str | Path, problem: str, fix: str, line: int | None = None):
        where = f"{path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"Cannot read {where}: {problem} {fix}")
        self.path, self.line, self.problem = Path(path), line, problem


class DatasetNotFoundError(SymcereError):
    """A dataset name is unknown, or its file is in none of the places we look."""


class EmptyDatasetError(SymcereError):
    """Preprocessing (k-core, empty-text policy) left nothing to train on."""


class LeakageError(SymcereError):
    """A test interaction, or its review text, reached the training side."""


class TrainingError(SymcereError):
    """Training diverged (NaN/inf loss) or was configured inconsistently."""
