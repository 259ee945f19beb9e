"""``symcere tune``: one Optuna study per (dataset, variant), the same budget for every model.

* Objective: NDCG@10 on the validation slice (the latest 20 % of each user's training history,
  ``ReviewDataset.holdout``); the test split is never loaded into a trial. Each trial trains up to
  ``Budget.epoch_cap`` epochs with early stopping on that slice (checked every ``eval_every`` epochs,
  ``patience`` checks without improvement) and keeps its best epoch as a user attribute; models
  without epochs (MostPop, EASE^R, RP3beta) are fitted once and evaluated on the slice.
* Sampler: TPE seeded with ``Budget.seed`` plus the number of trials already in the study, so a
  resumed study draws on from where it stopped (a restart with the same seed would repeat the first
  draws). Pruner: median pruning on each check's NDCG@10 (Optuna's ``MedianPruner``).
* Storage: any Optuna RDB URL; default ``sqlite:///results/tuning/studies.db``. Finished trials are
  committed as they finish, so a killed tune loses only the trial in flight; heartbeats mark such a
  trial failed once it is stale and the next run retries its parameters (``RetryFailedTrialCallback``).
  Parallel workers (``--executor process|dask``) share the storage: SQLite serves local processes
  (waiting on its lock up to a minute); a cluster on several machines needs a server database URL
  (``postgresql://...``).
* A trial that fails (a NaN loss, out of memory) is recorded as failed with its message and the study
  goes on; a bad variant, parameter or range fails before any trial runs.
"""
from __future__ import annotations

import io
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..config import Choice, ConfigBase, Range, RunConfig
from ..data.dataset import load_dataset
from ..data.readings import split_reading
from ..errors import SymcereError, TrainingError
from ..models import settings_class
from ..paths import results_dir
from ..runs.executors import make_executor, threads_per_worker
from ..runs.store import dataset_slug
from ..runs.tuned import load_tuned, read_tuned, tuned_path, write_tuned
from ..runs.variants import VARIANTS, expand_variants, variant_config
from ..train import fit, resolve_device
from .space import corners, decode, distributions, suggest

METRIC = "ndcg@10"
# Loop settings every trial takes from the budget (TuneTask.config), so a --set of them would be ignored.
BUDGET_KEYS = ("epochs", "patience", "eval_every", "seed")


@dataclass(frozen=True)
class Budget(ConfigBase):
    """The equal budget: every model in Tables 2 and 3 gets these (docs/experiments/tuning.md)."""

    trials: int = 20  # trials per (dataset, variant)
    epoch_cap: int = 200  # most epochs a trial trains; early stopping usually ends it sooner
    eval_every: int = 5  # epochs between validation checks (NDCG@10 on the validation slice)
    patience: int = 4  # checks without improvement before a trial stops (20 epochs)
    seed: int = 0  # training seed of every trial (trials differ in settings, not in seed) and the sampler's
    startup_trials: int = 8  # TPE draws at random first
    prune_startup: int = 5  # the pruner waits for this many finished trials ...
    prune_warmup: int = 10  # ... and prunes no trial before this epoch

    def __post_init__(self):
        for name in ("trials", "epoch_cap", "eval_every", "patience"):
            if getattr(self, name) < 1:
                raise SymcereError(f"The tuning budget's {name} must be >= 1; got {getattr(self, name)}.")


def storage_url(storage: str | None = None) -> str:
    """An Optuna storage URL: ``storage`` as given when it has a scheme, a path as a SQLite file, None as
    ``results/tuning/studies.db``. The SQLite file's folder is created."""
    if storage and "://" in storage:
        url = storage
    else:
        path = Path(storage) if storage else results_dir() / "tuning" / "studies.db"
        url = f"sqlite:///{path.expanduser().resolve()}"
    if url.startswith("sqlite:///"):
        folder = Path(url[len("sqlite:///"):]).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file where a folder should be, no permission
            raise SymcereError(f"Cannot make the folder {folder} of the Optuna storage {url!r}: {exc.strerror or exc}. "
                               f"Give --storage a path in a writable folder.") from exc
    return url


