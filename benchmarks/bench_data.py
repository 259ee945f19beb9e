"""Reading a review file at scale: the Python reader against the DuckDB-native one (``data/readers/native.py``), on
generated Amazon 2023 files shaped like a whole large category (``synthetic.LARGE_CATEGORY``: most users with
one review, a long item tail, ~1.5 % repeated pairs), with DuckDB's bare scan of the same fields as the floor.
Each measurement runs in a fresh process; peak RSS is that process's VmHWM.

    python benchmarks/bench_data.py [--sizes 1000000 5000000] [--keep] [--polars]

Rows per size: ``read`` (the file to the reader's Parquet spool: what the engines differ in), ``load``
(``load_dataset``: read + dedupe + 5-core + split, no cache) and ``bare scan`` (DuckDB reads the six fields and
sums them: no check, no spool). Ratios are against the Python reader's row of the same kind and size. ``same``
says whether the two engines give the same spool (read) or the same preprocessed dataset (load), compared by a
digest of every cell. Files are generated into benchmarks/_work/ and deleted afterwards unless --keep; the table
is printed and written to benchmarks/_work/bench_data.md. ``--polars`` adds Polars' projected scan of the first
size (the measurement behind choosing DuckDB for preprocessing; needs ``pip install polars``).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_FIELDS = {"user_id": "VARCHAR", "parent_asin": "VARCHAR", "rating": "DOUBLE", "text": "VARCHAR",
           "title": "VARCHAR", "timestamp": "BIGINT"}


def duckdb_scan(path: str) -> int:
    """The floor: DuckDB reads the reader's six fields and touches each (no checks, nothing written)."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": "512MB"})
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _FIELDS.items()) + "}"
    return con.execute(f"""SELECT count(user_id), count(parent_asin), sum(rating), sum(strlen(text)),
                                  sum(strlen(title)), sum("timestamp")
                           FROM read_json('{path}', format='newline_delimited', columns={columns})""").fetchone()[0]


def polars_scan(path: str) -> int:
    import polars as pl

    schema = {"user_id": pl.Utf8, "parent_asin": pl.Utf8, "rating": pl.Float64, "timestamp": pl.Int64}
    return pl.scan_ndjson(path, schema=schema).select(pl.col("user_id").n_unique()).collect(engine="streaming").item()


def digest(frames) -> str:
    """A hash of every cell of ``frames`` (pandas), in order."""
    import hashlib

    import pandas as pd

    h = hashlib.sha256()
    for frame in frames:
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def worker(path: str, kind: str, engine: str) -> None:
    sys.path.insert(0, str(HERE))
    import pandas as pd
    from peak_memory import peak_rss_mb

    from symcere_kit.data.dataset import load_dataset  # every row pays the same imports (torch among them)
    from symcere_kit.data.readers import spool_reviews

    start = time.perf_counter()
    if kind == "scan":
        kept, same = (duckdb_scan if engine == "duckdb" else polars_scan)(path), ""
    elif kind == "read":
        import pyarrow.parquet as pq

        with tempfile.TemporaryDirectory() as tmp:
            result = spool_reviews(path, Path(tmp) / "spool.parquet", progress=False, engine=engine)
            seconds, peak = time.perf_counter() - start, peak_rss_mb()  # before the digest reads the spool back
            batches = pq.ParquetFile(result.spool).iter_batches(batch_size=100_000)  # in pieces: memory stays flat
            kept, same = result.n_rows, digest(batch.to_pandas() for batch in batches)
        print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "kept": kept, "digest": same}))
        return
    else:
        ds = load_dataset(path, progress=False, use_cache=False, reader=engine)
        kept = ds.stats["reviews"]
        same = digest([ds.train, ds.test, pd.DataFrame({"u": ds.user_ids}), pd.DataFrame({"i": ds.item_ids})])
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(), "kept": kept,
                      "digest": same}))


def measure(path: Path, kind: str, engine: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, __file__, "--worker", str(path), kind, engine], capture_output=True,
                             text=True, env={**os.environ, "SYMCERE_CACHE_DIR": cache})
    if out.returncode != 0:
        sys.exit(f"{kind} {engine} on {path.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    p.add_argument("--polars", action="store_true", help="add Polars' projected scan of the first size")
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(*args.worker)
    from symcere_kit.data.synthetic import LARGE_CATEGORY, write_amazon2023_jsonl

    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    rows = []
    for n in args.sizes:
        path = work / f"amazon2023_realistic_{n}.jsonl"
        start = time.perf_counter()
        if not path.exists():
            write_amazon2023_jsonl(path, n, shape=LARGE_CATEGORY)
        print(f"{path.name}: {path.stat().st_size / 1e6:,.0f} MB (generated in {time.perf_counter() - start:.0f} s)",
              flush=True)
        plan = [("read", "python"), ("read", "duckdb"), ("scan", "duckdb"), ("load", "python"), ("load", "duckdb")]
        if args.polars and n == args.sizes[0]:
            if importlib.util.find_spec("polars") is None:
                sys.exit("--polars needs polars: pip install polars")
            plan.append(("scan", "polars"))
        for kind, engine in plan:
            r = measure(path, kind, engine)
            rows.append((n, kind, engine, r))
            print(f"  {kind} {engine}: {r['seconds']:.1f} s, {r['peak_rss_mb']:,.0f} MB", flush=True)
        if not args.keep:
            path.unlink()
    print("\n" + write_table(rows, work / "bench_data.md"))


def write_table(rows: list, out: Path) -> str:
    head = (f"| {'reviews':>11} | {'step':<5} | {'engine':<6} | {'seconds':>8} | {'reviews/s':>10} | "
            f"{'peak RSS MB':>11} | {'kept':>10} | {'time / python':>13} | {'RSS / python':>12} | {'same':<4} |")
    table = [head, "|" + "|".join("-" * len(cell) for cell in head.split("|")[1:-1]) + "|"]
    python = {(n, kind): r for n, kind, engine, r in rows if engine == "python"}
    for n, kind, engine, r in rows:
        base = python.get((n, "read" if kind == "scan" else kind))
        ratios = (f"{r['seconds'] / base['seconds']:>12.2f}x | {r['peak_rss_mb'] / base['peak_rss_mb']:>11.2f}x"
                  if base else f"{'-':>13} | {'-':>12}")
        same = ("" if kind == "scan" or engine == "python" or base is None
                else "yes" if r["digest"] == base["digest"] else "NO")
        table.append(f"| {n:>11,} | {kind:<5} | {engine:<6} | {r['seconds']:>8.1f} | {n / r['seconds']:>10,.0f} | "
                     f"{r['peak_rss_mb']:>11,.0f} | {r['kept']:>10,} | {ratios} | {same:<4} |")
    text = "\n".join(table) + "\n"
    out.write_text(text)
    return text + f"\n(written to {out})"


if __name__ == "__main__":
    main()
