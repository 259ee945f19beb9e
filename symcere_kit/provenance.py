"""What a run records beside its metrics so it can be traced and repeated."""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata

from .paths import project_root

_PACKAGES = ("symcere-kit", "torch", "torch-geometric", "numpy", "pandas", "scipy", "transformers", "peft", "optuna")


def package_versions() -> dict[str, str]:
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