def open_storage(url: str):
    """RDB storage with heartbeats (a killed trial becomes failed after 30 s and is retried once)."""
    import optuna

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5 (since 2.8)
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs=kwargs, heartbeat_interval=10, grace_period=30,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
    except Exception as exc:  # SQLAlchemy's errors for a bad URL, driver or file
        raise SymcereError(f"Cannot open the Optuna storage {url!r}: {exc}. Give a path of a SQLite file, "
                           f"a sqlite:/// URL or a database URL Optuna supports.") from exc


def study_name(dataset_arg: str, variant: str) -> str:
    """The Optuna study name of ``variant`` on ``dataset_arg``: ``<dataset slug>/<variant>``."""
    return f"{dataset_slug(dataset_arg)}/{variant}"


def search_space(variant: str) -> dict[str, Range | Choice]:
    """What ``variant`` tunes: its model's ``SEARCH_SPACE`` (limited to ``Variant.search``), less what
    the variant's overrides fix. An empty space is an error."""
    v = VARIANTS[variant]
    full = settings_class(v.model).search_space()
    names = list(full) if v.search is None else list(v.search)
    unknown = [n for n in names if n not in full]
    if unknown:
        raise SymcereError(f"Variant {variant} searches {unknown}, which {v.model}'s SEARCH_SPACE does not "
                           f"define (it has {sorted(full)}).")
    space = {n: full[n] for n in names if n not in v.overrides}
    if not space:
        source = (f"; it runs {v.tuned_from}'s tuned settings with its overrides, so tune {v.tuned_from}"
                  if v.tuned_from else "")
        raise SymcereError(f"{variant} has nothing to tune (its model {v.model} has no search space"
                           f"{' left after its overrides' if full else ''}{source}).")
    return space


@dataclass(frozen=True)
class TuneTask:
    """One worker's share of a tune: picklable, so process and Dask workers run it as they are."""

    dataset: str
    variant: str
    storage: str
    study: str
    n_trials: int
    timeout: float | None
    budget: Budget
    base: tuple = ()  # sorted (key, value) fixed settings: ``tuned_from``'s tuned ones, then ``--set`` ones
    sampler_seed: int = 0
    threads: int | None = None
    progress: bool = False
    # Finished trials at which every worker stops, whatever its own count: concurrent tunes of one study
    # (two `--up-to 20` runs, or process workers) then end it at the target, not at their sum.
    stop_at: int | None = None

    def config(self, params: dict[str, Any]) -> RunConfig:
        """A trial's settings: the variant's with the fixed ``base`` as tuned settings, the trial's
        ``params`` and the budget's loop (epoch cap, patience, checks) as the caller's overrides."""
        b = self.budget
        return variant_config(
            self.variant,
            b.seed,
            tuned=dict(self.base),
            overrides={**params, "epochs": b.epoch_cap, "patience": b.patience, "eval_every": b.eval_every},
        )


def run_trial(trial, dataset, task: TuneTask, space: dict) -> float:
    """The objective: validation NDCG@10 of one setting drawn from ``space``."""
    import optuna

    params = suggest(trial, space)

    def on_check(epoch: int, value: float) -> None:
        trial.report(value, epoch)
        if trial.should_prune():
            trial.set_user_attr("epochs_run", epoch)
            raise optuna.TrialPruned(f"NDCG@10 {value:.4f} at epoch {epoch} is below the median of earlier trials")

    try:
        fitted = fit(dataset, task.config(params), progress=False, on_check=on_check)
    except (TrainingError, MemoryError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "out of memory" not in str(exc).lower():
            raise
        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
        raise
    stopper = fitted.stopper
    if fitted.model.trainable and stopper is not None and stopper.best_epoch > 0:
        value, best_epoch = stopper.best, stopper.best_epoch
    else:  # no epochs: fitted once, evaluated on the validation slice
        value, best_epoch = fitted.trainer.evaluate(fitted.fit_data).metrics[METRIC], 0
    trial.set_user_attr("best_epoch", best_epoch)
    trial.set_user_attr("epochs_run", len(fitted.trainer.history))
    if not math.isfinite(value):
        raise TrainingError(f"validation {METRIC} is {value}")
    return value


def optimize(task: TuneTask) -> int:
    """Run ``task.n_trials`` trials of the study (top-level, so it pickles); returns how many ran."""
    import optuna
    import torch

    if task.threads:
        torch.set_num_threads(task.threads)
    dataset = load_dataset(task.dataset, progress=False)
    space = search_space(task.variant)
    study = optuna.load_study(
        study_name=task.study, storage=open_storage(task.storage),
        sampler=optuna.samplers.TPESampler(seed=task.sampler_seed, n_startup_trials=task.budget.startup_trials),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=task.budget.prune_startup,
                                           n_warmup_steps=task.budget.prune_warmup))
    before = len(study.trials)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    if task.stop_at is not None and sum(t.state in finished for t in study.trials) >= task.stop_at:
        return 0
    stop = [optuna.study.MaxTrialsCallback(task.stop_at, states=finished)] if task.stop_at is not None else None
    study.optimize(lambda trial: run_trial(trial, dataset, task, space), n_trials=task.n_trials,
                   timeout=task.timeout, catch=(TrainingError, MemoryError, RuntimeError), callbacks=stop,
                   show_progress_bar=task.progress, gc_after_trial=True)
    return len(study.trials) - before


