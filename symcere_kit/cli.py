"""The `symcere` command. User errors print one paragraph and exit 2 (traceback only with --debug).

Building the parser imports nothing heavy (no torch, transformers or pandas): ``--help`` and usage
errors answer at once; each command imports what it needs when it runs."""
from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path

from .config import DataConfig, SampleWhen, SplitKind, TextMode
from .data.formats import FORMATS
from .environ import scoped_environ
from .errors import SymcereError
from .models import model_names
from .runs.variants import GROUPS, VARIANTS
from .verbosity import VERBOSE_ENV


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="registry name (see `symcere datasets`) or path of a review file; NAME@repeats: "
                                   "the LEAKY reading that keeps repeated (user, item) pairs (RecBole's default)")
    p.add_argument("--format", dest="fmt", default=None,
                   help="force a reader instead of detecting it: " + ", ".join(FORMATS))
    p.add_argument("--columns", default=None,
                   help="column map for a generic CSV/TSV, e.g. user=uid,item=iid,text=body,timestamp=ts; "
                        "without text= a ratings-only file (text models refuse it); positions from 1 for a file "
                        "without a header row, e.g. user=1,item=2,rating=3,timestamp=4 (SNAP ratings_*.csv)")
    p.add_argument("--date-format", default=None, metavar="STRPTIME",
                   help="one date format for the file's time column, e.g. %%d/%%m/%%Y (default: the publisher's "
                        "form, else inferred from the column; a column two formats read differently, like "
                        "01/02/2014, needs it)")
    defaults = DataConfig()
    p.add_argument("--user-k", type=int, default=defaults.user_k, help="k-core threshold for users")
    p.add_argument("--item-k", type=int, default=defaults.item_k, help="k-core threshold for items")
    p.add_argument("--empty-text", choices=["keep", "drop", "title"], default=defaults.empty_text)
    p.add_argument("--skip-bad-records", action="store_true", help="skip malformed records and count them")
    p.add_argument("--sample-users", type=int, default=None, metavar="N",
                   help="keep N users drawn at random (seeded; before anything else unless --sample-when after_core)")
    p.add_argument("--sample-seed", type=int, default=defaults.sample_seed, help="seed of --sample-users")
    p.add_argument("--sample-when", choices=typing.get_args(SampleWhen), default=defaults.sample_when,
                   help="draw the --sample-users users before anything else (default) or after the k-core of the "
                        "whole file, keeping all their reviews and filtering nothing again (Table 1's shape; "
                        "NAME@paper does this with the paper's user count)")
    p.add_argument("--split", choices=typing.get_args(SplitKind), default=defaults.split,
                   help="test split: the paper's per-user 80:20 (ratio, default) or the Amazon Reviews 2023 "
                        "benchmark's last_out / timestamp")
    p.add_argument("--split-cutoffs", type=int, nargs=2, default=list(defaults.split_cutoffs_ms),
                   metavar=("VALID_MS", "TEST_MS"),
                   help="the timestamp split's cutoffs in Unix milliseconds (default: the benchmark's)")
    p.add_argument("--no-cache", action="store_true", help="rebuild instead of using data/processed/")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def _load(args, progress: bool):
    from .data.dataset import load_dataset
    from .data.readers import parse_column_map

    config = DataConfig(user_k=args.user_k, item_k=args.item_k, empty_text=args.empty_text,
                        skip_bad_records=args.skip_bad_records, sample_users=args.sample_users,
                        sample_seed=args.sample_seed, sample_when=args.sample_when, split=args.split,
                        split_cutoffs_ms=tuple(args.split_cutoffs))
    column_map = parse_column_map(args.columns) if args.columns else None
    return load_dataset(args.dataset, config, fmt=args.fmt, column_map=column_map,
                        progress=progress, use_cache=not args.no_cache, date_format=args.date_format)


def _report_skipped(ds) -> None:
    skipped = ds.meta.get("skipped_records", 0)
    if skipped:
        examples = "; ".join(ds.meta.get("skipped_examples", []))
        print(f"skipped {skipped:,} malformed record(s) in {ds.meta['source']}: {examples}", file=sys.stderr)


