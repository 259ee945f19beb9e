"""Readers: every format on small generated files, the real shared files, and every kind of bad input."""
from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from symcere_kit.cli import main
from symcere_kit.config import DataConfig
from symcere_kit.data.dataset import load_dataset
from symcere_kit.data.preprocess import preprocess
from symcere_kit.data.readers import COLUMNS, FORMATS, detect_format, parse_column_map, read_reviews
from symcere_kit.errors import DataFormatError, EmptyDatasetError
from symcere_kit.models import run_config

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

AMAZON_CSV_HEADER = ["reviewerID", "asin", "reviewerName", "helpful", "reviewText", "overall", "summary",
                     "unixReviewTime", "reviewTime"]


def amazon_record(i: int, **extra) -> dict:
    return {"reviewerID": f"U{i % 3}", "asin": f"{i:010d}", "reviewerName": "x", "helpful": [0, 0],
            "reviewText": f"text {i}", "overall": float(i % 5 + 1), "summary": f"title {i}",
            "unixReviewTime": 1_400_000_000 + i, "reviewTime": "05 13, 2014", **extra}


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    return write_bytes(path, "".join(json.dumps(r) + "\n" for r in records).encode())


def write_csv(path: Path, header: list[str], rows: list[list], delimiter: str = ",") -> Path:
    lines = [delimiter.join(header)]
    for row in rows:
        lines.append(delimiter.join(_csv_field(v, delimiter) for v in row))
    return write_bytes(path, ("\n".join(lines) + "\n").encode())


def _csv_field(value, delimiter: str) -> str:
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in f'"\n{delimiter}') else text


def amazon_csv_rows(n: int) -> list[list]:
    return [[r[k] if k != "helpful" else str(r[k]) for k in AMAZON_CSV_HEADER]
            for r in (amazon_record(i) for i in range(n))]


def failure(tmp_file: Path, **kwargs) -> str:
    with pytest.raises(DataFormatError) as info:
        read_reviews(tmp_file, progress=False, **kwargs)
    return str(info.value)


def assert_names(message: str, path: Path, *needles: str) -> None:
    """The message names the file and carries each needle (a line number, the problem, the fix)."""
    assert str(path) in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def assert_tidy(frame) -> None:
    assert tuple(frame.columns) == COLUMNS
    assert list(frame.index) == list(range(len(frame)))
    assert frame["rating"].dtype == np.float32 and frame["timestamp"].dtype == np.int64
    for column in ("user", "item", "text", "title"):
        assert all(isinstance(v, str) for v in frame[column])


