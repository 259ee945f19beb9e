"""Command-line start-up: how long `symcere --help` and a usage error take, against the Python
interpreter's own start-up and an `import torch`, measured in the same run (best of N fresh processes).

    python benchmarks/bench_cli.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path


def best_of(cmd: list[str], repeats: int, ok_codes=(0,)) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True)
        times.append(time.perf_counter() - start)
        if proc.returncode not in ok_codes:
            sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}")
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    py = sys.executable
    symcere = shutil.which("symcere", path=str(Path(py).parent)) or shutil.which("symcere")
    cli = [symcere] if symcere else [py, "-m", "symcere_kit"]
    rows = [
        ("python -c pass (reference)", [py, "-c", "pass"], (0,)),
        ("python -c 'import torch' (reference)", [py, "-c", "import torch"], (0,)),
        ("symcere --help", [*cli, "--help"], (0,)),
        ("symcere train --help", [*cli, "train", "--help"], (0,)),
        ("symcere train (usage error: no dataset)", [*cli, "train"], (2,)),
    ]
    measured = [(label, best_of(cmd, args.repeats, ok)) for label, cmd, ok in rows]
    torch_s = measured[1][1]
    print(f"\nbest of {args.repeats} fresh processes, {' '.join(cli)}\n")
    print(f"| {'command':<42} | {'seconds':>8} | {'/ import torch':>14} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 16}|")
    for label, seconds in measured:
        print(f"| {label:<42} | {seconds:>8.3f} | {seconds / torch_s:>13.2f}x |")


if __name__ == "__main__":
    main()
