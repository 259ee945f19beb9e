"""What a run records beside its metrics so it can be traced and repeated."""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata

from .paths import project_root

_PACKAGES = ("symcere-kit", "torch", "torch-geometric", "numpy", "pandas", "scipy", "transformers", "peft", "optuna")


def package_versions() -> dict[str, str]:
    """Python's version and the installed versions of the packages a run depends on (name -> version); a package
    that is not installed is left out."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def git_commit() -> str:
    """HEAD of the checkout, with '+dirty' when the work tree differs; 'unknown' outside git."""
    root = project_root()
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma")  # the ones that pick different math kernels


def _cpu() -> dict:
    """CPU model and the instruction-set flags in [`_FLAGS`][symcere_kit.provenance._FLAGS] (Linux ``/proc/cpuinfo``;
    else the platform's name)."""
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return {"cpu": platform.processor() or platform.machine(), "flags": []}
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return {"cpu": model or platform.machine(), "flags": [f for f in _FLAGS if f in flags]}


def machine_info() -> dict:
    """What decides a run's last bits besides its seed: the CPU (model, instruction-set flags), the kernel
    path torch picked for it (``torch.backends.cpu.get_cpu_capability()``: DEFAULT / AVX2 / AVX512), torch's
    math libraries (MKL, oneDNN versions from ``torch.__config__.show()``) and the BLAS numpy and scipy
    loaded (threadpoolctl: library, version, the core type it dispatched to). Same kind of CPU and versions:
    bit-identical runs; another kind: dense layers may differ in the last bits (docs: Results, reproducibility)."""
    import re

    import torch

    config = torch.__config__.show()
    libraries = {name: m.group(1) for name, pattern in (("mkl", r"Math Kernel Library Version ([\d.]+)"),
                                                        ("onednn", r"MKL-DNN v(\S+)"))
                 if (m := re.search(pattern, config))}
    info = {**_cpu(), "machine": platform.machine(), "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_libraries": libraries}
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = sorted({f"{p['internal_api']} {p.get('version') or ''} {p.get('architecture') or ''}".strip()
                               for p in threadpool_info() if p.get("user_api") == "blas"})
    except ImportError:  # scikit-learn brings threadpoolctl; without it the rest still says most
        pass
    return info