# ------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name", ["reviews.json", "reviews.json.gz"])
def test_amazon2014_json_plain_and_gz(tmp_path, name):
    records = [amazon_record(i) for i in range(5)]
    records[2]["reviewText"] = None
    del records[3]["summary"]
    path = write_jsonl(tmp_path / name, records)
    result = read_reviews(path, progress=False)
    frame = result.frame
    assert result.format == "amazon2014_json" == detect_format(path)
    assert_tidy(frame)
    assert list(frame["item"]) == [f"{i:010d}" for i in range(5)]  # file order, leading zeros kept
    assert frame["text"].tolist()[2] == "" and frame["title"].tolist()[3] == ""
    assert frame["timestamp"].tolist() == [(1_400_000_000 + i) * 1000 for i in range(5)]  # milliseconds
    assert frame["rating"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_amazon2014_loose_json_goes_through_literal_eval(tmp_path):
    lines = [repr(amazon_record(i)) for i in range(3)]  # Python dict literals: single quotes
    lines[1] = lines[1].replace("'text 1'", '"it\'s \\"loose\\""')
    path = write_bytes(tmp_path / "reviews_Musical_Instruments_5.json.gz", ("\n".join(lines) + "\n").encode())
    result = read_reviews(path, progress=False)
    assert result.format == "amazon2014_json"
    assert result.frame["text"].tolist() == ["text 0", 'it\'s "loose"', "text 2"]


def test_amazon2018_json_by_its_extra_keys_and_missing_text(tmp_path):
    records = [amazon_record(i, verified=True) for i in range(4)]
    del records[1]["reviewText"]  # the real 2018 files omit it on a few records
    path = write_jsonl(tmp_path / "Gift_Cards_5.json", records)
    result = read_reviews(path, progress=False)
    assert result.format == "amazon2018_json"
    assert result.frame["text"].tolist() == ["text 0", "", "text 2", "text 3"]


@pytest.mark.parametrize("name", ["mi.csv", "mi.csv.gz"])
def test_amazon2014_kaggle_csv(tmp_path, name):
    rows = amazon_csv_rows(4)
    rows[1][4] = 'multi\nline, "quoted" text'
    rows[2][4] = ""
    path = write_csv(tmp_path / name, AMAZON_CSV_HEADER, rows)
    result = read_reviews(path, progress=False)
    assert result.format == "amazon2014_csv"
    assert_tidy(result.frame)
    assert result.frame["item"].tolist()[0] == "0000000000"
    assert result.frame["text"].tolist()[1:3] == ['multi\nline, "quoted" text', ""]
    assert result.frame["timestamp"].tolist() == [(1_400_000_000 + i) * 1000 for i in range(4)]


def test_single_file_zip_as_kaggle_ships(tmp_path):
    csv_path = write_csv(tmp_path / "mi.csv", AMAZON_CSV_HEADER, amazon_csv_rows(3))
    path = tmp_path / "Musical_instruments_reviews.csv.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv_path, "Musical_instruments_reviews.csv")
    assert len(read_reviews(path, progress=False).frame) == 3


def test_zip_with_two_files_is_refused(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "x,y\n")
        archive.writestr("b.csv", "x,y\n")
    assert_names(failure(path), path, "holds 2 files", "Unzip it")


def test_amazon2023_uses_parent_asin_and_milliseconds(tmp_path):
    records = [{"rating": 4.0, "title": "ok", "text": "fine", "images": [], "asin": f"B0{i}", "parent_asin": "P1",
                "user_id": f"U{i}", "timestamp": 1_588_687_728_923 + i * 1000, "helpful_vote": 0,
                "verified_purchase": True} for i in range(3)]
    path = write_jsonl(tmp_path / "All_Beauty.jsonl.gz", records)
    result = read_reviews(path, progress=False)
    assert result.format == "amazon2023_json"
    assert result.frame["item"].tolist() == ["P1"] * 3
    assert result.frame["timestamp"].tolist() == [1_588_687_728_923, 1_588_687_729_923, 1_588_687_730_923]


def test_yelp_dates_are_utc(tmp_path):
    records = [{"review_id": "r1", "user_id": "u1", "business_id": "b1", "stars": 5.0, "useful": 0,
                "text": "Great tacos", "date": "2018-07-07 22:09:11"},
               {"review_id": "r2", "user_id": "u2", "business_id": "b1", "stars": 2.0, "useful": 1,
                "text": None, "date": "1970-01-02 00:00:00"}]
    path = write_jsonl(tmp_path / "yelp_academic_dataset_review.json", records)
    result = read_reviews(path, progress=False)
    assert result.format == "yelp_json"
    assert result.frame["timestamp"].tolist() == [1_531_001_351_000, 86_400_000]
    assert result.frame["title"].tolist() == ["", ""] and result.frame["text"].tolist()[1] == ""


def test_generic_tsv_with_column_map(tmp_path):
    rows = [["a", "i1", "5", "good", "2020-01-01 00:00:00"], ["b", "007", "", "meh", "1577836800123"],
            ["c", "i2", "3", "ok", "1577836801"], ["d", "i3", "1", "bad", "2020-01-01T01:00:00+01:00"]]
    path = write_csv(tmp_path / "export.tsv.gz", ["uid", "iid", "stars", "body", "ts"], rows, delimiter="\t")
    column_map = parse_column_map("user=uid, item=iid, text=body, timestamp=ts, rating=stars")
    result = read_reviews(path, column_map=column_map, progress=False)
    assert result.format == "generic_csv"
    assert_tidy(result.frame)
    assert result.frame["item"].tolist()[1] == "007"
    assert np.isnan(result.frame["rating"].tolist()[1])
    assert result.frame["timestamp"].tolist() == [
        1_577_836_800_000,
        1_577_836_800_123,
        1_577_836_801_000,
        1_577_836_800_000,
    ]


def test_generic_csv_with_standard_header_needs_no_map(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["user", "item", "text", "timestamp"], [["u", "i", "t", "10"]])
    result = read_reviews(path, progress=False)
    assert result.format == "generic_csv" == detect_format(path)
    assert np.isnan(result.frame["rating"].iloc[0]) and result.frame["title"].iloc[0] == ""


def test_content_wins_over_a_lying_file_name(tmp_path):
    path = write_jsonl(tmp_path / "reviews.csv", [amazon_record(i) for i in range(3)])
    assert detect_format(path) == "amazon2014_json"
    assert len(read_reviews(path, progress=False).frame) == 3


@pytest.mark.slow
def test_progress_bar_counts_lines(tmp_path, capsys):
    path = write_jsonl(tmp_path / "big.json.gz", [amazon_record(i) for i in range(20_001)])
    assert len(read_reviews(path, progress=True).frame) == 20_001
    assert "reading big.json.gz" in capsys.readouterr().err


def test_parse_column_map():
    assert parse_column_map("user=uid,item=iid,text=body,timestamp=ts,title=head") == {
        "user": "uid", "item": "iid", "text": "body", "timestamp": "ts", "title": "head"}
    for spec, needle in [
        (
            "user=uid,item=iid",
            "holds the timestamp.",
        ),  # text is optional: ratings only ("user=uid,item", "'item' is not of the form"),
        ("user=a,item=b,text=c,timestamp=d,stars=e", "stars is not a field"),
        ("user=a,user=b,item=b,text=c,timestamp=d", 'names "user" twice'),
    ]:
        with pytest.raises(DataFormatError, match="--columns") as info:
            parse_column_map(spec)
        assert needle in str(info.value) and "user=COL" in str(info.value)


# ---------------------------------------------------------------------------------------- real data


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def test_real_musical_instruments_csv():
    result = read_reviews(shared_file("amazon2014_musical_instruments/Musical_instruments_reviews.csv.gz"),
                          progress=False)
    frame = result.frame
    assert result.format == "amazon2014_csv" and result.n_skipped == 0
    assert_tidy(frame)
    assert (len(frame), frame["user"].nunique(), frame["item"].nunique()) == (10_261, 1_429, 900)
    assert frame["item"].iloc[0] == "1384719342"
    assert int((frame["text"].str.strip() == "").sum()) == 7


def test_real_gift_cards_json():
    result = read_reviews(shared_file("amazon2018_gift_cards_5/Gift_Cards_5.json.gz"), progress=False)
    assert result.format == "amazon2018_json" and len(result.frame) == 2_972


# ---------------------------------------------------------------------------------------- bad input


def truncated_gzip(tmp_path: Path, name: str, data: bytes) -> tuple[Path, int]:
    """A gzip cut in the middle, and how many whole lines come out before the cut."""
    path = tmp_path / name
    path.write_bytes(gzip.compress(data)[: len(gzip.compress(data)) // 2])
    lines = 0
    with pytest.raises(EOFError), gzip.open(path) as stream:
        for _ in stream:
            lines += 1
    return path, lines


def test_truncated_gzip(tmp_path):
    data = "".join(json.dumps(amazon_record(i)) + "\n" for i in range(3000)).encode()
    path, whole = truncated_gzip(tmp_path, "cut.json.gz", data)
    assert_names(failure(path), path, f"ends early after line {whole}", "truncated", "Download it again")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert len(result.frame) == whole and result.n_skipped == 1
    assert "truncated" in result.skipped_examples[0]


def test_truncated_gzip_csv_keeps_rows_before_the_cut(tmp_path):
    rows = amazon_csv_rows(3000)
    data = (",".join(AMAZON_CSV_HEADER) + "\n" + "".join(
        ",".join(_csv_field(v, ",") for v in row) + "\n" for row in rows)).encode()
    path, whole = truncated_gzip(tmp_path, "cut.csv.gz", data)
    assert_names(failure(path), path, f"after line {whole}", "truncated")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert len(result.frame) == whole - 1 and result.n_skipped == 1  # minus the header line


@pytest.mark.parametrize("bad_line", [3, 5])
def test_json_line_cut_mid_record(tmp_path, bad_line):
    lines = [json.dumps(amazon_record(i)) for i in range(5)]
    lines[bad_line - 1] = lines[bad_line - 1][:-1]  # lose the closing brace
    path = write_bytes(tmp_path / "r.json.gz", ("\n".join(lines) + "\n").encode())
    assert_names(failure(path), path, f"line {bad_line}:", "not valid JSON", "skip-bad-records")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (4, 1)
    assert result.skipped_examples[0].startswith(f"line {bad_line}: not valid JSON")


def test_missing_required_field(tmp_path):
    records = [amazon_record(i) for i in range(6)]
    del records[3]["asin"]
    del records[5]["unixReviewTime"]
    path = write_jsonl(tmp_path / "r.json", records)
    assert_names(failure(path), path, "line 4:", '"asin"', "amazon2014_json", "--format")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (4, 2)
    assert [e.split(":")[0] for e in result.skipped_examples] == ["line 4", "line 6"]


def test_a_boolean_time_is_a_bad_record_not_the_epoch(tmp_path):
    # Python counts True as the integer 1: without the check it read as 1970-01-01 (in memory) or crashed the spool
    records = [amazon_record(i) for i in range(3)]
    records[1]["unixReviewTime"] = True
    path = write_jsonl(tmp_path / "r.json", records)
    assert_names(failure(path), path, "line 2:", '"unixReviewTime"', "True", "not a valid time")


def test_non_utf8_byte_in_json_lines(tmp_path):
    lines = [json.dumps(amazon_record(i)).encode() for i in range(4)]
    lines[2] = lines[2].replace(b"text 2", b"caf\xe9")
    path = write_bytes(tmp_path / "r.json.gz", b"\n".join(lines) + b"\n")
    assert_names(failure(path), path, "line 3:", "0xe9", "not valid UTF-8", "iconv -f latin1 -t utf-8")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (3, 1)


def test_non_utf8_byte_in_csv_names_the_physical_line(tmp_path):
    rows = amazon_csv_rows(400)
    rows[0][4] = "two\nlines"  # a quoted newline: physical lines run ahead of rows
    path = write_csv(tmp_path / "r.csv.gz", AMAZON_CSV_HEADER, rows)
    lines = gzip.decompress(path.read_bytes()).split(b"\n")
    lines[301] = lines[301].replace(b"text", b"t\xffxt")  # physical line 302, well past the first block
    path.write_bytes(gzip.compress(b"\n".join(lines)))
    message = failure(path, skip_bad_records=True)  # a bad encoding is never skipped
    assert_names(message, path, "line 302:", "0xff", "iconv -f latin1 -t utf-8")


def test_csv_row_with_too_many_fields(tmp_path):
    path = write_csv(tmp_path / "r.csv", AMAZON_CSV_HEADER, amazon_csv_rows(5))
    lines = path.read_text().splitlines()
    lines[3] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    assert_names(failure(path), path, "line 4:", "10 fields but the header has 9", "Fix or delete that row")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (4, 1)
    assert result.skipped_examples[0].startswith("line 4:")


def test_csv_stray_quote_closed_later_on_its_line(tmp_path):
    path = write_csv(tmp_path / "r.csv", AMAZON_CSV_HEADER, amazon_csv_rows(6))
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",text 1,", ',"text 1,')  # pairs with the quote of "05 13, 2014"
    path.write_text("\n".join(lines) + "\n")
    assert_names(failure(path), path, "line 3:", "unreadable CSV", "Fix the quoting")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (5, 1)


def test_csv_unterminated_quote(tmp_path):
    rows = [[f"u{i}", "i", f"text {i}", "10"] for i in range(6)]
    path = write_csv(tmp_path / "r.csv", ["user", "item", "text", "timestamp"], rows)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",text 1,", ',"text 1,')
    path.write_text("\n".join(lines) + "\n")
    message = failure(path, skip_bad_records=True)  # swallows the rest of the file: never skipped
    assert_names(message, path, "line 3:", "never closed", "up to line 7", "stray quote")


def test_csv_bad_value_names_its_line(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["user", "item", "text", "timestamp"],
                     [["u", "i", "t", "10"], ["u", "i", "t", "not a time"], ["", "i", "t", "10"]])
    assert_names(failure(path), path, "line 3:", "not a time", "generic_csv")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (1, 2)
    assert 'line 4: the record has an empty "user" field' in result.skipped_examples[1]


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.json.gz"
    assert_names(failure(path), path, "no such file", "Check the path")
    with pytest.raises(DataFormatError, match="no such file"):
        detect_format(path)


@pytest.mark.parametrize("name,data", [("empty.json", b""), ("empty.json.gz", b""), ("blank.csv", b"\n \n")])
def test_empty_file(tmp_path, name, data):
    path = write_bytes(tmp_path / name, data)
    assert_names(failure(path), path, "empty", *FORMATS, "--columns")


@pytest.mark.parametrize("data,needle", [
    (b"just some prose\nwith no structure\n", "matches no known format"),
    (b'{"id": 1, "body": "x"}\n', "keys: body, id"),
    (b"id,body,when\n1,x,2020\n", "header: id, body, when"),
    (b"{not json at all\n", "none of its first 1 lines"),
])
def test_unknown_content(tmp_path, data, needle):
    path = write_bytes(tmp_path / "mystery.dat", data)
    assert_names(failure(path), path, "line 1:", needle, "generic_csv", "--columns user=COL")


def test_column_map_naming_absent_columns(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["uid", "iid", "body", "ts"], [["u", "i", "t", "1"]])
    column_map = parse_column_map("user=uid,item=iid,text=body,timestamp=time,rating=stars")
    assert_names(failure(path, column_map=column_map), path, "line 1:", "no column time, stars", "it has: uid")


def test_columns_refused_for_json_and_unknown_format_named(tmp_path):
    path = write_jsonl(tmp_path / "r.json", [amazon_record(0)])
    column_map = {"user": "a", "item": "b", "text": "c", "timestamp": "d"}
    assert_names(failure(path, column_map=column_map), path, "--columns applies to generic CSV/TSV")
    csv_path = write_csv(tmp_path / "mi.csv", AMAZON_CSV_HEADER, amazon_csv_rows(2))
    assert_names(failure(csv_path, fmt="amazon2014_csv", column_map=column_map), csv_path, "read as amazon2014_csv")
    assert_names(failure(path, fmt="amazon2099"), path, "'amazon2099' is not a format", "amazon2014_json")


def test_utf8_byte_order_mark_is_ignored(tmp_path):
    csv_path = write_bytes(tmp_path / "r.csv", b"\xef\xbb\xbfuser,item,text,timestamp\nu,i,t,10\n")
    json_path = write_bytes(tmp_path / "r.json", b"\xef\xbb\xbf" + json.dumps(amazon_record(0)).encode() + b"\n")
    assert read_reviews(csv_path, progress=False).frame["user"].tolist() == ["u"]
    assert read_reviews(json_path, progress=False).format == "amazon2014_json"


# ------------------------------------------------ JSON arrays, tar archives, Amazon US TSV, date formats,
# encoding advice, ratings-only files, Amazon 2023 CSVs, skipped records named in every message
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
    from symcere_kit.data.readers import json_records

    monkeypatch.setattr(json_records, "_CHUNK_BYTES", 16)  # every record spans chunks
    records = [record_2023(i) for i in range(7)]
    records[3]["text"] = "caf\u00e9 ] }, {"  # brackets inside strings, a multi-byte character
    path = write_bytes(tmp_path / name, json.dumps(records, indent=indent).encode())
    result = read_reviews(path, fmt="amazon2023_json", progress=False)
    assert result.format == "amazon2023_json" and result.n_skipped == 0
    assert_tidy(result.frame)
    assert result.frame["item"].tolist() == [f"P{i % 2}" for i in range(7)]
    assert result.frame["text"].tolist()[3] == "caf\u00e9 ] }, {"
    assert result.frame["timestamp"].tolist() == [1_557_031_577_676 + i * 1000 for i in range(7)]


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


# ---------------------------------------------------------------------------------- ratings-only files


def snap_lines(n_users: int = 12, n_items: int = 8) -> list[str]:
    """Headerless SNAP-style ratings: every user rates 6 items, one a day; the newest is item (u + 5) % 8."""
    return [f"U{u:02d},I{(u + k) % n_items},{(u + k) % 5 + 1}.0,{1_383_609_600 + 86_400 * k}"
            for u in range(n_users) for k in range(6)]


def test_headerless_ratings_need_positions_and_load_with_them(tmp_path):
    path = write_bytes(tmp_path / "ratings_Beauty.csv", ("\n".join(snap_lines()) + "\n").encode())
    message = failure(path)
    assert_names(message, path, "line 1:", "without a header row", "--columns user=1,item=2,rating=3,timestamp=4")
    from symcere_kit.data.readers import parse_column_map

    result = read_reviews(path, column_map=parse_column_map("user=1,item=2,rating=3,timestamp=4"), progress=False)
    assert result.format == "generic_csv" and not result.has_text
    assert len(result.frame) == 72 and result.frame["user"].iloc[0] == "U00"  # the first line is data
    assert set(result.frame["text"]) == {""}
    assert result.frame["timestamp"].tolist()[:2] == [1_383_609_600_000, 1_383_696_000_000]
    with pytest.raises(DataFormatError, match="mixes column names and positions"):
        parse_column_map("user=1,item=asin,timestamp=4")


def test_amazon2023_benchmark_ratings_csv_is_detected(tmp_path):
    rows = ["user_id,parent_asin,rating,timestamp"] + [f"U{i % 2},P{i},4.0,{1_588_687_728_923 + i}" for i in range(3)]
    path = write_bytes(tmp_path / "Beauty.train.csv", ("\n".join(rows) + "\n").encode())
    result = read_reviews(path, progress=False)
    assert result.format == "amazon2023_ratings_csv" == detect_format(path) and not result.has_text
    assert result.frame["item"].tolist() == ["P0", "P1", "P2"]
    assert result.frame["timestamp"].tolist() == [1_588_687_728_923 + i for i in range(3)] and set(
        result.frame["text"]
    ) == {""}


def test_amazon2023_datasets_to_csv_is_detected_like_its_json(tmp_path):
    records = [{**record_2023(i), "images": [], "helpful_vote": 0, "verified_purchase": True} for i in range(4)]
    records[1]["text"] = 'two\nlines, "quoted"'
    columns = ["rating", "title", "text", "images", "asin", "parent_asin", "user_id", "timestamp", "helpful_vote",
               "verified_purchase"]
    csv_path = tmp_path / "All_Beauty.csv"
    pd.DataFrame(records, columns=columns).to_csv(csv_path, index=False)  # what datasets' to_csv writes
    json_path = write_bytes(tmp_path / "All_Beauty.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode())
    from_csv, from_json = read_reviews(csv_path, progress=False), read_reviews(json_path, progress=False)
    assert from_csv.format == "amazon2023_csv" and from_csv.has_text
    pd.testing.assert_frame_equal(from_csv.frame, from_json.frame)


def test_ratings_only_trains_text_free_models_and_text_models_refuse(tmp_path):
    from symcere_kit.errors import SymcereError
    from symcere_kit.train import run

    path = write_bytes(tmp_path / "ratings.csv", ("user,item,rating,timestamp\n" + "\n".join(
        line for line in snap_lines())).encode())
    ds = load_dataset(path, DataConfig(user_k=1, item_k=1), progress=False, use_cache=False)
    assert not ds.has_text and ds.meta["format"] == "generic_csv"
    assert (ds.n_users, ds.n_items, len(ds.train) + len(ds.test)) == (12, 8, 72)
    test_items = ds.item_ids[ds.test.loc[ds.test["user"] == 0, "item"]].tolist()
    assert test_items == ["I5"]  # U00's newest of its 6 ratings: floor(0.2 * 6) = 1 test item
    result = run(ds, run_config("lightgcn", epochs=1, batch_size=64, device="cpu"), progress=False)
    assert 0 <= result.metrics["ndcg@10"] <= 1
    for model in ("symcere", "smore"):
        with pytest.raises(SymcereError, match=r"ratings\.csv.*has no review text.*needs review text"):
            run(ds, run_config(model, epochs=1, device="cpu"), progress=False)


# ------------------------------------------------------------------------------- Amazon US reviews TSV

US_TSV_HEADER = ("marketplace customer_id review_id product_id product_parent product_title product_category "
                 "star_rating helpful_votes total_votes vine verified_purchase review_headline review_body "
                 "review_date").split()


def us_tsv_line(customer: str, product: str, body: str, date: str, stars: str = "5", head: str = "Great") -> str:
    return "\t".join(["US", customer, f"R{customer}{product}", product, "123", "A product", "Music", stars, "0", "0",
                      "N", "Y", head, body, date])


def test_amazon_us_tsv_reads_quotes_as_text(tmp_path):
    lines = ["\t".join(US_TSV_HEADER),
             us_tsv_line("111", "B001", '"Excellent!!!" is all I can say', "2015-08-31"),
             us_tsv_line("112", "B002", 'an unmatched " quote, then more', "2015-08-30", stars="3", head='"So so'),
             us_tsv_line("113", "B001", "plain", "2014-01-13")]
    path = write_bytes(tmp_path / "amazon_reviews_us_Music_v1_00.tsv.gz", ("\n".join(lines) + "\n").encode())
    result = read_reviews(path, progress=False)
    assert result.format == "amazon_us_tsv" == detect_format(path) and result.n_skipped == 0
    assert_tidy(result.frame)
    frame = result.frame
    assert frame["text"].tolist() == ['"Excellent!!!" is all I can say', 'an unmatched " quote, then more', "plain"]
    assert frame["title"].tolist()[1] == '"So so' and frame["rating"].tolist() == [5.0, 3.0, 5.0]
    assert (frame["user"].tolist(), frame["item"].tolist()) == (["111", "112", "113"], ["B001", "B002", "B001"])
    assert frame["timestamp"].tolist() == [1_440_979_200_000, 1_440_892_800_000, 1_389_571_200_000]  # midnight UTC
    assert read_reviews(path, skip_bad_records=True, progress=False).n_skipped == 0  # no valid row dropped


def test_quoting_is_a_property_of_the_format_not_of_its_name(tmp_path, monkeypatch):
    """A registry row with ``quoted=False`` goes through the unquoted reader whatever it is called; the same
    row quoted goes through the CSV reader, which takes a field's opening quote as quoting and refuses the row."""
    import dataclasses

    from symcere_kit.data import readers
    from symcere_kit.data.readers import read as read_module

    lines = ["\t".join(US_TSV_HEADER), us_tsv_line("111", "B001", '"Excellent!!!" is all', "2015-08-31"),
             us_tsv_line("112", "B002", "plain", "2015-08-30")]
    path = write_bytes(tmp_path / "reviews.tsv", ("\n".join(lines) + "\n").encode())
    base = readers.SCHEMAS["amazon_us_tsv"]
    for name, quoted in (("mirror", False), ("mirror_tsv", True)):
        monkeypatch.setitem(readers.SCHEMAS, name, dataclasses.replace(base, fmt=name, quoted=quoted))
        monkeypatch.setattr(read_module, "FORMATS", (*read_module.FORMATS, name))
    def texts(fmt):
        return read_reviews(path, fmt=fmt, progress=False).frame["text"].tolist()

    assert texts("mirror") == ['"Excellent!!!" is all', "plain"]
    with pytest.raises(DataFormatError, match="line 2: unreadable CSV"):
        texts("mirror_tsv")


def test_a_format_is_one_row_of_a_family_module_listed_in_the_catalogue():
    """The contract of the format registry (readers/catalogue.py): every module of the package that defines
    format rows is a listed family; the registry is their rows; every name --format accepts has a row (or is
    generic_csv); each row can be recognised (a JSON format by a key rule, a table by its header)."""
    import importlib
    import pkgutil

    from symcere_kit.data import readers
    from symcere_kit.data.readers import catalogue

    modules = [importlib.import_module(f"{readers.__name__}.{m.name}") for m in pkgutil.iter_modules(readers.__path__)]
    families = [m for m in modules if hasattr(m, "ROWS")]
    assert set(families) == set(catalogue.FAMILIES) and families
    assert list(readers.SCHEMAS.values()) == [row for family in catalogue.FAMILIES for row in family.ROWS]
    assert set(FORMATS) == set(readers.SCHEMAS) | {"generic_csv"}
    for name, row in readers.SCHEMAS.items():
        assert name == row.fmt
        assert (row.recognise is not None and row.recognised_by) if name.endswith("_json") else row.header, name


def test_amazon_us_tsv_row_with_wrong_field_count_names_its_line(tmp_path):
    lines = ["\t".join(US_TSV_HEADER), us_tsv_line("111", "B001", "ok", "2015-08-31"),
             us_tsv_line("112", "B002", "a tab\tinside", "2015-08-31"), us_tsv_line("113", "B003", "ok", "2015-08-31")]
    path = write_bytes(tmp_path / "us.tsv", ("\n".join(lines) + "\n").encode())
    assert_names(failure(path), path, "line 3:", "16 tab-separated fields but the header has 15")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (result.frame["user"].tolist(), result.n_skipped) == (["111", "113"], 1)


# ------------------------------------------------------------------------------------ one date format


def dated_csv(tmp_path: Path, dates: list[str], name: str = "r.csv") -> Path:
    rows = [f"u{i % 2},i{i},t,{date}" for i, date in enumerate(dates)]
    return write_bytes(tmp_path / name, ("user,item,text,timestamp\n" + "\n".join(rows) + "\n").encode())


def test_one_date_format_for_the_whole_column(tmp_path):
    path = dated_csv(tmp_path, ["11/01/2014", "12/01/2014", "13/01/2014"])  # 13 cannot be a month: day-first
    frame = read_reviews(path, progress=False).frame
    days = pd.to_datetime(frame["timestamp"], unit="ms").dt.strftime("%Y-%m-%d").tolist()
    assert days == ["2014-01-11", "2014-01-12", "2014-01-13"]


def test_ambiguous_dates_are_refused_and_read_with_date_format(tmp_path):
    path = dated_csv(tmp_path, ["01/02/2014", "03/04/2014"])
    assert_names(failure(path), path, "line 2:", "'01/02/2014'", "--date-format")
    frame = read_reviews(path, date_format="%d/%m/%Y", progress=False).frame
    assert pd.to_datetime(frame["timestamp"], unit="ms").dt.strftime("%Y-%m-%d").tolist() == ["2014-02-01",
                                                                                             "2014-04-03"]
    ds = load_dataset(path, DataConfig(user_k=1, item_k=1), date_format="%m/%d/%Y", progress=False)
    assert ds.stats["date_range"] == ["2014-01-02", "2014-03-04"]
    plain = load_dataset(dated_csv(tmp_path, ["2014-01-02", "2014-03-04"], "iso.csv"), DataConfig(user_k=1, item_k=1),
                         progress=False)
    assert ds.fingerprint != plain.fingerprint


def test_a_value_outside_the_column_format_is_a_bad_record(tmp_path):
    path = dated_csv(tmp_path, ["13/01/2014", "14/01/2014", "2014-01-15", "1389571200", "16/01/2014"])
    assert_names(failure(path), path, "line 4:", "'2014-01-15'", "%d/%m/%Y")
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (result.n_skipped, result.skipped_examples[0][:7]) == (1, "line 4:")
    assert result.frame["timestamp"].tolist() == [
        1_389_571_200_000,
        1_389_657_600_000,
        1_389_571_200_000,
        1_389_830_400_000,
    ]


def test_date_format_reaches_the_cli(tmp_path, capsys):
    path = dated_csv(tmp_path, ["01/02/2014", "03/04/2014"])
    assert main(["--quiet", "stats", str(path), "--user-k", "1", "--item-k", "1", "--no-cache"]) == 2
    assert "--date-format" in capsys.readouterr().err
    code = main(["--quiet", "stats", str(path), "--user-k", "1", "--item-k", "1", "--no-cache", "--json",
                 "--date-format", "%d/%m/%Y"])
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["date_range"] == ["2014-02-01", "2014-04-03"]


# ------------------------------------------------------------------------------------- encoding advice


def utf8_reviews_with(tmp_path: Path, name: str, replace: bytes, by: bytes) -> Path:
    records = [{**record_2023(i), "text": f"caf\u00e9 na\u00efve {i}"} for i in range(6)]
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    lines[3] = lines[3].replace(replace, by)
    return write_bytes(tmp_path / name, b"\n".join(lines) + b"\n")


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_a_stray_latin1_byte_in_a_utf8_file_is_not_fixed_by_iconv(tmp_path, name):
    path = utf8_reviews_with(tmp_path, name, "caf\u00e9".encode(), b"caf\xe9")  # one Latin-1 e-acute on line 4
    message = failure(path)
    assert_names(message, path, "line 4:", "0xe9", "UTF-8 with a few bad bytes", "fix or delete that line",
                 "--skip-bad-records")
    assert "iconv" not in message
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert (len(result.frame), result.n_skipped) == (5, 1)
    assert result.frame["text"].iloc[0] == "caf\u00e9 na\u00efve 0"  # the valid accents stay as they are


def test_a_latin1_file_throughout_gets_iconv(tmp_path):
    records = [{**record_2023(i), "text": f"caf\u00e9 {i}"} for i in range(4)]
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("latin-1")
    path = write_bytes(tmp_path / "latin1.jsonl", data)
    assert_names(failure(path), path, "line 1:", "0xe9", "iconv -f latin1 -t utf-8")
    csv_path = write_bytes(tmp_path / "latin1.csv", "user,item,text,timestamp\nu,i,caf\u00e9,1\n".encode("latin-1"))
    assert_names(failure(csv_path), csv_path, "line 2:", "iconv -f latin1 -t utf-8")


def test_a_stray_byte_in_a_utf8_csv_advises_fixing_the_line(tmp_path):
    rows = "".join(f"u{i},i{i},na\u00efve caf\u00e9 {i},{i}\n" for i in range(5)).encode()
    rows = rows.replace("caf\u00e9 3".encode(), b"caf\xe9 3")
    path = write_bytes(tmp_path / "r.csv", b"user,item,text,timestamp\n" + rows)
    message = failure(path, skip_bad_records=True)  # a bad encoding in a CSV is never skipped
    assert_names(message, path, "line 5:", "UTF-8 with a few bad bytes", "fix or delete that line")
    assert "iconv" not in message and "--skip-bad-records" not in message


# ---------------------------------------------------------------------------------------- tar archives


def yelp_review_file(tmp_path: Path) -> Path:
    records = [{"review_id": f"r{i}", "user_id": f"u{i % 4}", "business_id": f"b{i % 3}", "stars": float(i % 5 + 1),
                "useful": 0, "text": f"review {i}", "date": f"2018-07-{i % 28 + 1:02d} 22:09:11"} for i in range(40)]
    return write_bytes(tmp_path / "yelp_academic_dataset_review.json",
                       "".join(json.dumps(r) + "\n" for r in records).encode())


def write_tar(path: Path, members: dict[str, Path]) -> Path:
    import tarfile

    with tarfile.open(path, "w:gz" if path.suffix == ".gz" else "w") as archive:
        for name, source in members.items():
            archive.add(source, arcname=name)
    return path


@pytest.mark.parametrize("name", ["yelp_dataset.tar", "yelp_dataset.tar.gz"])
def test_yelp_tar_reads_its_review_member(tmp_path, name):
    reviews = yelp_review_file(tmp_path)
    business = write_bytes(tmp_path / "business.json", b'{"business_id": "b0", "name": "Tacos"}\n' * 50)
    archive = write_tar(tmp_path / name, {"yelp_academic_dataset_business.json": business,
                                          "yelp_academic_dataset_review.json": reviews,
                                          "Dataset_User_Agreement.pdf": business})
    assert detect_format(archive) == "yelp_json"
    pd.testing.assert_frame_equal(read_reviews(archive, progress=False).frame,
                                  read_reviews(reviews, progress=False).frame)
    config = DataConfig(user_k=2, item_k=2)
    a, b = (load_dataset(p, config, progress=False, use_cache=False) for p in (archive, reviews))
    # 12 distinct (user, business) pairs after dedupe, 3 per user: 1 test item each
    assert a.stats == b.stats and (a.n_users, a.n_items, len(a.train), len(a.test)) == (4, 3, 8, 4)


def test_single_file_tar_and_a_tar_that_names_no_review_file(tmp_path):
    reviews = yelp_review_file(tmp_path)
    single = write_tar(tmp_path / "one.tar", {"data/whatever.json": reviews})
    assert len(read_reviews(single, progress=False).frame) == 40
    two = write_tar(tmp_path / "two.tar.gz", {"a.json": reviews, "b.json": reviews})
    message = failure(two)
    assert_names(message, two, "holds 2 files (a.json, b.json)", f"tar -xf {two} MEMBER")
    assert "\\x00" not in message and "header" not in message


def test_a_cut_tar_keeps_the_lines_before_the_cut_only_when_asked(tmp_path):
    records = [{"user_id": f"u{i}", "business_id": "b", "stars": 5.0, "text": "x" * 80, "date": "2018-07-07 22:09:11"}
               for i in range(600)]
    reviews = write_bytes(tmp_path / "yelp_academic_dataset_review.json",
                          "".join(json.dumps(r) + "\n" for r in records).encode())
    data = write_tar(tmp_path / "whole.tar", {"yelp_academic_dataset_review.json": reviews}).read_bytes()
    cut = write_bytes(tmp_path / "cut.tar", data[: 512 + 40_000])  # the header, then 40 kB of the 83 kB member
    result = read_reviews(cut, skip_bad_records=True, progress=False)
    kept = len(result.frame)
    assert result.n_skipped == 1 and 0 < kept <= 40_000 // 175  # whole lines (175+ bytes) before the cut
    assert result.frame["user"].tolist() == [f"u{i}" for i in range(kept)]
    assert_names(failure(cut), cut, f"tar stream ends early after line {kept}", "truncated")


def test_milliseconds_order_two_reviews_within_one_second(tmp_path):
    """Amazon 2023 times are milliseconds: of two reviews 400 ms apart, the later is the test item even when
    it comes first in the file (cut to seconds, file order would have decided)."""
    from symcere_kit.config import DataConfig
    from symcere_kit.data.dataset import load_dataset

    def record(item, ms):
        return {"rating": 5.0, "title": "t", "text": f"on {item}", "asin": item, "parent_asin": item,
                "user_id": "U1", "timestamp": ms}

    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [record("LATER", 1_557_031_577_900),
                                                             record("EARLIER", 1_557_031_577_500)]))
    ds = load_dataset(path, DataConfig(user_k=1, item_k=1), progress=False, use_cache=False)
    assert ds.item_ids[ds.test["item"]].tolist() == ["LATER"]
    assert ds.train["timestamp"].tolist() == [1_557_031_577_500]


