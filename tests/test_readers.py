"""Readers: every format on small generated files, the real shared files, and every kind of bad input."""
from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from symcere_kit.data.readers import COLUMNS, FORMATS, detect_format, parse_column_map, read_reviews
from symcere_kit.errors import DataFormatError

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
