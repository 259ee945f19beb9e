"""The DuckDB-native JSON-lines reader gives the Python reader's rows and values exactly, or refuses the file.

Each case spools a file three ways: the Python reader, ``engine="duckdb"`` (native or NativeRefused) and
``engine="auto"`` (what load_dataset uses). Where the native path reads a file, its Parquet spool must equal
the Python reader's table cell for cell (NaN ratings included); ``auto`` must always give the Python
reader's outcome, the same table or the same error.
"""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SHARED_DATA

from symcere_kit.data.readers import SCHEMAS, NativeRefused, spool_reviews
from symcere_kit.errors import DataFormatError


def spool(path: Path, tmp_path: Path, engine: str, **kwargs):
    """(result, table) or (None, the error's text)."""
    target = tmp_path / f"spool-{engine}.parquet"
    try:
        result = spool_reviews(path, target, progress=False, engine=engine, **kwargs)
    except (DataFormatError, NativeRefused) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return result, pq.read_table(target)


def same(a, b) -> bool:
    """Equal tables: the same column names and types, NaN equal to NaN (a missing rating is NaN on both paths).
    Nullability flags may differ: DuckDB marks a constant column (Yelp's empty title) not null."""
    return ([(f.name, f.type) for f in a.schema] == [(f.name, f.type) for f in b.schema]
            and a.to_pandas().equals(b.to_pandas()))


def check_same(path: Path, tmp_path: Path, **kwargs) -> bool:
    """Assert the three readings agree as the module docstring says; whether the native path read the file."""
    _, python = spool(path, tmp_path, "python", **kwargs)
    native_result, native = spool(path, tmp_path, "duckdb", **kwargs)
    auto_result, auto = spool(path, tmp_path, "auto", **kwargs)
    if native_result is not None:
        assert native_result.engine == "duckdb" and native_result.n_rows == native.num_rows
        assert same(native, python), f"{path.name}: the DuckDB path reads other values than the Python reader"
    assert auto == python if isinstance(python, str) else same(auto, python)
    assert auto_result is None or auto_result.engine == ("duckdb" if native_result is not None else "python")
    return native_result is not None


@pytest.mark.parametrize("relative", ["amazon2018_gift_cards_5/Gift_Cards_5.json.gz",
                                      "amazon2018_all_beauty_5/All_Beauty_5.json.gz",
                                      "amazon2018_fashion_5/AMAZON_FASHION_5.json.gz",
                                      "amazon2014_musical_instruments/Musical_instruments_reviews.csv.gz"])
def test_every_shared_file_reads_the_same(tmp_path, relative):
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    assert check_same(path, tmp_path) == path.name.endswith(".json.gz")  # the CSV is the Python reader's


GOOD = {"user_id": "AE1", "parent_asin": "B01", "rating": 4.0, "text": "Works well.", "title": "Good",
        "timestamp": 1_600_000_000_123}


def lines_file(tmp_path: Path, name: str, lines: list[str], newline: str = "\n", prefix: str = "") -> Path:
    data = (prefix + newline.join(lines) + newline).encode("utf-8")
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def record(**changes) -> str:
    out = {**GOOD, **changes}
    return json.dumps({k: v for k, v in out.items() if v is not ...}, ensure_ascii=False)


