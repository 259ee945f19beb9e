#!/usr/bin/env bash
# GPU check (issue 17): the CUDA-marked tests and CPU-vs-CUDA training as one table; the logic is gpu_check.py.
#   bash benchmarks/gpu_check.sh --prepare   here, once: the carry set build/gpu_check/ and the `run` call to make
#   bash benchmarks/gpu_check.sh             on the GPU machine (the device tool's `run`), from that carry set
#   bash benchmarks/gpu_check.sh --dry-run   anywhere, CPU only, tiny
# Other options: python3 benchmarks/gpu_check.py --help. The GPU machine's own python3 runs it: the checkout goes
# on PYTHONPATH instead of being installed. PYTHON=... picks the interpreter (default .venv/bin/python, else python3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  # The device tool brings back what is under $OUT, also when the call is cut: keep the whole log there.
  "$PYTHON" benchmarks/gpu_check.py "$@" 2>&1 | tee "$OUT/gpu_check.log"
else
  exec "$PYTHON" benchmarks/gpu_check.py "$@"
fi
