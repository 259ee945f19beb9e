"""Data readings: a dataset name with ``@<reading>`` (``amazon2018_gift_cards_5@repeats``) reads the same file
another way, so that grids, the run store and ``symcere stats`` / ``train`` take it by name.

* ``repeats`` (leaky, opt-in): repeated (user, item) pairs are kept (``DataConfig.dedupe_pairs`` False, as
  RecBole's default ``rm_dup_inter: None``); a pair may then sit in training and in test, and the dataset is
  evaluated with RecBole's full-sort mask ``train - test`` (``symcere_kit.protocols``), which leaves such a
  test item rankable. It reproduces a flawed protocol, to explain other papers' numbers.

A reading reuses the tuned settings of its base dataset (``configs/tuned/<base>/``): they were tuned on the
honest data, and the point of a reading is to change only the data.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import SymcereError

READINGS: dict[str, dict] = {"repeats": {"dedupe_pairs": False}}


def split_reading(name_or_path: str | os.PathLike) -> tuple[str, str | None]:
    """(base, reading) of ``NAME@reading``; (the argument, None) for a plain name or an existing file.

    Raises ``SymcereError`` for an unknown reading after ``@`` (a file whose name holds ``@`` is read as a file)."""
    text = str(name_or_path)
    base, sep, reading = text.rpartition("@")
    if not sep or Path(text).expanduser().is_file():
        return text, None
    if reading not in READINGS:
        raise SymcereError(f"Unknown data reading {reading!r} in {text!r}; readings are {', '.join(READINGS)} "
                           f"(e.g. {base or 'NAME'}@repeats).")
    return base, reading
