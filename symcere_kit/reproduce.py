"""The main job (`make reproduce`, i.e. `symcere reproduce`): execute notebooks/NN_*.ipynb in order with papermill.

Executed copies go to build/notebooks/ (git-ignored); notebooks write figures/ and results/.
QUICK runs keep to build/notebooks/quick/, figures/quick/, results/quick/ and data/processed/quick/ (caches),
never over a full run.
Resumable: a notebook whose source and parameters are unchanged since its last successful run
is skipped (state in build/notebooks/done.json), and the runs it trained live in the run store.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .data.registry import GROUPS, expand_group, find_local, lookup
from .environ import scoped_environ
from .errors import SymcereError
from .files import sha256_file, stable_hash, write_json_atomic
from .paths import cache_dir, executed_notebooks_dir, project_root
from .progress import HEADLESS_ENV, progress_bar


class ParameterError(SymcereError):
    """A ``NAME=VALUE`` pair is malformed or names a parameter no notebook declares (exit code 2)."""


class NotebookFailed(SymcereError):
    """A cell raised: the message names the notebook, the cell and the error, and where the executed copy is."""

    exit_code = 1


def notebooks(root: Path) -> list[Path]:
    """The numbered notebooks ``root/notebooks/NN_*.ipynb``, in order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def parse_params(pairs: list[str], books: list[Path]) -> dict:
    """``NAME=VALUE`` pairs, VALUE read as YAML (``SEEDS=[0,1]``, ``EPOCHS=5``, ``TEXT_MODEL=org/name``).

    A name no notebook declares in its ``parameters`` cell is an error rather than silently ignored."""
    import yaml
    from papermill.inspection import inspect_notebook

    known = {name for nb in books for name in inspect_notebook(str(nb))}
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ParameterError(f"parameter {pair!r}: expected NAME=VALUE, e.g. SEEDS=[0,1,2]")
        if name not in known:
            raise ParameterError(f"parameter {name!r} is not declared by any notebook in "
                             f"{books[0].parent if books else 'notebooks/'}; known: {', '.join(sorted(known))}")
        params[name] = yaml.safe_load(value) if value else None
    return params


def expand_dataset_groups(values: dict) -> dict:
    """``values`` with a ``DATASETS`` naming a group (``registry.GROUPS``, e.g. ``DATASETS=paper``) replaced by
    the group's datasets usable here (``registry.expand_group``); each one left out is reported on stderr with
    how to get it.

    Raises:
        ParameterError: ``DATASETS`` is a string but no group, or the group has nothing usable here.
    """
    group = values.get("DATASETS")
    if not isinstance(group, str):
        return values
    if group not in GROUPS:
        raise ParameterError(f"DATASETS={group!r}: give a list of dataset names or paths (DATASETS=[a,b]) or a "
                             f"group: {', '.join(f'{k} ({v})' for k, v in GROUPS.items())}.")
    usable, missing = expand_group(group)
    for line in missing:
        print(f"symcere reproduce: DATASETS={group} leaves out {line}", file=sys.stderr)
    if not usable:
        raise ParameterError(f"DATASETS={group}: none of its datasets is here or downloadable (above).")
    fetched = [lookup(name.partition("@")[0]) for name in usable]
    fetched = [entry for entry in fetched if find_local(entry) is None]
    download = (f"; {len(fetched)} of them download first, {sum(e.size or 0 for e in fetched) / 1e9:,.1f} GB or more "
                "in all" if fetched else "")
    print(f"symcere reproduce: DATASETS={group} runs {', '.join(usable)}{download}", file=sys.stderr)
    return {**values, "DATASETS": usable}


# Per-cell limits (seconds). QUICK cells take under a minute here; a full run's longest cells train a grid
# (notebook 03 from an empty store: ~40 min on 2 cores) or the test-epoch curves (notebook 09: ~60 min).
CELL_TIMEOUT = {"quick": 600, "full": 4 * 3600}


def cell_timeout(quick: bool) -> int:
    """The default per-cell limit, in seconds, for a QUICK or a full run
    ([`CELL_TIMEOUT`][symcere_kit.reproduce.CELL_TIMEOUT])."""
    return CELL_TIMEOUT["quick" if quick else "full"]


def kernel_env(quick: bool) -> dict[str, str]:
    """What the notebooks' kernels get on top of this process's environment: ``$SYMCERE_HEADLESS=1`` (no progress bars,
    static widgets: [`symcere_kit.progress`][symcere_kit.progress]), and in QUICK the processed-data, text and LIME
    caches in ``<cache>/quick/``, so a QUICK run writes only into quick folders."""
    env = {HEADLESS_ENV: "1"}
    if quick:
        env["SYMCERE_CACHE_DIR"] = str(cache_dir() / "quick")
    return env


