"""The error catalogue of docs/data/errors.md, made when the site is built.

Each reader error is produced for real: a small bad file is written to a temporary folder and read
with the same functions ``symcere`` calls, and the message is shown as the command line prints it
(``symcere: error: ...``, exit code 2). The few errors that need a trained model or a large dataset
to happen are quoted from their ``raise`` in the source instead, placeholders in braces. Either way a
change of wording in the code changes the page.
"""
from __future__ import annotations

import ast
import contextlib
import gzip
import html
import io
import json
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

_REVIEW = {"reviewerID": "A1", "asin": "B1", "reviewText": "Works well.", "overall": 5.0, "summary": "Good",
           "unixReviewTime": 1393545600}


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _reviews(n: int = 3) -> list[dict]:
    return [{**_REVIEW, "reviewerID": f"A{i}", "asin": f"B{i % 2}"} for i in range(n)]


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buf.getvalue()


def _tar(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _read(name: str, content: str | bytes, **options) -> Callable[[Path], None]:
    """Read ``content`` saved as ``name`` the way ``symcere stats FILE [options]`` does."""
    def run(folder: Path) -> None:
        from symcere_kit.data.readers import parse_column_map, read_reviews

        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        kwargs = dict(options)
        columns = kwargs.pop("columns", None)
        read_reviews(path, column_map=parse_column_map(columns) if columns else None, progress=False, **kwargs)
    return run


def _columns(spec: str) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        from symcere_kit.data.readers import parse_column_map

        parse_column_map(spec)
    return run


def _resolve(name: str) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        from symcere_kit.data.registry import resolve

        resolve(name)
    return run


def _nothing_left(folder: Path) -> None:
    from symcere_kit.config import DataConfig
    from symcere_kit.data.preprocess import preprocess
    from symcere_kit.data.readers import spool_reviews

    path = folder / "reviews.jsonl"
    path.write_text(_jsonl(_reviews(3)))
    raw = spool_reviews(path, folder / "spool.parquet", progress=False)
    preprocess(raw.spool, DataConfig(), source=str(path), n_skipped=raw.n_skipped)


_LATIN1 = _jsonl(_reviews(2)).encode() + json.dumps({**_REVIEW, "reviewText": "Très bien"}, ensure_ascii=False
                                                    ).encode("latin-1") + b"\n"
_UTF8_STRAY = (json.dumps({**_REVIEW, "reviewText": "Très bien, déjà réglé"}, ensure_ascii=False) + "\n").encode() * 2 \
    + _jsonl([{**_REVIEW, "reviewText": "Works XX well"}]).encode().replace(b"XX", b"\xff")
_FULL = _jsonl(_reviews(400))
_GENERIC = "user,item,timestamp,text\nu1,i1,01/02/2014,Fine\nu2,i1,03/04/2014,Good\n"

# (situation, what you ran, how to make it happen); the catalogue's order is the page's.
READ_CASES: list[tuple[str, str, Callable[[Path], None]]] = [
    ("A path that does not exist", "symcere stats data/my_reviews.jsonl.gz", _resolve("data/my_reviews.jsonl.gz")),
    (
        "A dataset name the registry does not know",
        "symcere stats amazon_musical_instruments",
        _resolve("amazon_musical_instruments"),
    ),
    (
        "A dataset name whose file is nowhere here, offline",
        "SYMCERE_OFFLINE=1 symcere stats amazon2023_health_and_household",
        _resolve("amazon2023_health_and_household"),
    ),
    ("A file with no lines", "symcere stats reviews.jsonl", _read("reviews.jsonl", "")),
    (
        "A table whose header matches no format",
        "symcere stats reviews.csv",
        _read("reviews.csv", "reviewer,product,stars,when\nA1,B1,5,2014-01-01\n"),
    ),
    (
        "Ratings without a header row (SNAP's ratings_*.csv)",
        "symcere stats ratings_Musical_Instruments.csv",
        _read("ratings_Musical_Instruments.csv", "A1,B1,5.0,1393545600\nA2,B1,4.0,1393632000\n"),
    ),
    (
        "JSON records of an unknown kind",
        "symcere stats reviews.jsonl",
        _read("reviews.jsonl", _jsonl([{"reviewer": "A1", "product": "B1", "text": "ok", "time": 1}])),
    ),
    (
        "A JSON line cut mid-record",
        "symcere stats reviews.jsonl",
        _read("reviews.jsonl", _jsonl(_reviews(2)) + json.dumps(_REVIEW)[:40] + "\n" + _jsonl(_reviews(1))),
    ),
    (
        "A record without a required field",
        "symcere stats reviews.jsonl",
        _read("reviews.jsonl", _jsonl(_reviews(2) + [{k: v for k, v in _REVIEW.items() if k != "asin"}])),
    ),
    (
        "A time that is not a time",
        "symcere stats reviews.jsonl",
        _read("reviews.jsonl", _jsonl(_reviews(1) + [{**_REVIEW, "unixReviewTime": "last May"}])),
    ),
    (
        "A rating that is not a number",
        "symcere stats reviews.jsonl",
        _read("reviews.jsonl", _jsonl(_reviews(1) + [{**_REVIEW, "overall": "five"}])),
    ),
    ("A byte that is not UTF-8 (a Latin-1 file)", "symcere stats reviews.jsonl", _read("reviews.jsonl", _LATIN1)),
    ("A UTF-8 file with a stray byte", "symcere stats reviews.jsonl", _read("reviews.jsonl", _UTF8_STRAY)),
    ("A UTF-16 file (a Windows \"Unicode\" export)", "symcere stats export.csv",
     _read("export.csv", "user,item,timestamp\r\nu1,i1,1393545600\r\n".encode("utf-16"))),
    (
        "A truncated .gz (an interrupted download)",
        "symcere stats reviews.jsonl.gz",
        _read("reviews.jsonl.gz", _gz(_FULL)[: len(_gz(_FULL)) // 2]),
    ),
    (
        "A zip holding several files",
        "symcere stats reviews.zip",
        _read("reviews.zip", _zip({"reviews.jsonl": _FULL, "README.txt": "notes"})),
    ),
    (
        "A tar holding several files, none known by name",
        "symcere stats dump.tar",
        _read("dump.tar", _tar({"dump/a.jsonl": _FULL, "dump/b.jsonl": _FULL})),
    ),
    (
        "A JSON array cut short",
        "symcere stats reviews.json",
        _read("reviews.json", "[" + ",\n".join(json.dumps(r) for r in _reviews(3))[:-30]),
    ),
    (
        "A CSV quote that is never closed",
        "symcere stats reviews.csv",
        _read(
            "reviews.csv",
            'reviewerID,asin,reviewText,unixReviewTime\nA1,B1,"Works well,1393545600\nA2,B1,Fine,1393632000\n',
        ),
    ),
    (
        "A CSV row with too many fields",
        "symcere stats reviews.csv",
        _read("reviews.csv", "reviewerID,asin,reviewText,unixReviewTime\nA1,B1,Works, well,1393545600\n"),
    ),
    (
        "--columns naming a column the header lacks",
        "symcere stats reviews.csv --columns user=uid,item=iid,timestamp=ts",
        _read("reviews.csv", _GENERIC, columns="user=uid,item=iid,timestamp=ts"),
    ),
    (
        "--columns without a required field",
        "symcere stats reviews.csv --columns user=user,item=item",
        _columns("user=user,item=item"),
    ),
    (
        "--columns mixing names and positions",
        "symcere stats ratings.csv --columns user=1,item=item,timestamp=4",
        _columns("user=1,item=item,timestamp=4"),
    ),
    (
        "--columns on a file with a known format",
        "symcere stats reviews.jsonl --columns user=reviewerID,item=asin,timestamp=unixReviewTime",
        _read("reviews.jsonl", _FULL, columns="user=reviewerID,item=asin,timestamp=unixReviewTime"),
    ),
    (
        "--date-format that reads none of a file's times",
        "symcere stats reviews.jsonl --date-format %d/%m/%Y",
        _read("reviews.jsonl", _FULL, date_format="%d/%m/%Y"),
    ),
    ("Dates that two formats read differently", "symcere stats reviews.csv", _read("reviews.csv", _GENERIC)),
    (
        "A date the column's format cannot read",
        "symcere stats reviews.csv --date-format %d/%m/%Y",
        _read("reviews.csv", _GENERIC + "u3,i1,2014-05-06,Nice\n", date_format="%d/%m/%Y"),
    ),
    (
        "A --format the readers do not have",
        "symcere stats reviews.jsonl --format amazon2014",
        _read("reviews.jsonl", _FULL, fmt="amazon2014"),
    ),
    (
        "Every record malformed, with --skip-bad-records",
        "symcere stats reviews.jsonl --skip-bad-records",
        _read("reviews.jsonl", _jsonl([{"reviewerID": "A1", "asin": "B1"}] * 3), skip_bad_records=True),
    ),
    ("Nothing left after the k-core", "symcere stats reviews.jsonl", _nothing_left),
]

# Errors that need a trained model, a large dataset or another split to happen: quoted from the source.
QUOTED_CASES: list[tuple[str, str, str, str]] = [
    ("A text model on a ratings-only file", "symcere train ratings.csv --columns user=1,item=2,rating=3,timestamp=4 "
     "--model symcere", "symcere_kit/data/dataset.py", "has no review text"),
    ("--empty-text drop or title on a ratings-only file", "symcere stats ratings.csv --columns ... --empty-text drop",
     "symcere_kit/data/dataset.py", "is read as ratings only"),
    ("A timestamp split that leaves a side empty", "symcere stats FILE --split timestamp",
     "symcere_kit/data/dataset.py", "The timestamp split of"),
    ("EASE^R or RP3beta on too many items", "symcere train FILE --model ease",
     "symcere_kit/recommender/item_similarity.py", "keeps dense item x item matrices"),
]


def _message(run: Callable[[Path], None], root: Path) -> str:
    from symcere_kit.errors import SymcereError

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp).resolve()
        try:
            run(folder)
        except SymcereError as exc:
            text = str(exc)
        else:
            raise RuntimeError(f"no error from {run}: the catalogue case no longer fails; update errors_catalogue.py")
    for prefix, shown in ((f"{folder}/", ""), (f"{root}/", ""), (f"{root.parent}/", "../"), (str(folder), ".")):
        text = text.replace(prefix, shown)
    return f"symcere: error: {text}"


def _template(node: ast.expr) -> str:
    """A message expression as text: f-string fields as ``{source}``, adjacent strings joined."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_template(v) if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
                       for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _template(node.left) + _template(node.right)
    return "{" + ast.unparse(node) + "}"


def _quoted(root: Path, relpath: str, needle: str) -> str:
    tree = ast.parse((root / relpath).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            text = _template(node.exc.args[0])
            if needle in text:
                return f"symcere: error: {text}"
    raise RuntimeError(f"no raise with {needle!r} in {relpath}: update errors_catalogue.py")


def _block(text: str) -> str:
    return f'<pre class="symcere-error"><code>{html.escape(text)}</code></pre>'


def catalogue(root: Path) -> str:
    """The catalogue as Markdown: a heading per situation, the command, the message."""
    out = []
    env = {"SYMCERE_OFFLINE": "1", "SYMCERE_DATA_DIR": ""}  # never download while building; look only here
    from symcere_kit.environ import scoped_environ

    with scoped_environ(**env):
        for title, command, run in READ_CASES:
            out.append(f"### {title}\n\n`{command}`\n\n{_block(_message(run, root))}\n")
    out.append("### Quoted from the source\n\nThese need a trained model, a large dataset or another split to "
               "happen, so they are quoted from their `raise` (the braces are filled in at run time).\n")
    for title, command, relpath, needle in QUOTED_CASES:
        out.append(f"#### {title}\n\n`{command}` (`{relpath}`)\n\n{_block(_quoted(root, relpath, needle))}\n")
    return "\n".join(out)


if __name__ == "__main__":  # print the catalogue: python docs/hooks/errors_catalogue.py
    import sys

    here = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(here))
    with contextlib.suppress(BrokenPipeError):
        print(catalogue(here))
