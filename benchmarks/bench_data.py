"""Data pipeline at scale: read + dedupe + k-core + split of generated Amazon 2023 files, the in-memory
path (``read_reviews`` into one pandas frame, then the pandas steps that preceded DuckDB, kept in
tests/reference_preprocess.py) beside the out-of-core one (``load_dataset``: the reader spools to Parquet,
DuckDB preprocesses). Each measurement runs in a fresh process; peak RSS is that process's VmHWM.

    python benchmarks/bench_data.py [--sizes 1000000 5000000] [--in-memory-up-to 1000000] [--keep]

Files are generated into benchmarks/_work/ (``symcere_kit.data.synthetic.write_amazon2023_jsonl``) and
deleted afterwards unless --keep. Prints a table with ratios against the in-memory path at the same size
and writes it to benchmarks/_work/bench_data.md.
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


def duckdb_scan(path: str) -> int:
    import duckdb

    con = duckdb.connect(config={"memory_limit": "512MB", "threads": 2})
    columns = "{'user_id': 'VARCHAR', 'parent_asin': 'VARCHAR', 'rating': 'DOUBLE', 'timestamp': 'BIGINT'}"
    return con.execute(f"SELECT count(DISTINCT user_id) FROM read_json('{path}', format='newline_delimited', "
                       f"columns={columns})").fetchone()[0]


def polars_scan(path: str) -> int:
    import polars as pl

    schema = {"user_id": pl.Utf8, "parent_asin": pl.Utf8, "rating": pl.Float64, "timestamp": pl.Int64}
    return pl.scan_ndjson(path, schema=schema).select(pl.col("user_id").n_unique()).collect(engine="streaming").item()


# Engine candidates for the out-of-core steps, on the same projected read (user, item, rating, time;
# distinct users counted): the measurement behind choosing DuckDB (data/preprocess.py).
SCANS = {"duckdb scan": duckdb_scan, "polars scan": polars_scan}


def worker(path: str, engine: str) -> None:
    sys.path.insert(0, str(HERE))
    from peak_memory import peak_rss_mb

    from symcere_kit.config import DataConfig
    from symcere_kit.data.dataset import load_dataset  # both paths pay the same imports (torch among them)
    from symcere_kit.data.split import chronological_split

    start = time.perf_counter()
    if engine in SCANS:  # the engine choice: one projected scan of the raw file, nothing else
        kept = SCANS[engine](path)
        print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(), "kept": kept}))
        return
    if engine == "in-memory":
        sys.path.insert(0, str(HERE.parent / "tests"))
        from reference_preprocess import preprocess

        from symcere_kit.data.readers import read_reviews

        pre = preprocess(read_reviews(path, progress=False).frame, DataConfig())
        kept = len(pre.frame)
        chronological_split(pre.frame)
    else:
        kept = load_dataset(path, progress=False, use_cache=False).stats["reviews"]
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(), "kept": kept}))


def measure(path: Path, engine: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, __file__, "--worker", str(path), engine], capture_output=True, text=True,
                             env={**os.environ, "SYMCERE_CACHE_DIR": cache})
    if out.returncode != 0:
        sys.exit(f"{engine} on {path.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    p.add_argument("--in-memory-up-to", type=int, default=5_000_000,
                   help="run the in-memory path only up to this size (it needs ~2 KB per review)")
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    p.add_argument("--no-scans", dest="scans", action="store_false",
                   help="skip the DuckDB / Polars scan comparison (run at the first size; 'kept' = distinct users)")
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(*args.worker)
    from symcere_kit.data.synthetic import write_amazon2023_jsonl

    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    rows = []
    for n in args.sizes:
        path = work / f"amazon2023_{n}.jsonl"
        start = time.perf_counter()
        if not path.exists():
            write_amazon2023_jsonl(path, n)
        print(f"{path.name}: {path.stat().st_size / 1e6:,.0f} MB (generated in {time.perf_counter() - start:.0f} s)",
              flush=True)
        scans = [e for e in SCANS if args.scans and n == args.sizes[0]]
        for engine in ("in-memory", "out-of-core", *scans):
            if engine == "in-memory" and n > args.in_memory_up_to:
                rows.append((n, engine, None))
                continue
            if engine == "polars scan" and importlib.util.find_spec("polars") is None:
                print("  polars is not installed: pip install polars to compare engines")
                continue
            r = measure(path, engine)
            rows.append((n, engine, r))
            print(f"  {engine}: {r['seconds']:.1f} s, {r['peak_rss_mb']:,.0f} MB", flush=True)
        if not args.keep:
            path.unlink()
    table = [f"| {'reviews':>11} | {'path':<11} | {'seconds':>8} | {'reviews/s':>10} | {'peak RSS MB':>11} | "
             f"{'kept':>9} | {'time / in-memory':>16} | {'RSS / in-memory':>15} |",
             f"|{'-' * 13}|{'-' * 13}|{'-' * 10}|{'-' * 12}|{'-' * 13}|{'-' * 11}|{'-' * 18}|{'-' * 17}|"]
    base = {}
    for n, engine, r in rows:
        if r is None:
            table.append(
                f"| {n:>11,} | {engine:<11} | {'not run':>8} | {'':>10} | {'':>11} | {'':>9} | {'':>16} | {'':>15} |"
            )
            continue
        if engine == "in-memory":
            base[n] = r
        b = base.get(n)
        ratios = (f"{r['seconds'] / b['seconds']:>15.2f}x | {r['peak_rss_mb'] / b['peak_rss_mb']:>14.2f}x" if b
                  else f"{'-':>16} | {'-':>15}")
        table.append(f"| {n:>11,} | {engine:<11} | {r['seconds']:>8.1f} | {n / r['seconds']:>10,.0f} | "
                     f"{r['peak_rss_mb']:>11,.0f} | {r['kept']:>9,} | {ratios} |")
    out = work / "bench_data.md"
    out.write_text("\n".join(table) + "\n")
    print("\n" + "\n".join(table) + f"\n\n(written to {out})")


if __name__ == "__main__":
    main()