def _base_settings(dataset_arg: str, variant: str, fingerprint: str, root: str | Path | None = None) -> dict:
    """The tuned settings of ``tuned_from`` a control starts from; it must be tuned first."""
    source = VARIANTS[variant].tuned_from
    if not source:
        return {}
    tuned = load_tuned(dataset_arg, source, root=root)
    if tuned is None:
        raise SymcereError(f"{variant} starts from {source}'s tuned settings, and {dataset_arg} has none: run "
                           f"`symcere tune {dataset_arg} --model {source}` first.")
    tuned.check(fingerprint, dataset_arg)
    return {k: v for k, v in tuned.settings.items() if k not in ("epochs", "patience")}


def _open_study(url: str, name: str, dataset, variant: str, budget: Budget, base: dict):
    """Create the study, or load it and check it was made for the same data and budget."""
    import optuna

    attrs = {"dataset_fingerprint": dataset.fingerprint, "variant": variant,
             "budget": {k: v for k, v in budget.to_dict().items() if k != "trials"}, "base": base,
             "metric": f"validation {METRIC}"}
    study = optuna.create_study(study_name=name, storage=open_storage(url), direction="maximize", load_if_exists=True)
    if not study.user_attrs:
        for key, value in attrs.items():
            study.set_user_attr(key, value)
        return study
    for key in ("dataset_fingerprint", "budget", "base"):
        if study.user_attrs.get(key) != attrs[key]:
            raise SymcereError(
                f"Study {name!r} in {url} was made with another {key.replace('_', ' ')} ({study.user_attrs.get(key)} "
                f"vs {attrs[key]} now); its trials would not compare with new ones. Give another --storage, or "
                f"delete the study (optuna delete-study --study-name '{name}' --storage '{url}').")
    return study


# A failed trial without a message of its own: heartbeats found its process gone (killed, or the machine stopped).
STALE = "its process stopped before it finished (heartbeat went stale); the next run retried its settings"