def _stuck_cell(copy: Path) -> str:
    """'cell N (first line of its source)' for the last cell the executor started in ``copy``."""
    import nbformat

    try:
        nb = nbformat.read(copy, as_version=4)
    except (OSError, ValueError):
        return "an unknown cell (no executed copy was written)"
    started = [(i, c) for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return "no cell (the kernel did not start)"
    i, cell = started[-1]
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f"cell {i + 1} of {len(nb.cells)} (execution count {cell.get('execution_count')}; {first[:80]!r})"


def _execute(nb: Path, copy: Path, values: dict, root: Path, timeout: int, retries: int, env: dict[str, str]) -> int:
    """Run ``nb`` into ``copy``; a cell over ``timeout`` s or a dead kernel is retried ``retries`` times with a fresh
    kernel, then raises [`NotebookFailed`][symcere_kit.reproduce.NotebookFailed]. Returns the number of retries used."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    for attempt in range(retries + 1):
        try:
            with scoped_environ(**env):  # kernels started inside inherit it
                pm.execute_notebook(str(nb), str(copy), parameters=values, cwd=str(root), kernel_name="python3",
                                    progress_bar=False, execution_timeout=timeout,
                                    # kernel log lines (a TCP-port warning, an interrupt at shutdown) would break
                                    # the progress bar; errors in cells still raise
                                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
            return attempt
        except pm.PapermillExecutionError as exc:
            raise NotebookFailed(
                f"{nb.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                f"The executed copy with the traceback: {copy}. Notebooks before it are done; "
                f"the same command resumes here.") from None
        except (CellTimeoutError, DeadKernelError) as exc:
            what = (f"ran past its {timeout} s limit" if isinstance(exc, CellTimeoutError)
                    else "lost its kernel (it died or stopped answering)")
            where = _stuck_cell(copy)
            if attempt < retries:
                print(f"{nb.name}: {where} {what}; running the notebook again with a fresh kernel "
                      f"(retry {attempt + 1} of {retries})", file=sys.stderr)
                continue
            raise NotebookFailed(
                f"{nb.name}: {where} {what}, {retries + 1} time(s).\nThe executed copy up to that cell: {copy}. "
                f"A cell that needs longer: --cell-timeout SECONDS (now {timeout}). Notebooks before it are done; "
                f"the same command resumes here.") from None
    raise AssertionError("unreachable")


def run_all(quick: bool = False, force: bool = False, only: list[str] | None = None,
            params: list[str] | None = None, root: Path | None = None, out_dir: Path | None = None,
            progress: bool = True, cell_timeout_s: int | None = None, retries: int = 1) -> list[dict]:
    """Execute the notebooks in order (``only``: name prefixes), skipping those unchanged since their last
    successful run unless ``force``; returns one dict per notebook (notebook, status, seconds, retries).

    Every cell runs under a limit of ``cell_timeout_s`` seconds (None:
    [`cell_timeout`][symcere_kit.reproduce.cell_timeout]); a cell over it, or a kernel that dies, costs a fresh kernel
    and one more try (``retries``), then [`NotebookFailed`][symcere_kit.reproduce.NotebookFailed] names the notebook,
    the cell and the executed copy. Kernels get [`kernel_env`][symcere_kit.reproduce.kernel_env]. Raises
    [`ParameterError`][symcere_kit.reproduce.ParameterError] for an undeclared ``params`` name."""
    root = Path(root or project_root())
    out_dir = Path(out_dir or executed_notebooks_dir(quick, root))
    timeout = int(cell_timeout_s or cell_timeout(quick))
    books = notebooks(root)
    todo = [nb for nb in books if not only or any(nb.name.startswith(o) for o in only)]
    values = expand_dataset_groups({"QUICK": False, **parse_params(params or [], books)})
    if quick:
        values["QUICK"] = True
    out_dir.mkdir(parents=True, exist_ok=True)
    state_file = out_dir / "done.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    report = []
    for nb in progress_bar(todo, desc="notebooks", unit="nb", enabled=progress):
        key = stable_hash({"nb": sha256_file(nb), "params": values})
        if not force and state.get(nb.name) == key:
            report.append({"notebook": nb.name, "status": "up to date"})
            continue
        start = time.perf_counter()
        used = _execute(nb, out_dir / nb.name, values, root, timeout, retries, kernel_env(quick))
        state[nb.name] = key
        write_json_atomic(state_file, state)
        report.append({"notebook": nb.name, "status": "ran", "seconds": round(time.perf_counter() - start, 1),
                       "retries": used})
    return report

