"""Environment variables set for a block and put back after it."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def scoped_environ(**values: str | None) -> Iterator[None]:
    """Set environment variables for the block (a ``None`` value leaves that one as it is), then put back
    exactly what was there, removing those that were unset: processes started inside inherit them, the
    caller keeps its own environment (a test calling ``main``)."""
    values = {k: v for k, v in values.items() if v is not None}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