def trials_frame(study, space: dict):
    """One row per trial: number, state, value, best_epoch, epochs_run, seconds (start to end, pruned and
    failed trials too), error, then the parameters."""
    import pandas as pd

    rows = []
    for t in study.trials:
        params = decode(t.params, space)
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        error = t.user_attrs.get("error") or (STALE if t.state.name == "FAIL" else "")
        rows.append({"number": t.number, "state": t.state.name, "value": t.value,
                     "best_epoch": t.user_attrs.get("best_epoch"), "epochs_run": t.user_attrs.get("epochs_run"),
                     "seconds": round(seconds, 2) if seconds is not None else None, "error": error,
                     **{f"param_{k}": (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}})
    frame = pd.DataFrame(rows)
    # whole epochs stay whole next to trials that have none (pruned before a check, failed)
    return frame.astype({c: "Int64" for c in ("best_epoch", "epochs_run") if c in frame})


def summarize_study(study, space: dict) -> dict:
    """Counts by state, the best trial (value, decoded parameters, epoch) of ``study``."""
    from optuna.trial import TrialState

    counts = {s: sum(t.state == s for t in study.trials) for s in TrialState}
    complete = counts[TrialState.COMPLETE]
    best = study.best_trial if complete else None
    return {"study": study.study_name,
            "trials": complete + counts[TrialState.PRUNED],  # finished: ran to a value of their own
            "complete": complete, "pruned": counts[TrialState.PRUNED], "failed": counts[TrialState.FAIL],
            "running": counts[TrialState.RUNNING] + counts[TrialState.WAITING],
            "best_value": best.value if best else None,
            "best_trial": best.number if best else None,
            "best_params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in decode(best.params, space).items()}
            if best else None,
            "best_epoch": best.user_attrs.get("best_epoch") if best else None}


def check_request(variant: str, budget: Budget, settings: dict | None, trials: int | None = None,
                  up_to: int | None = None, timeout: float | None = None) -> tuple[dict, dict]:
    """Everything that can be wrong with a tune request, found before any data loads or trial runs:
    an unknown variant or a group, nothing to tune, a malformed range, a value the model refuses at a
    range's end, a fixed setting the model lacks, one that is searched or one the budget sets, a value of
    the wrong type or sign, a device this machine lacks, a negative trial count or timeout.
    Returns (space, fixed)."""
    expand_variants([variant])  # an unknown variant fails here
    if variant not in VARIANTS:
        raise SymcereError(f"tune takes one variant, not the group {variant!r}; tune its variants one by one.")
    space = search_space(variant)
    fixed = dict(settings or {})
    clash = sorted(set(fixed) & set(space))
    if clash:
        raise SymcereError(f"{clash} are searched by {variant}'s tuning; do not fix them with --set.")
    budgeted = sorted(set(fixed) & set(BUDGET_KEYS))
    if budgeted:
        raise SymcereError(f"{budgeted} are set by the equal tuning budget (epochs up to the epoch cap, early "
                           f"stopping's patience and checks, training seed {budget.seed}); change the cap with "
                           f"--epoch-cap, not --set.")
    try:
        distributions(space)  # Optuna checks low <= high, log > 0
    except ValueError as exc:
        raise SymcereError(f"{variant}'s search space is malformed: {exc}") from exc

    # an unknown --set key, a device not here
    resolve_device(variant_config(variant, budget.seed, overrides=fixed).loop.device)
    for corner in corners(space):  # a value the model refuses
        variant_config(variant, budget.seed, overrides={**fixed, **corner})
    if trials is not None and trials < 0 or up_to is not None and up_to < 0:
        raise SymcereError("--trials and --up-to take a number >= 0.")
    if timeout is not None and not timeout > 0:
        raise SymcereError(f"--timeout takes seconds > 0; got {timeout}.")
    return space, fixed


def _to_add(finished: int, trials: int | None, up_to: int | None, budget: Budget) -> int:
    """Trials a tune adds: ``trials`` (default the budget's), or what tops the study up to ``up_to``."""
    return max(0, up_to - finished) if up_to is not None else (budget.trials if trials is None else trials)


def _finished_trials(url: str, name: str, space: dict) -> int:
    """Finished trials of study ``name`` in ``url`` (0 when neither exists); creates nothing."""
    import optuna

    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        return 0
    try:
        return summarize_study(optuna.load_study(study_name=name, storage=open_storage(url)), space)["trials"]
    except KeyError:  # Optuna: no such study
        return 0


def _check_replace(dataset_arg: str, variant: str, finished: int, root: str | Path | None) -> None:
    """Refuse, before any trial, a tune whose study will be smaller than the one the existing tuned file
    came from: its best would replace a larger search with a smaller one (a scratch study, say)."""
    try:
        record = read_tuned(dataset_arg, variant, root)
    except SymcereError:  # an unreadable file: the tune re-derives it, as its message says
        return
    had = (record or {}).get("study", {}).get("trials") or 0
    if record is not None and finished < had:
        study = record["study"]
        raise SymcereError(
            f"{tuned_path(dataset_arg, variant, root)} holds the best of a {had}-trial study (validation "
            f"{METRIC} {study.get('best_value')}, storage {study.get('storage')}); this study would have at most "
            f"{finished} finished trials, and writing its best would replace the larger search. Top it up "
            f"(--up-to {had}), tune the file's own study (--storage), or pass --no-write to leave the file alone.")


def _write_tuned_file(dataset_arg: str, dataset, study, space: dict, summary: dict, base: dict, budget: Budget,
                      root: str | Path | None) -> Path:
    """The best trial's settings (``epochs``: its early-stopped epoch, ``patience`` 0) and the study's provenance."""
    settings = {**base, **summary["best_params"]}
    if summary["best_epoch"]:
        settings.update(epochs=summary["best_epoch"], patience=0)
    frame = trials_frame(study, space)
    info = {k: summary[k] for k in ("study", "trials", "complete", "pruned", "failed", "best_value", "best_trial",
                                     "best_epoch")}
    info.update(metric=f"validation {METRIC} (latest 20% of each user's training history)",
                budget=budget.to_dict(), storage=summary["storage"],
                tuned_from=VARIANTS[summary["variant"]].tuned_from,
                seconds=round(float(frame["seconds"].fillna(0).sum()), 1))
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return write_tuned(dataset_arg, dataset, summary["variant"], settings, info, buf.getvalue(), root)


def tune(dataset_arg: str, variant: str, trials: int | None = None, up_to: int | None = None,
         timeout: float | None = None, storage: str | None = None, executor: str = "local",
         workers: int | None = None, budget: Budget | None = None, settings: dict | None = None,
         write: bool = True, tuned_root: str | Path | None = None, progress: bool = True) -> dict:
    """Add ``trials`` trials (or top the study up to ``up_to`` finished ones) to the study of
    ``variant`` on ``dataset_arg``; write its tuned file when it has a complete trial. ``settings``
    are fixed for the whole study (e.g. ``text_model``) and may not name a searched dimension; the
    tuned file goes under ``tuned_root`` (default ``configs/tuned/``).
    Returns the summary the CLI prints (``study``, ``trials``, ``best_value``, ``best_params``, ...)."""
    import optuna

    base, reading = split_reading(dataset_arg)
    if reading:
        raise SymcereError(f"{dataset_arg} is a data reading: it runs with the tuned settings of {base} and is "
                           f"never tuned itself; tune that dataset instead.")
    budget = budget or Budget()
    space, fixed = check_request(variant, budget, settings, trials, up_to, timeout)
    if not progress:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    dataset = load_dataset(dataset_arg, progress=progress)
    base = {**_base_settings(dataset_arg, variant, dataset.fingerprint, tuned_root), **fixed}
    url, name = storage_url(storage), study_name(dataset_arg, variant)
    if write:  # before the study is made: a refused tune leaves no trace
        finished = _finished_trials(url, name, space)
        _check_replace(dataset_arg, variant, finished + _to_add(finished, trials, up_to, budget), tuned_root)
    study = _open_study(url, name, dataset, variant, budget, base)
    before = summarize_study(study, space)
    n = _to_add(before["trials"], trials, up_to, budget)
    start = time.perf_counter()
    if n:
        k = max(1, min(workers or 1, n)) if executor != "local" else 1
        threads = threads_per_worker(k)
        tasks = [TuneTask(dataset_arg, variant, url, name, n // k + (i < n % k), timeout, budget,
                          tuple(sorted(base.items())), budget.seed + len(study.trials) + 1000 * i, threads,
                          progress and k == 1, before["trials"] + n) for i in range(k)]
        with make_executor(executor, k) as ex:
            for future in [ex.submit(optimize, t) for t in tasks]:
                future.result()
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    after = summarize_study(study, space)
    summary = {**after, "storage": url, "dataset": dataset.name, "variant": variant,
               "added": after["trials"] - before["trials"], "seconds": round(time.perf_counter() - start, 1),
               "budget": budget.to_dict(), "tuned_file": None}
    if write and summary["complete"]:
        summary["tuned_file"] = str(_write_tuned_file(dataset_arg, dataset, study, space, summary, base, budget,
                                                      tuned_root))
    return summary


__all__ = ["Budget", "TuneTask", "check_request", "open_storage", "optimize", "run_trial", "search_space",
           "storage_url", "study_name", "summarize_study", "trials_frame", "tune"]


def tune_many(datasets: Iterable[str], variants: Iterable[str], budget: Budget, storage: str,
              tuned_root: str | Path | None = None, progress: bool = False) -> list[dict]:
    """[`tune`][symcere_kit.tuning.study.tune] every (dataset, variant) up to ``budget.trials`` finished trials, in
    order; their summaries."""
    return [tune(d, v, up_to=budget.trials, storage=storage, budget=budget, tuned_root=tuned_root, progress=progress)
            for d in datasets for v in variants]
