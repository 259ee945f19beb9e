"""RecBole atomic-file export: round trip, header, tokens, empty validation split, atomicity."""
from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest

from symcere_kit.data import export as export_mod
from symcere_kit.data.export import HEADER, export_recbole_atomic

SPLITS = ("train", "valid", "test")


def _split(seed: int = 0, n_users: int = 30, n_items: int = 40):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=int(rng.integers(3, 9)), replace=False)
        stamps = np.sort(rng.integers(1_200_000_000, 1_500_000_000, size=len(items)))
        rows += [(u, int(i), int(t)) for i, t in zip(items, stamps)]
    df = pd.DataFrame(rows, columns=["user", "item", "timestamp"]).astype("int64")
    last = df.groupby("user").cumcount(ascending=False) == 0
    # deliberately not sorted by user, so "in our order" is checked
    train = df[~last].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return train, df[last].reset_index(drop=True)


def _read(path):
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _back_to_ours(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "user": frame["user_id:token"].str.slice(1).astype("int64"),
        "item": frame["item_id:token"].str.slice(1).astype("int64"),
        "timestamp": frame["timestamp:float"].astype(float).astype("int64"),
    })


def test_files_round_trip_in_order(tmp_path):
    train, test = _split()
    folder = export_recbole_atomic(tmp_path, "toy", train, test)
    assert folder == tmp_path / "toy"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"toy.{s}.inter" for s in SPLITS)
    for split, frame in (("train", train), ("test", test)):
        back = _back_to_ours(_read(folder / f"toy.{split}.inter"))
        pd.testing.assert_frame_equal(back, frame[["user", "item", "timestamp"]].reset_index(drop=True))


def test_header_and_tokens(tmp_path):
    train, test = _split(1)
    folder = export_recbole_atomic(tmp_path, "toy", train, test)
    assert HEADER == "user_id:token\titem_id:token\ttimestamp:float"
    for split in SPLITS:
        lines = (folder / f"toy.{split}.inter").read_text(encoding="utf-8").split("\n")
        assert lines[0] == HEADER
        assert lines[-1] == ""  # newline-terminated
        for line in lines[1:-1]:
            assert re.fullmatch(r"u\d+\ti\d+\t\d+", line), line
    first = (folder / "toy.train.inter").read_text().split("\n")[1]
    row = train.iloc[0]
    assert first == f"u{row['user']}\ti{row['item']}\t{row['timestamp']}"


def test_valid_file_is_header_only(tmp_path):
    """RecBole masks (train | valid | test) - test at test time; an empty valid masks exactly train."""
    train, test = _split(2)
    folder = export_recbole_atomic(tmp_path, "toy", train, test)
    assert (folder / "toy.valid.inter").read_text(encoding="utf-8") == HEADER + "\n"
    assert len(_read(folder / "toy.valid.inter")) == 0


def test_extra_columns_ignored_and_files_readable(tmp_path):
    train, test = _split(3)
    train = train.assign(text="x", rating=5.0)
    folder = export_recbole_atomic(tmp_path, "toy", train, test)
    assert list(_read(folder / "toy.train.inter").columns) == HEADER.split("\t")
    umask = os.umask(0)
    os.umask(umask)
    for split in SPLITS:
        assert (folder / f"toy.{split}.inter").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("bad", ["missing", "float", "negative"])
def test_rejects_bad_frames(tmp_path, bad):
    train, test = _split(4)
    if bad == "missing":
        train = train.drop(columns="timestamp")
    elif bad == "float":
        train = train.assign(item=train["item"].astype(float))
    else:
        train.loc[0, "user"] = -1
    with pytest.raises(ValueError):
        export_recbole_atomic(tmp_path, "toy", train, test)
    assert not (tmp_path / "toy").exists() or not any((tmp_path / "toy").iterdir())


def _fail_on(monkeypatch, split_name: str):
    real_write = export_mod._write

    def flaky_write(path, frame):
        if f".toy.{split_name}.inter." in path.name:
            with open(path, "w", encoding="utf-8") as f:
                f.write(HEADER + "\nu0\ti")  # half a file, then the "disk" fails
            raise OSError("simulated failure midway")
        real_write(path, frame)

    monkeypatch.setattr(export_mod, "_write", flaky_write)


@pytest.mark.parametrize("failing", ["train", "test"])
def test_failure_midway_leaves_nothing(tmp_path, monkeypatch, failing):
    train, test = _split(5)
    _fail_on(monkeypatch, failing)
    with pytest.raises(OSError, match="simulated"):
        export_recbole_atomic(tmp_path, "toy", train, test)
    folder = tmp_path / "toy"
    assert list(folder.iterdir()) == []  # no final file, no temp file


def test_failure_keeps_previous_export_intact(tmp_path, monkeypatch):
    old_train, old_test = _split(6)
    folder = export_recbole_atomic(tmp_path, "toy", old_train, old_test)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    new_train, new_test = _split(7)
    _fail_on(monkeypatch, "test")  # train and valid of the new export are complete by then
    with pytest.raises(OSError):
        export_recbole_atomic(tmp_path, "toy", new_train, new_test)
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert after == before  # no mix of old and new files, no leftovers


def test_overwrite_replaces_all_files(tmp_path):
    export_recbole_atomic(tmp_path, "toy", *_split(8))
    train, test = _split(9)
    folder = export_recbole_atomic(tmp_path, "toy", train, test)
    back = _back_to_ours(_read(folder / "toy.test.inter"))
    pd.testing.assert_frame_equal(back, test[["user", "item", "timestamp"]])
    assert len(list(folder.iterdir())) == 3