def test_a_tar_of_a_gzipped_review_file_reads_the_member_uncompressed(tmp_path):
    import gzip as gz

    reviews = yelp_review_file(tmp_path)
    packed = tmp_path / "yelp_academic_dataset_review.json.gz"
    packed.write_bytes(gz.compress(reviews.read_bytes()))
    archive = write_tar(tmp_path / "bundle.tar", {"yelp_academic_dataset_review.json.gz": packed})
    pd.testing.assert_frame_equal(read_reviews(archive, progress=False).frame,
                                  read_reviews(reviews, progress=False).frame)


def test_epoch_microseconds_and_nanoseconds_are_read_by_their_size(tmp_path):
    second = 1_400_000_000
    rows = ["user,item,text,timestamp"] + [f"u,i{k},t,{second * 10 ** (3 * k)}" for k in range(4)]
    path = write_bytes(tmp_path / "r.csv", ("\n".join(rows) + "\n").encode())
    frame = read_reviews(path, progress=False).frame  # seconds, ms, us, ns
    assert frame["timestamp"].tolist() == [second * 1000] * 4


def test_a_header_only_file_and_text_options_on_a_ratings_only_file_say_what_is_wrong(tmp_path):
    from symcere_kit.errors import EmptyDatasetError

    header = write_bytes(tmp_path / "h.csv", b"user_id,parent_asin,rating,timestamp\n")
    with pytest.raises(EmptyDatasetError, match=r"holds no review records \(a header only\?\)"):
        load_dataset(header, progress=False, use_cache=False)
    ratings = write_bytes(tmp_path / "r.csv", b"user_id,parent_asin,rating,timestamp\nU,P,5.0,1557031577676\n")
    with pytest.raises(EmptyDatasetError, match=r"ratings only .*--empty-text drop would remove every review"):
        load_dataset(ratings, DataConfig(user_k=1, item_k=1, empty_text="drop"), progress=False, use_cache=False)


