"""The main job (`make reproduce`, i.e. `symcere reproduce`): execute notebooks/NN_*.ipynb in order with papermill.

Executed copies go to build/notebooks/ (git-ignored); notebooks write figures/ and results/.
QUICK runs keep to build/notebooks/quick/, figures/quick/ and results/quick/, never over a full run.
Resumable: a notebook whose source and parameters are unchanged since its last successful run
is skipped (state in build/notebooks/done.json), and the runs it trained live in the run store.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .errors import SymcereError
from .paths import executed_notebooks_dir, project_root
from .io import sha256_file, stable_hash, write_json_atomic


class ParameterError(SymcereError):
    """A ``NAME=VALUE`` pair is malformed or names a parameter no notebook declares (exit code 2)."""


class NotebookFailed(SymcereError):
    """A cell raised: the message names the notebook, the cell and the error, and where the executed copy is."""

    exit_code = 1


def notebooks(root: Path) -> list[Path]:
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


def run_all(quick: bool = False, force: bool = False, only: list[str] | None = None,
            params: list[str] | None = None, root: Path | None = None, out_dir: Path | None = None,
            progress: bool = True) -> list[dict]:
    import papermill as pm
    from tqdm.auto import tqdm

    root = Path(root or project_root())
    out_dir = Path(out_dir or executed_notebooks_dir(quick, root))
    books = notebooks(root)
    todo = [nb for nb in books if not only or any(nb.name.startswith(o) for o in only)]
    values = {"QUICK": False, **parse_params(params or [], books)}
    if quick:
        values["QUICK"] = True
    out_dir.mkdir(parents=True, exist_ok=True)
    state_file = out_dir / "done.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    report = []
    for nb in tqdm(todo, desc="notebooks", unit="nb", disable=not progress):
        key = stable_hash({"nb": sha256_file(nb), "params": values})
        if not force and state.get(nb.name) == key:
            report.append({"notebook": nb.name, "status": "up to date"})
            continue
        start = time.perf_counter()
        try:
            pm.execute_notebook(str(nb), str(out_dir / nb.name), parameters=values, cwd=str(root),
                                kernel_name="python3", progress_bar=False,
                                # kernel log lines (a TCP-port warning, an interrupt at shutdown) would break the progress bar; errors in cells still raise
                                extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
        except pm.PapermillExecutionError as exc:
            raise NotebookFailed(
                f"{nb.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                f"The executed copy with the traceback: {out_dir / nb.name}. Notebooks before it are done; "
                f"the same command resumes here.") from None
        state[nb.name] = key
        write_json_atomic(state_file, state)
        report.append({"notebook": nb.name, "status": "ran", "seconds": round(time.perf_counter() - start, 1)})
    return report


if __name__ == "__main__":  # the older spelling of `symcere reproduce`
    from .cli import main

    sys.exit(main(["reproduce", *sys.argv[1:]]))