def cmd_datasets(args) -> None:
    """``symcere datasets``: list the registry's dataset names, whether each is available here, the paper's
    counts and the file (or where to get it)."""
    from tabulate import tabulate

    from .data.registry import availability

    rows = availability()
    table = [(r["name"], "yes" if r["here"] else "no",
              " / ".join(f"{n:,}" for n in r["paper_users_items_reviews"]) if r["paper_users_items_reviews"] else "-",
              r["path"] or r["get"]) for r in rows]
    print(tabulate(table, headers=["name", "here", "paper users / items / reviews", "file, or where to get it"]))
    if args.json:
        print(json.dumps(rows))


def cmd_stats(args) -> None:
    """``symcere stats``: load a dataset and print its Table 1 row and more, beside the paper's counts."""
    from .data.stats import format_stats

    ds = _load(args, progress=not args.quiet)
    _report_skipped(ds)
    print(format_stats(ds.name, ds.stats, ds.meta.get("paper_counts")))
    if args.json:
        print(json.dumps({"dataset": ds.name, **ds.stats, "paper_counts": ds.meta.get("paper_counts"),
                          "skipped_records": ds.meta.get("skipped_records", 0)}))


def cmd_train(args) -> None:
    """``symcere train``: one run of a model or a variant, its settings built once by the resolver
    (``run_settings``); bad options and tuned files fail before the dataset loads."""
    from .models import run_config
    from .runs.tuned import load_tuned
    from .runs.variants import variant_config
    from .train import run

    given = {"epochs": args.epochs, "lr": args.lr, "embedding_dim": args.dim, "n_layers": args.layers,
             "batch_size": args.batch_size, "reg_weight": args.reg_weight, "backbone": args.backbone,
             "text_mode": args.text_mode, "text_model": args.text_model, "tau": args.tau,
             "patience": args.patience, "normalize": False if args.no_normalize else None,
             "fn_mask": False if args.no_fn_mask else None,
             "trust_remote_code": True if args.trust_remote_code else None}
    # --device beats a --set device=...; without it, --set may name the device
    given = {**{k: v for k, v in given.items() if v is not None}, **_settings(args.set),
             **({"device": args.device} if args.device else {})}
    variant = args.model in VARIANTS
    tuned = load_tuned(args.dataset, args.model) if variant and not args.no_tuned else None
    config = (variant_config(args.model, args.seed, overrides=given, tuned=tuned.settings if tuned else None)
              if variant else run_config(args.model, seed=args.seed, **given))
    ds = _load(args, progress=not args.quiet)
    _report_skipped(ds)
    if tuned:
        tuned.check(ds.tuning_fingerprint, args.dataset)
        print(f"tuned settings: {tuned.path} (pass --no-tuned for the defaults)", file=sys.stderr)
    result = run(ds, config, progress=not args.quiet)
    print("  ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()) + f"  ({ds.name}, seed {args.seed})")
    if args.json:
        print(json.dumps({**result.to_dict(), **({"variant": args.model} if variant else {}),
                          "tuned": str(tuned.path) if tuned else None}))


def cmd_grid(args) -> None:
    """``symcere grid``: run a datasets x models x seeds grid (resumable), then write Tables 2 and 3 under the
    grid's ``tables/`` folder."""
    from .paths import tuned_dir
    from .runs.grid import Grid
    from .tables import export_tables

    grid = Grid(args.datasets, args.models, args.seeds, root=args.out, settings=_settings(args.set),
                tuned=not args.no_tuned)
    print(f"{len(grid.specs)} runs, {len(grid.specs) - len(grid.pending())} already finished, under {grid.root}",
          file=sys.stderr)
    if grid.tuned_files:
        print(f"tuned settings for {len(grid.tuned_files)} dataset x variant pair(s) from {tuned_dir()} "
              f"(pass --no-tuned for the defaults)", file=sys.stderr)
    tidy = grid.run(args.executor, workers=args.workers, progress=not args.quiet)
    written = export_tables(tidy, grid.per_user(), grid.root / "tables", grid.tables)
    print(f"results: {grid.root / 'results.csv'}")
    print(f"tables:  {grid.root / 'tables'} ({len(written)} files)")
    if args.json:
        print(json.dumps({"root": str(grid.root), "results": str(grid.root / "results.csv"), "runs": len(grid.specs),
                          "tables": [str(p) for p in written]}))


def cmd_evaluate(args) -> None:
    """``symcere evaluate``: re-score finished runs of the store under other evaluation protocols (``full``,
    ``uni<N>``, ``pop<N>``) without retraining; rows go to ``ROOT/protocols.csv``.

    Raises:
        SymcereError: no finished run under the root matches the filters.
    """
    from tabulate import tabulate

    from .paths import results_dir
    from .runs.rescore import check_full, rescore, stored_runs, write_rescored
    from .runs.variants import expand_variants

    root = Path(args.root) if args.root else results_dir() / "grid"
    variants = expand_variants(args.models) if args.models else None
    runs = stored_runs(root, args.datasets, variants, args.seeds)
    if not runs:
        raise SymcereError(f"No finished run under {root} matches (datasets {args.datasets or 'any'}, models "
                           f"{args.models or 'any'}, seeds {args.seeds or 'any'}); train them with `symcere grid`.")
    print(f"re-scoring {len(runs)} stored run(s) under {', '.join(args.protocols)} ({root})", file=sys.stderr)
    rows = rescore(runs, args.protocols, root, sample_seed=args.sample_seed, progress=not args.quiet)
    write_rescored(rows, root)
    means = (rows[rows["metric"].isin(["hr@10", "ndcg@10"])]
             .groupby(["dataset", "label", "protocol", "metric"], sort=False)["value"].agg(["mean", "std", "count"]))
    table = (
        means["mean"]
        .unstack("metric")
        .join(means["count"].unstack("metric").iloc[:, :1].rename(columns=lambda c: "seeds"))
    )
    print(tabulate(table.reset_index(), headers="keys", floatfmt=".4f", showindex=False))
    full = check_full(rows, root)
    if len(full):
        print(
            f"full re-scored: {int(full['equal'].sum())} of {len(full)} metric values equal to the stored ones "
            "bit for bit"
        )
    print(f"rows: {root / 'protocols.csv'}")
    if args.json:
        print(json.dumps({"root": str(root), "runs": len(runs), "rows": json.loads(rows.to_json(orient="records")),
                          "full_equal": int(full["equal"].sum()), "full_values": len(full)}))


class TablesDiffer(SymcereError):
    """A fresh table moved beyond its seed-spread tolerance somewhere (exit code 1)."""

    exit_code = 1


def cmd_compare(args) -> None:
    """``symcere compare``: a fresh table CSV against a stored one, within a tolerance tied to the seed spread.

    Raises:
        SymcereError: a file cannot be read as a table CSV, or the two tables do not compare.
        TablesDiffer: a cell moved beyond the tolerance (exit code 1).
    """
    import pandas as pd
    from tabulate import tabulate

    from .tables import compare_tables

    frames = []
    for path in (args.reference, args.fresh):
        try:
            frames.append(pd.read_csv(path))
        except (OSError, pd.errors.ParserError) as exc:
            raise SymcereError(
                f"{path}: cannot read it as a table CSV ({exc}); give the .csv a grid or notebook wrote, "
                f"e.g. results/tables/table2.csv"
            ) from None
    try:
        out = compare_tables(*frames, seeds=args.seeds, z=args.z)
    except (KeyError, ValueError) as exc:
        raise SymcereError(f"{args.fresh} against {args.reference}: {exc}") from None
    print(tabulate(out, headers="keys", floatfmt=".5f", showindex=False))
    outside = out[~out["within"]]
    print(
        f"{int(out['within'].sum())} of {len(out)} cells within tolerance (|fresh - stored| <= max({args.z} x seed std "
        f"/ sqrt({args.seeds}), 0.00005)); {int((out['diff'] == 0).sum())} identical"
    )
    if len(outside):
        raise TablesDiffer(f"{len(outside)} cell(s) moved beyond the seed spread: "
                           + "; ".join(f"{r.dataset} {r.metric} {r.column} {r.stored:.4f} -> {r.fresh:.4f}"
                                       for r in outside.itertuples()))


def cmd_tune(args) -> None:
    """``symcere tune``: add trials to the Optuna study of one dataset x variant (resumable) and, unless
    ``--no-write``, write the best trial's settings to ``configs/tuned/<dataset>/<variant>.yaml``."""
    from .tuning.study import Budget, tune

    budget = Budget(**({"epoch_cap": args.epoch_cap} if args.epoch_cap is not None else {}))
    summary = tune(args.dataset, args.model, trials=args.trials, up_to=args.up_to, timeout=args.timeout,
                   storage=args.storage, executor=args.executor, workers=args.workers, budget=budget,
                   settings=_settings(args.set), write=not args.no_write, progress=not args.quiet)
    best = summary["best_value"]
    print(
        f"{summary['study']}: {summary['trials']} finished trials ({summary['complete']} complete, "
        f"{summary['pruned']} pruned, {summary['failed']} failed; {summary['added']} added in {summary['seconds']} s); "
        + (
            f"best validation NDCG@10 {best:.4f}"
            + (f" at epoch {summary['best_epoch']}" if summary["best_epoch"] else "")
            + f" with {summary['best_params']}"
            if best is not None
            else "no complete trial yet"
        )
    )
    if summary["tuned_file"]:
        print(f"tuned settings: {summary['tuned_file']}")
    if args.json:
        print(json.dumps(summary))


def cmd_reproduce(args) -> None:
    """``symcere reproduce``: the main job (``make reproduce``): run ``notebooks/NN_*.ipynb`` in order, resumably,
    and print each notebook's status."""
    from .paths import executed_notebooks_dir, figures_dir, results_dir
    from .reproduce import run_all

    report = run_all(args.quick, args.force, args.only, args.param, progress=not args.quiet,
                     cell_timeout_s=args.cell_timeout)
    for row in report:
        retried = f"  ({row['retries']} retry)" if row.get("retries") else ""
        print(f"{row['notebook']:<40} {row['status']:<12} {row.get('seconds', '')}{retried}")
    print(f"executed notebooks: {executed_notebooks_dir(args.quick)}; tables: {results_dir(args.quick)}; "
          f"figures: {figures_dir(args.quick)}")


def _settings(pairs: list[str]) -> dict:
    """``--set key=value`` pairs as config overrides; values are read as YAML (``0.1``, ``false``, ``mean``).
    A grid's key may be addressed to one model, ``model.key=value`` (``run_settings``, rule 4). Whether a
    key exists is the model's to say (the resolver lists its options)."""
    import yaml

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not all(part.isidentifier() for part in key.split(".")) or key.count(".") > 1:
            raise SymcereError(f"--set {pair!r}: expected KEY=VALUE or MODEL.KEY=VALUE, e.g. --set bpr_reduction=mean.")
        out[key] = yaml.safe_load(value)
    return out


def _executor_args(p: argparse.ArgumentParser, what: str) -> None:
    """``--executor`` and ``--workers`` as ``runs.executors.make_executor`` takes them; ``what`` runs in parallel."""
    p.add_argument("--executor", choices=["local", "process", "dask"], default="local",
                   help=f"local: {what} one after another here; process: a process pool; dask: a Dask LocalCluster "
                        f"(or the scheduler at $SYMCERE_DASK_SCHEDULER)")
    p.add_argument("--workers", type=int, help=f"parallel {what} for process/dask (default 1)")


def build_parser() -> argparse.ArgumentParser:
    """The ``symcere`` argument parser, each subcommand's ``func`` set to its ``cmd_*`` function; building it
    imports no heavy library."""
    parser = argparse.ArgumentParser(prog="symcere", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("--quiet", action="store_true", help="no progress bars")
    loudness.add_argument("--verbose", action="store_true",
                          help="also show transformers', huggingface_hub's and peft's own output (their loading "
                               "and download bars, log messages), hidden by default")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list dataset names and whether each is available here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("stats", help="Table 1 row and more for a dataset")
    _data_args(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("train", help="train and evaluate one model")
    _data_args(p)
    p.add_argument("--model", choices=sorted({*model_names(), *VARIANTS}), default="lightgcn",
                   help="a model, or a variant of runs/variants.py (e.g. symcere-lightgcn-nested): its model with "
                        "its settings, under the flags and --set given here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--dim", type=int, help="embedding size")
    p.add_argument("--layers", type=int, help="graph propagation layers")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--reg-weight", type=float)
    p.add_argument("--patience", type=int, help="early stopping on the training holdout (0: off)")
    p.add_argument("--device", help="auto (the default: CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--no-tuned", action="store_true",
                   help="ignore configs/tuned/<dataset>/<variant>.yaml and run the defaults")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other option of the model or the training loop, e.g. --set bpr_reduction=mean "
                        "(repeatable; an unknown key lists the model's options)")
    g = p.add_argument_group("SymCERE (--model symcere)")
    g.add_argument("--backbone", choices=["lightgcn", "ngcf"], help="graph encoder")
    g.add_argument("--text-mode", choices=typing.get_args(TextMode))
    g.add_argument("--text-model", help="local model dir or hub id (default: packaged all-MiniLM-L6-v2)")
    g.add_argument("--tau", type=float, help="temperature")
    g.add_argument("--no-normalize", action="store_true", help='ablation "w/o Norm"')
    g.add_argument("--no-fn-mask", action="store_true", help='ablation "InfoNCE w/ Norm"')
    g.add_argument("--trust-remote-code", action="store_true", help="allow a hub model's own code to run")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("grid", help="run a datasets x models x seeds grid (resumable), then write Tables 2 and 3")
    p.add_argument("--datasets", nargs="+", required=True, metavar="NAME-or-PATH")
    p.add_argument("--models", nargs="+", default=["paper"], metavar="VARIANT",
                   help=f"variants ({', '.join(VARIANTS)}) or groups ({', '.join(GROUPS)}); default: paper")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    _executor_args(p, "runs")
    p.add_argument("--out", help="grid directory (default results/grid)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a training option for every run that has it, e.g. --set text_mode=lora-top, or for one model's "
        "runs, e.g. --set symcere.tau=0.3 (repeatable)",
    )
    p.add_argument("--no-tuned", action="store_true", help="ignore configs/tuned/ and run every model's defaults")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser("evaluate", help="re-score finished runs of the store under other evaluation protocols",
                       description="Load finished runs of a run store (their weights; nothing is retrained) and score "
                                   "each under every protocol given: full (all-ranking, what our tables report), "
                                   "uni<N> / pop<N> (RecBole's sampled ranking: N negatives per test item drawn "
                                   "uniformly / by training popularity). Rows go to ROOT/protocols.csv. The leaky "
                                   "readings train their own runs: NAME@repeats as a dataset of `symcere grid`, "
                                   "test-epoch in notebook 09.")
    p.add_argument("--root", help="run store (default results/grid)")
    p.add_argument("--datasets", nargs="+", metavar="NAME", help="only these datasets (default: every one stored)")
    p.add_argument(
        "--models", nargs="+", metavar="VARIANT", help=f"only these variants or groups ({', '.join(GROUPS)})"
    )
    p.add_argument("--seeds", nargs="+", type=int, help="only these training seeds")
    p.add_argument("--protocols", nargs="+", default=["full", "uni100", "pop100"], metavar="PROTOCOL",
                   help="full, uni<N>, pop<N> (default: full uni100 pop100)")
    p.add_argument("--sample-seed", type=int, default=None,
                   help="seed of the sampled negatives (default: each run's own seed, shared by every model)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "compare",
        help="a fresh table against a stored one, within a tolerance tied to the seed spread",
        description="Compare two table CSVs (Table.to_csv: dataset, metric, column, mean, std), e.g. the "
        "docs' docs/results/table2.csv and a fresh run's results/tables/table2.csv. A cell is "
        "within tolerance when |fresh - stored| <= max(Z x stored std / sqrt(SEEDS), 0.00005). "
        "Exit code 1 when a cell is not.",
    )
    p.add_argument("reference", help="the stored table CSV")
    p.add_argument("fresh", help="the fresh table CSV")
    p.add_argument("--seeds", type=int, default=5, help="seeds behind each stored mean (default 5)")
    p.add_argument("--z", type=float, default=2.0, help="tolerance in standard errors of the stored mean (default 2)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("tune", help="tune one variant's settings on the validation slice (Optuna; resumable)",
                       description="Add trials to the Optuna study of a dataset x variant: each trains on the "
                                   "tuning-train part with early stopping on the validation slice (latest 20 % of each "
                                   "user's training history; never the test split) and is scored by its NDCG@10. The "
                                   "best trial's settings go to configs/tuned/<dataset>/<variant>.yaml, which grid, "
                                   "train and the notebooks then use.")
    p.add_argument("dataset", help="registry name (see `symcere datasets`) or path of a review file")
    p.add_argument("--model", required=True, metavar="VARIANT", help=f"a variant: {', '.join(VARIANTS)}")
    how_many = p.add_mutually_exclusive_group()
    how_many.add_argument("--trials", type=int, help="trials to add (default: the equal budget, 20)")
    how_many.add_argument("--up-to", type=int, metavar="N", help="instead: add trials until N have finished")
    p.add_argument("--timeout", type=float, metavar="S", help="stop starting new trials after S seconds")
    p.add_argument("--storage", help="Optuna storage: a SQLite file or a database URL "
                                     "(default results/tuning/studies.db)")
    _executor_args(p, "trials")
    p.add_argument("--epoch-cap", type=int, help="most epochs per trial (default 200; the same for every model)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting fixed for the whole study, e.g. --set text_model=hyp1231/blair-roberta-base")
    p.add_argument("--no-write", action="store_true", help="do not write configs/tuned/")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("reproduce", help="the main job (make reproduce): run notebooks/NN_*.ipynb in order, resumably",
                       description="Execute the notebooks with papermill into build/notebooks/; tables go to results/, "
                                   "figures to figures/. A notebook whose source and parameters are unchanged since "
                                   "its last successful run is skipped. Exit code 2: a bad parameter; 1: a notebook "
                                   "failed (its message names the cell and the executed copy).")
    p.add_argument("--quick", action="store_true", help="small data and few epochs (CI); writes under quick/ folders")
    p.add_argument("--force", action="store_true", help="re-run notebooks that are up to date")
    p.add_argument("--only", nargs="*", metavar="PREFIX", help="notebook name prefixes, e.g. --only 01 03")
    p.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                   help="override a notebook parameter, VALUE in YAML: DATASETS=[amazon2023_health_and_household] "
                        "SEEDS=[0,1,2] TEXT_MODEL=hyp1231/blair-roberta-base (repeatable); DATASETS=paper runs "
                        "every paper dataset here or downloadable, each at its @paper reading")
    from .reproduce import CELL_TIMEOUT

    p.add_argument(
        "--cell-timeout",
        type=int,
        metavar="SECONDS",
        help=f"limit per notebook cell (default {CELL_TIMEOUT['quick']} with --quick, {CELL_TIMEOUT['full']} "
        "otherwise); a cell over it, or a dead kernel, gets one retry with a fresh kernel, then the "
        "run stops naming the notebook, the cell and the executed copy",
    )
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``symcere`` command on ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success; a ``SymcereError``'s ``exit_code`` (2 for a user error, 1 when tables
        differ or a notebook failed), its message printed to stderr (re-raised with ``--debug``); 130 when
        interrupted. A usage error exits 2 through argparse.
    """
    args = build_parser().parse_args(argv)
    loudness = "1" if args.verbose else "0" if args.quiet else None  # None: $SYMCERE_VERBOSE as the user set it
    try:
        with scoped_environ(**{VERBOSE_ENV: loudness}):
            args.func(args)
    except SymcereError as exc:
        if args.debug:
            raise
        print(f"symcere: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("symcere: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