# (name, lines, whether the native path reads it)
CASES = {
    "plain": ([record(), record(user_id="AE2", timestamp=1)], True),
    "unicode and escapes": ([record(text="Café \u00e9 \U0001f600 \"q\" \\ tab\t nul\u0000 line\nbreak"),
                             record(user_id="ü", title="")], True),
    "json-looking strings stay strings": ([record(text="[This review was collected as part of a promotion.]"),
                                           record(text="5 stars", title="1.5")], True),
    "blank texts": ([record(text=" \u3000\u2028"), record(text=""), record(text=None), record(text=...)], True),
    "missing and null ratings": ([record(rating=None), record(rating=...), record(rating="4")], True),
    "integral float time": ([record(timestamp=1.6e12), record(timestamp="1600000000124")], True),
    "bool user": ([record(), record(user_id=True)], False),
    "number text": ([record(text=5), record(text=2.5)], True),
    "object text": ([record(text={"a": [1, 2]})], False),
    "list title": ([record(title=["x"])], False),
    "blank user": ([record(user_id=" \u3000")], False),
    "missing item": ([record(parent_asin=...)], False),
    "fractional time": ([record(timestamp=1_600_000_000_123.5)], False),
    "time beyond 2**53": ([record(timestamp=2 ** 53 + 1)], False),
    "bad rating": ([record(rating="five")], False),
    "loose json": ([record(), "{'user_id': 'A', 'parent_asin': 'B', 'timestamp': 1}"], False),
    "cut line": ([record(), record()[:30], record()], False),
    "a list line": ([record(), "[1, 2]"], False),
    "duplicate key": ([record()[:-1] + ', "user_id": "AE9"}'], False),
    "NaN title": ([record().replace('"title": "Good"', '"title": NaN')], False),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_edge_records(tmp_path, case, name):
    lines, native = CASES[case]
    path = lines_file(tmp_path, name, lines)
    assert check_same(path, tmp_path) == native
    if not native:  # the same file with bad records skipped: the Python reader's count and rows
        check_same(path, tmp_path, skip_bad_records=True)


@pytest.mark.parametrize("newline,prefix,blank", [("\r\n", "", False), ("\n", "\ufeff", False), ("\n", "", True)])
def test_line_endings_byte_order_mark_and_blank_lines(tmp_path, newline, prefix, blank):
    lines = [record(user_id=f"U{i}") for i in range(5)]
    if blank:
        lines[2:2] = ["", "   "]
    assert check_same(lines_file(tmp_path, "r.jsonl", lines, newline, prefix), tmp_path)


def test_a_multi_member_gzip_is_read_whole_and_a_cut_one_is_refused(tmp_path):
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(gzip.compress((record(user_id="A") + "\n").encode()) + gzip.compress((record() + "\n").encode()))
    assert check_same(path, tmp_path)
    assert pq.read_table(tmp_path / "spool-duckdb.parquet").num_rows == 2
    data = gzip.compress(("\n".join(record(user_id=f"U{i}") for i in range(2000)) + "\n").encode())
    path.write_bytes(data[: len(data) // 2])
    assert not check_same(path, tmp_path)  # the Python reader names the cut
    assert "truncated" in spool(path, tmp_path, "auto")[1]


@pytest.mark.parametrize("fmt", ["amazon2014_json", "amazon2018_json", "yelp_json"])
def test_the_other_json_formats(tmp_path, fmt):
    s = SCHEMAS[fmt]
    when = ["2014-01-05 10:00:00", "2019-12-31 23:59:59"] if fmt == "yelp_json" else [1393545600, 1.3e9]
    extra = {"verified": True} if fmt == "amazon2018_json" else {}
    records = [{s.user: f"U{i}", s.item: f"I{i % 3}", s.rating: 5, s.text: f"t{i}", s.timestamp: when[i % 2],
                **({s.title: "h"} if s.title else {}), **extra} for i in range(6)]
    path = lines_file(tmp_path, "r.json", [json.dumps(r) for r in records])
    assert check_same(path, tmp_path)
    if fmt == "yelp_json":  # other ISO forms are the Python reader's (fromisoformat); a wrong date is a bad record
        for odd in ("2014-01-05T10:00:00", "2014-02-30 10:00:00", "2014-1-5 10:00:00"):
            path = lines_file(tmp_path, "r.json", [json.dumps({**records[0], s.timestamp: odd})])
            assert not check_same(path, tmp_path)


_POOLS = {
    "text": ["ok", "", " ", "\u3000", "Caf\u00e9", "\U0001f600", "a\nb", "\"quoted\"", "\\", "[x]", "{y}", "7", "1e5",
             "true", "null", 3, 2.5, -0.0, 10 ** 20, True, None, {"k": 1}, [1], float("nan")],
    "rating": [1, 5, 3.5, "4", None, "x", True, 1e400, "", " 2 "],
    "timestamp": [1_600_000_000_000, 1.5e12, "1600000000001", 1.5, None, True, 2 ** 60, "soon", -5],
}


def random_line(rng: random.Random, weird: float) -> str:
    r = dict(GOOD, user_id=f"U{rng.randrange(50)}", parent_asin=f"B{rng.randrange(20)}",
             timestamp=1_500_000_000_000 + rng.randrange(10 ** 9), text=rng.choice(["fine", "bad", "Caf\u00e9 ok"]))
    for key in list(r):
        if rng.random() < weird:
            pool = _POOLS.get(key, _POOLS["text"])
            r[key] = rng.choice(pool)
        if rng.random() < weird / 4:
            del r[key]
    return json.dumps(r, ensure_ascii=rng.random() < 0.5)  # NaN and Infinity as Python writes them


@pytest.mark.parametrize("seed", range(24))
def test_random_files(tmp_path, seed):
    rng = random.Random(seed)
    weird = [0.0, 0.002, 0.05][seed % 3]
    lines = [random_line(rng, weird) for _ in range(rng.randrange(1, 400))]
    path = lines_file(tmp_path, "r.jsonl.gz" if seed % 2 else "r.jsonl", lines)
    native = check_same(path, tmp_path)
    if weird == 0.0:
        assert native
    check_same(path, tmp_path, skip_bad_records=True)


def test_a_damaged_gzip_that_duckdb_would_read_is_refused_for_the_python_readers_error(tmp_path):
    # A stored (level 0) gzip with one byte of a user id changed: DuckDB, which checks no CRC, would read "UX50"
    data = ("\n".join(record(user_id=f"U{i}") for i in range(300)) + "\n").encode()
    damaged = bytearray(gzip.compress(data, compresslevel=0))
    at = damaged.index(b'"U150"') + 2
    damaged[at] = ord("X")
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(bytes(damaged))
    assert not check_same(path, tmp_path)
    assert "CRC check failed" in spool(path, tmp_path, "auto")[1] or "corrupt" in spool(path, tmp_path, "auto")[1]


def test_a_path_with_glob_characters_is_read_as_the_file_it_names(tmp_path):
    named = lines_file(tmp_path, "r[1].jsonl", [record(user_id="only")])
    lines_file(tmp_path, "r1.jsonl", [record(user_id=f"other{i}") for i in range(7)])  # what r[1] would match
    assert not check_same(named, tmp_path)  # refused by DuckDB, read by Python
    result, table = spool(named, tmp_path, "auto")
    assert table.column("user").to_pylist() == ["only"]


def test_an_unpaired_surrogate_is_a_bad_record_on_both_paths_not_a_crash(tmp_path):
    line = '{"user_id": "U\\ud800", "parent_asin": "B", "timestamp": 1600000000000}'
    path = lines_file(tmp_path, "r.jsonl", [record(), line])
    assert not check_same(path, tmp_path)
    assert "line 2:" in spool(path, tmp_path, "auto")[1]
    check_same(path, tmp_path, skip_bad_records=True)
