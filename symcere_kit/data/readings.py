"""Data readings: a dataset name with ``@<reading>`` (``amazon2018_gift_cards_5@repeats``) reads the same file
another way, so that grids, the run store and ``symcere stats`` / ``train`` take it by name.

* ``repeats`` (leaky, opt-in): repeated (user, item) pairs are kept (``DataConfig.dedupe_pairs`` False, as
  RecBole's default ``rm_dup_inter: None``); a pair may then sit in training and in test, and the dataset is
  evaluated with RecBole's full-sort mask ``train - test`` (``symcere_kit.protocols``), which leaves such a
  test item rankable. It reproduces a flawed protocol, to explain other papers' numbers.

* ``paper``: the shape of the paper's Table 1 for a registry dataset with its counts (e.g.
  ``amazon2023_pet_supplies@paper``): the k-core of the whole file first, then Table 1's number of users drawn
  (seeded, ``DataConfig.sample_seed``), all of their remaining reviews kept and nothing filtered again
  (``DataConfig.sample_when="after_core"``): every user keeps >= ``user_k`` reviews, items may fall below
  ``item_k``, as in Table 1, where items outnumber what a k-core of the sample would leave.

A reading reuses the tuned settings of its base dataset (``configs/tuned/<base>/``): they were tuned on the
honest data, and the point of a reading is to change only the data.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DatasetNotFoundError, SymcereError
from .registry import REGISTRY, lookup

# The DataConfig changes of each reading; "paper" takes its user count from the registry (reading_changes).
READINGS: dict[str, dict] = {"repeats": {"dedupe_pairs": False}, "paper": {"sample_when": "after_core"}}


def reading_changes(base: str, reading: str) -> dict:
    """The ``DataConfig`` changes that read ``base`` as ``reading``.

    Raises:
        SymcereError: ``paper`` on a file path or on a registry name without the paper's Table 1 counts.
    """
    changes = dict(READINGS[reading])
    if reading == "paper":
        try:
            entry = lookup(base)
        except DatasetNotFoundError:
            entry = None
        if entry is None or entry.paper_counts is None:
            with_counts = ", ".join(e.name for e in REGISTRY.values() if e.paper_counts)
            raise SymcereError(f"{base}@paper needs a registry name with the paper's Table 1 counts; those are "
                               f"{with_counts}. For a file of your own, pass --sample-users N with "
                               f"sample_when='after_core' instead.")
        changes["sample_users"] = entry.paper_counts[0]
    return changes


def split_reading(name_or_path: str | os.PathLike) -> tuple[str, str | None]:
    """(base, reading) of ``NAME@reading``; (the argument, None) for a plain name or an existing file.

    Raises ``SymcereError`` for an unknown reading after ``@`` (a file whose name holds ``@`` is read as a file)."""
    text = str(name_or_path)
    base, sep, reading = text.rpartition("@")
    if not sep or Path(text).expanduser().is_file():
        return text, None
    reading = reading.strip().lower()  # as dataset names: case and surrounding spaces do not matter
    if reading not in READINGS:
        raise SymcereError(f"Unknown data reading {reading!r} in {text!r}; readings are {', '.join(READINGS)} "
                           f"(e.g. {base or 'NAME'}@repeats).")
    return base, reading