def test_split_cutoffs_without_the_timestamp_split_are_refused():
    from symcere_kit.errors import SymcereError

    with pytest.raises(SymcereError, match="timestamp split only.*--split timestamp"):
        DataConfig(split_cutoffs_ms=(1, 2))
    assert DataConfig(split="timestamp", split_cutoffs_ms=(1, 2)).split_cutoffs_ms == (1, 2)


# ------------------------------------------------------------------------------- time columns as users re-save them

def test_a_yelp_file_resaved_with_epoch_numbers_reads_the_same_times(tmp_path):
    dates = ["2018-07-07 22:09:11", "2019-01-02 03:04:05", "2020-02-29 12:00:00"]
    records = [{"user_id": f"u{i}", "business_id": "b1", "stars": 5.0, "text": "ok", "date": d}
               for i, d in enumerate(dates)]
    publisher = read_reviews(write_jsonl(tmp_path / "y.json", records), progress=False).frame["timestamp"]
    for unit in (1000, 1):  # epoch milliseconds (a pandas to_json re-save), then seconds
        resaved = [{**r, "date": int(ms) // unit} for r, ms in zip(records, publisher)]
        result = read_reviews(write_jsonl(tmp_path / f"y{unit}.json", resaved), progress=False)
        assert result.format == "yelp_json" and result.frame["timestamp"].tolist() == publisher.tolist()


def test_a_2023_csv_resaved_with_iso_date_times_reads_the_same_times(tmp_path):
    ms = [1_588_687_728_923, 1_588_687_729_000, 1_600_000_000_123]
    stamps = pd.to_datetime(ms, unit="ms")
    for name, text in [("with ms", stamps.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]),  # pandas' to_csv of datetimes
                       ("with T and zone", stamps.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "+00:00")]:
        rows = ["user_id,parent_asin,text,timestamp"] + [f"U{i},P{i},fine,{t}" for i, t in enumerate(text)]
        path = write_bytes(tmp_path / f"{name}.csv", ("\n".join(rows) + "\n").encode())
        result = read_reviews(path, progress=False)
        assert result.format == "amazon2023_csv" and result.frame["timestamp"].tolist() == ms, name
    rows = ["user_id,parent_asin,text,timestamp"] + [f"U{i},P{i},fine,{s}" for i, s in enumerate(["2020-05-05"] * 3)]
    whole_days = read_reviews(write_bytes(tmp_path / "d.csv", ("\n".join(rows) + "\n").encode()), progress=False)
    assert whole_days.frame["timestamp"].tolist() == [1_588_636_800_000] * 3  # midnight UTC


def test_a_numeric_time_in_the_other_unit_is_read_by_its_size(tmp_path):
    # 2014's seconds re-saved as milliseconds, 2023's milliseconds re-saved as seconds: the same instants
    r2014 = [amazon_record(i) for i in range(3)]
    seconds = read_reviews(write_jsonl(tmp_path / "s.json", r2014), progress=False).frame["timestamp"].tolist()
    as_ms = [{**r, "unixReviewTime": r["unixReviewTime"] * 1000} for r in r2014]
    assert read_reviews(write_jsonl(tmp_path / "ms.json", as_ms), progress=False).frame["timestamp"].tolist() == seconds
    r2023 = [{**record_2023(i), "timestamp": 1_588_687_728_000 + 1000 * i} for i in range(3)]
    as_s = [{**r, "timestamp": r["timestamp"] // 1000} for r in r2023]
    got = read_reviews(write_jsonl(tmp_path / "s.jsonl", as_s), progress=False).frame["timestamp"].tolist()
    assert got == [r["timestamp"] for r in r2023]


def test_an_ambiguous_resaved_date_column_names_date_format_and_reads_with_it(tmp_path):
    lines = ["\t".join(US_TSV_HEADER)] + [us_tsv_line(f"11{i}", "B001", "ok", d)
                                          for i, d in enumerate(["01/02/2015", "03/04/2015", "05/06/2015"])]
    path = write_bytes(tmp_path / "us.tsv", ("\n".join(lines) + "\n").encode())
    message = failure(path)
    assert "--date-format" in message and "01/02/2015" in message and "line 2" in message
    frame = read_reviews(path, date_format="%m/%d/%Y", progress=False).frame
    assert frame["timestamp"].tolist()[0] == 1_420_156_800_000  # 2 January 2015, midnight UTC
    lines.append(us_tsv_line("119", "B002", "ok", "13/06/2015"))  # a day above 12: day first, unambiguous
    path.write_bytes(("\n".join(lines) + "\n").encode())
    assert read_reviews(path, progress=False).frame["timestamp"].tolist()[0] == 1_422_748_800_000  # 1 February


def test_a_time_column_mixing_forms_keeps_the_publishers_and_names_each_other_value(tmp_path):
    records = [{"user_id": f"u{i}", "business_id": "b1", "stars": 5.0, "text": "ok", "date": d}
               for i, d in enumerate(["2018-07-07 22:09:11", 1_531_001_351_000, "2018-07-08 00:00:00"])]
    path = write_jsonl(tmp_path / "y.json", records)
    assert_names(failure(path), path, "line 2:", '"date"', "1531001351000")


def test_a_date_format_that_reads_none_of_the_times_is_refused_naming_the_first(tmp_path):
    path = write_jsonl(tmp_path / "r.json", [amazon_record(i) for i in range(3)])
    message = failure(path, date_format="%d/%m/%Y")
    assert_names(message, path, "line 1", "--date-format %d/%m/%Y reads none", '"unixReviewTime"', "Leave out")


def test_deep_nesting_is_a_bad_record_and_json_messages_read_once(tmp_path):
    records = [json.dumps(amazon_record(0)), '{"reviewerID": "A", "x": ' + "[" * 3000 + "]" * 3000 + "}",
               '{"reviewerID": "A\tB", "asin": "B", "unixReviewTime": 1}']
    path = write_bytes(tmp_path / "r.json", ("\n".join(records) + "\n").encode())
    result = read_reviews(path, skip_bad_records=True, progress=False)
    assert result.n_skipped == 2 and "nested too deeply" in result.skipped_examples[0]
    assert "(Invalid control character at column" in result.skipped_examples[1]  # not "at at column"


def test_fractional_epoch_seconds_keep_their_milliseconds_and_order(tmp_path):
    r2023 = [{**record_2023(i), "timestamp": 1588687728.923 + i / 10} for i in range(3)]  # seconds, 100 ms apart
    got = read_reviews(write_jsonl(tmp_path / "s.jsonl", r2023), progress=False).frame["timestamp"].tolist()
    assert got == [1588687728923, 1588687729023, 1588687729123]
    times = ["1588687728.923", "1588687729.023"]
    rows = ["user,item,timestamp,text"] + [f"u{i},i{i},{t},x" for i, t in enumerate(times)]
    frame = read_reviews(write_bytes(tmp_path / "g.csv", ("\n".join(rows) + "\n").encode()), progress=False).frame
    assert frame["timestamp"].tolist() == [1588687728923, 1588687729023]


def test_yyyymmdd_numbers_are_refused_as_epoch_times_and_read_with_their_date_format(tmp_path):
    records = [{"user_id": f"u{i}", "business_id": "b1", "stars": 5.0, "text": "ok", "date": 20180701 + i}
               for i in range(3)]
    path = write_jsonl(tmp_path / "y.json", records)
    assert_names(failure(path), path, "line 1", "YYYYMMDD", "20180701", "--date-format %Y%m%d")
    frame = read_reviews(path, date_format="%Y%m%d", progress=False).frame
    assert frame["timestamp"].tolist()[0] == 1_530_403_200_000  # 2018-07-01, midnight UTC
    rows = ["user,item,timestamp,text"] + [f"u{i},i{i},2014010{i + 1},x" for i in range(3)]
    generic = write_bytes(tmp_path / "g.csv", ("\n".join(rows) + "\n").encode())
    assert_names(failure(generic), generic, "line 2", "YYYYMMDD", "--date-format %Y%m%d")


def test_dates_outside_pandas_range_read_as_written_instead_of_crashing(tmp_path):
    rows = ["user,item,timestamp,text", "u1,i1,2014-05-06,x", "u2,i1,0001-01-01,x", "u3,i1,2300-05-05 14:08:48.923,x"]
    frame = read_reviews(write_bytes(tmp_path / "g.csv", ("\n".join(rows) + "\n").encode()), progress=False).frame
    assert frame["timestamp"].tolist() == [1_399_334_400_000, -62_135_596_800_000, 10_424_556_528_923]


def test_a_utf16_file_is_told_to_be_reencoded(tmp_path):
    path = write_bytes(tmp_path / "export.csv", "user,item,timestamp\r\nu,i,1\r\n".encode("utf-16"))
    assert_names(failure(path), path, "line 1", "UTF-16", "iconv -f utf-16 -t utf-8")
