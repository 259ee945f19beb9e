"""The main job (`make reproduce`): execute notebooks/NN_*.ipynb in order with papermill.

Executed copies go to build/notebooks/ (git-ignored); notebooks write figures/ and results/.
QUICK runs keep to build/notebooks/quick/, figures/quick/ and results/quick/, never over a full run.
Resumable: a notebook whose source and parameters are unchanged since its last successful run
is skipped (state in build/notebooks/done.json), and the runs it trained live in the run store.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .paths import executed_notebooks_dir, project_root
from .io import sha256_file, stable_hash, write_json_atomic


class NotebookFailed(RuntimeError):
    """A cell raised: the message names the notebook, the cell and the error, and where the executed copy is."""


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
            raise ValueError(f"parameter {pair!r}: expected NAME=VALUE, e.g. SEEDS=[0,1,2]")
        if name not in known:
            raise ValueError(f"parameter {name!r} is not declared by any notebook in "
                             f"{books[0].parent if books else 'notebooks/'}; known: {', '.join(sorted(known))}")
        params[name] = yaml.safe_load(value) if value else None
    return params


def run_all(quick: bool = False, force: bool = False, only: list[str] | None = None,
            params: list[str] | None = None, root: Path | None = None, out_dir: Path | None = None) -> list[dict]:
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
    for nb in tqdm(todo, desc="notebooks", unit="nb"):
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="small data and few epochs (CI)")
    p.add_argument("--force", action="store_true", help="re-run notebooks that are up to date")
    p.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                   help="override a notebook parameter, VALUE in YAML: DATASETS=[amazon2023_health_and_household] "
                        "SEEDS=[0,1,2] TEXT_MODEL=hyp1231/blair-roberta-base (repeatable)")
    args = p.parse_args(argv)
    try:
        report = run_all(args.quick, args.force, args.only, args.param)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NotebookFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for row in report:
        print(f"{row['notebook']:<40} {row['status']:<12} {row.get('seconds', '')}")
    from .paths import figures_dir, results_dir

    print(f"executed notebooks: {executed_notebooks_dir(args.quick)}; tables: {results_dir(args.quick)}; "
          f"figures: {figures_dir(args.quick)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
