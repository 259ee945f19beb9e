"""Export our train/test split as RecBole benchmark atomic files (for the RecBole parity benchmark).

RecBole is never imported here: this module runs in our own environment and only writes text
files that ``benchmarks/recbole_run.py`` (run with RecBole's own virtualenv) reads with
``benchmark_filename: [train, valid, test]``.

Tokens are ``u<index>`` and ``i<index>`` for our contiguous 0-based user and item indices, so
RecBole's internal ids map back to ours with ``int(token[1:])`` (RecBole renumbers tokens in
order of first appearance and reserves id 0 for ``[PAD]``).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_path

HEADER = "user_id:token\titem_id:token\ttimestamp:float"
SPLITS = ("train", "valid", "test")
USER_PREFIX = "u"
ITEM_PREFIX = "i"


def _checked(frame: pd.DataFrame, which: str) -> pd.DataFrame:
    missing = [c for c in ("user", "item", "timestamp") if c not in frame.columns]
    if missing:
        raise ValueError(f"{which} frame lacks column(s) {missing}; it needs user, item, timestamp.")
    out = frame[["user", "item", "timestamp"]]
    for col in out.columns:
        if not pd.api.types.is_integer_dtype(out[col]):
            raise ValueError(f"{which}[{col!r}] must be an integer column, not {out[col].dtype}.")
    if len(out) and (out["user"].min() < 0 or out["item"].min() < 0):
        raise ValueError(f"{which} has negative user/item indices; expected contiguous 0-based ids.")
    return out


def _to_lines(frame: pd.DataFrame) -> str:
    """Body of one atomic file: one ``u<user>\\ti<item>\\t<timestamp>`` line per row, in row order."""
    if len(frame) == 0:
        return ""
    users = np.char.add(USER_PREFIX, frame["user"].to_numpy(np.int64).astype(str))
    items = np.char.add(ITEM_PREFIX, frame["item"].to_numpy(np.int64).astype(str))
    stamps = frame["timestamp"].to_numpy(np.int64).astype(str)
    rows = np.char.add(np.char.add(np.char.add(np.char.add(users, "\t"), items), "\t"), stamps)
    return "\n".join(rows.tolist()) + "\n"


def _write(path: Path, frame: pd.DataFrame) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER + "\n")
        f.write(_to_lines(frame))


def export_recbole_atomic(out_dir, name: str, train: pd.DataFrame, test: pd.DataFrame) -> Path:
    """Write ``<out_dir>/<name>/<name>.{train,valid,test}.inter`` and return ``<out_dir>/<name>``.

    ``train``/``test`` have integer columns user, item (our 0-based indices) and timestamp (int
    milliseconds); rows are written in the given order. Extra columns are ignored.

    **Why ``.valid.inter`` is empty (header only).** With full-ranking evaluation RecBole builds
    one negative ``Sampler`` over the phases ``[train, valid, test]`` (``create_samplers`` in
    ``recbole/data/utils.py``). ``Sampler.get_used_ids`` (``recbole/sampler/sampler.py``) makes the
    used-item sets *cumulative*: ``cur = np.array([set(s) for s in last])`` and then adds the
    phase's own pairs, so ``used_ids["test"] = train | valid | test`` per user. At test time
    ``FullSortEvalDataLoader._set_user_property`` (``recbole/data/dataloader/general_dataloader.py``)
    masks ``history_item = used_item - positive_item``, i.e. ``(train | valid | test) - test``.
    Any validation item that is neither a training nor a test item of the user would therefore be
    masked (scored ``-inf``) at test time too. An empty validation split gives exactly
    ``train - test``: the user's training items and nothing else. It also means nothing can leak
    into training or model selection through validation (the benchmark trains a fixed number of
    epochs and never evaluates the validation split).

    Caveat from the same line: a (user, item) pair present in both train and test is *not* masked
    by RecBole (it is a positive). Our preprocessing drops duplicate pairs, so this does not occur
    on our splits; if it did, an evaluator that masks all training items would disagree.

    All three files are written to temporary files first and renamed into place only after all
    three are complete, so a failure while writing leaves no partial (or mixed old/new) export
    behind; only a crash between the three final ``os.replace`` calls could mix two exports.
    (Checked with RecBole 1.2.1: a header-only validation file loads, and ``data_preparation``
    builds an empty validation loader without error.)
    Items or users that appear in neither ``train`` nor ``test`` cannot be represented (RecBole
    only knows tokens it reads).
    """
    train = _checked(train, "train")
    test = _checked(test, "test")
    folder = Path(out_dir) / name
    frames = {"train": train, "valid": train.iloc[:0], "test": test}
    with contextlib.ExitStack() as stack:
        # Enter all three atomic paths first; each renames onto its target only when the whole
        # block has succeeded (ExitStack unwinds them after the last write).
        tmps = {s: stack.enter_context(atomic_path(folder / f"{name}.{s}.inter")) for s in SPLITS}
        for split in SPLITS:
            _write(tmps[split], frames[split])
    return folder
