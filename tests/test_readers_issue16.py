"""Issue 16, the reader part: JSON arrays, tar archives, Amazon's US TSV, one date format per column,
encoding advice, ratings-only files, Amazon 2023 CSVs and skipped records named in every message."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from symcere_kit.cli import main
from symcere_kit.config import DataConfig
from symcere_kit.data.dataset import load_dataset
from symcere_kit.data.preprocess import preprocess
from symcere_kit.data.readers import detect_format, read_reviews
from symcere_kit.errors import EmptyDatasetError

from test_readers import assert_names, assert_tidy, failure, write_bytes

ONE_2023 = {"rating": 5.0, "title": "t", "text": "ok", "asin": "A1", "parent_asin": "P1", "user_id": "U1",
            "timestamp": 1557031577676}


def record_2023(i: int) -> dict:
    return {**ONE_2023, "text": f"text {i}", "asin": f"A{i}", "parent_asin": f"P{i % 2}", "user_id": f"U{i % 3}",
            "timestamp": 1_557_031_577_676 + i * 1000}


# ---------------------------------------------------------------------------------------- JSON arrays


def test_one_line_json_array_loads_as_one_review(tmp_path, capsys):
    path = write_bytes(tmp_path / "export.json", json.dumps([ONE_2023]).encode())
    assert detect_format(path) == "amazon2023_json"
    ds = load_dataset(path, DataConfig(user_k=1, item_k=1), progress=False, use_cache=False)
    assert (ds.stats["reviews"], ds.n_users, ds.n_items) == (1, 1, 1)
    assert ds.meta["format"] == "amazon2023_json" and ds.meta["skipped_records"] == 0
    code = main(["--quiet", "stats", str(path), "--user-k", "1", "--item-k", "1", "--no-cache", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["reviews"] == 1


@pytest.mark.parametrize("name,indent", [("a.json", None), ("a.json.gz", 2)])
def test_json_array_streamed_in_chunks_keeps_values_and_order(tmp_path, monkeypatch, name, indent):
    import symcere_kit.data.readers as readers

    monkeypatch.setattr(readers, "_CHUNK_BYTES", 16)  # every record spans chunks
    records = [record_2023(i) for i in range(7)]
    records[3]["text"] = "caf\u00e9 ] }, {"  # brackets inside strings, a multi-byte character
    path = write_bytes(tmp_path / name, json.dumps(records, indent=indent).encode())
    result = read_reviews(path, fmt="amazon2023_json", progress=False)
    assert result.format == "amazon2023_json" and result.n_skipped == 0
    assert_tidy(result.frame)
    assert result.frame["item"].tolist() == [f"P{i % 2}" for i in range(7)]
    assert result.frame["text"].tolist()[3] == "caf\u00e9 ] }, {"
    assert result.frame["timestamp"].tolist() == [1_557_031_577 + i for i in range(7)]


def test_json_array_bad_record_names_the_line_it_starts_on(tmp_path):
    records = [record_2023(i) for i in range(4)]
    del records[2]["user_id"]
    path = write_bytes(tmp_path / "a.json", json.dumps(records, indent=1).encode())
    starts = [n for n, text in enumerate(json.dumps(records, indent=1).splitlines(), 1) if text == " {"]
    start = starts[2]  # 9 lines per record after "[": 2, 11, 20, 29
    assert start == 20
    assert_names(failure(path), path, f"line {start}:", '"user_id"', "amazon2023_json")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (3, 1)
    assert result.skipped_examples[0].startswith(f"line {start}:")


def test_json_array_syntax_error_is_never_skipped_and_truncation_keeps_whole_records(tmp_path):
    text = "[\n" + ",\n".join(json.dumps(record_2023(i)) for i in range(4)) + "\n]\n"
    broken = write_bytes(tmp_path / "broken.json", text.replace('"rating": 5.0, "title"', '"rating" 5.0, "title"', 3)
                         .replace('"rating" 5.0', '"rating": 5.0', 2).encode())
    message = failure(broken, skip_bad_records=True)
    assert_names(message, broken, "line 4:", "not valid JSON", "cannot be read on")
    cut = write_bytes(tmp_path / "cut.json", text[: text.index('"text 2"')].encode())
    assert_names(failure(cut), cut, "line 4:", "truncated", "Download it again")
    result = read_reviews(cut, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (2, 1)


def test_a_csv_looking_first_line_starting_with_a_bracket_is_never_a_csv_header(tmp_path):
    path = write_bytes(tmp_path / "odd.csv", b"[user],item,text,timestamp\nu,i,t,10\n")
    message = failure(path)
    assert_names(message, path, "line 1:", "starts like a JSON array")
    assert "header" not in message


def test_a_read_that_skips_everything_says_so(tmp_path):
    records = [{k: v for k, v in record_2023(i).items() if k != "user_id"} for i in range(3)]
    path = write_bytes(tmp_path / "a.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode())
    message = failure(path, fmt="amazon2023_json", skip_bad_records=True)
    assert_names(message, path, "all 3 records were skipped", 'line 1: the record has no "user_id"')


def test_nothing_left_names_the_skipped_records(tmp_path):
    frame = pd.DataFrame([("u", "a", 1.0, "t", "", 1)], columns=["user", "item", "rating", "text", "title",
                                                                   "timestamp"])
    with pytest.raises(EmptyDatasetError, match=r"1 reviews in \(4 records skipped as malformed before that\)"):
        preprocess(frame, DataConfig(), source="x.json", n_skipped=4)
    records = [record_2023(i) for i in range(3)] + [{"user_id": "U9"}]
    path = write_bytes(tmp_path / "a.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode())
    with pytest.raises(EmptyDatasetError, match=r"3 reviews in \(1 records skipped as malformed"):
        load_dataset(path, DataConfig(skip_bad_records=True), progress=False, use_cache=False)
