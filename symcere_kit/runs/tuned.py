"""Tuned settings as files: ``configs/tuned/<dataset>/<variant>.yaml`` (plus ``.trials.csv``).

A file holds the settings of a study's best trial (``epochs``: the epoch early stopping chose, and
``patience: 0``, so a run retrains on the whole training history for that many epochs) and the
study's provenance: trials by state, best validation NDCG@10, the budget, date and git commit, the
dataset's fingerprint. ``symcere grid``, ``symcere train`` and the notebooks apply the file of a
(dataset, variant) when it exists (``--no-tuned`` ignores it); a file whose fingerprint is not the
loaded dataset's is an error, never applied silently.

Which of a file's settings a run takes, and over what, is the settings resolver's to say
(``run_settings``, rule 6): e.g. the LoRA text modes reuse the frozen-mode tuning (tuning runs the frozen
encoder on a CPU) but keep their own loop (``SymCERESettings.TEXT_MODE_LOOP``).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..data.readings import split_reading
from ..errors import SymcereError
from ..files import write_text_atomic
from ..paths import tuned_dir
from ..provenance import git_commit, package_versions
from .store import dataset_slug
from .variants import VARIANTS, borrows_tuned, tuned_source, variant_config


@dataclass(frozen=True)
class Tuned:
    """The tuned settings of one (dataset, variant): the file's flat settings and where they come from
    (``path``: the file of the variant it borrows from, for a text-off control)."""

    settings: dict[str, Any]
    path: Path
    fingerprint: str

    def check(self, fingerprint: str, dataset: str) -> None:
        """Refuse these settings for data other than the data they were tuned on.

        Args:
            fingerprint: the loaded dataset's ``tuning_fingerprint``.
            dataset: the dataset as the caller named it, for the message.

        Raises:
            SymcereError: ``fingerprint`` is not the file's, naming the file and the fix.
        """
        check_fingerprint(self.fingerprint, fingerprint, dataset, self.path.stem, self.path)


def check_fingerprint(tuned: str, now: str, dataset: str, variant: str, path: Path | None = None) -> None:
    """Refuse settings tuned on other data (another review file, k-core, split or dataset)."""
    if tuned != now:
        raise SymcereError(
            f"{path or 'The tuned settings'} ({variant}) were tuned on other data than this {dataset} (dataset "
            f"fingerprint {tuned}; this data {now}: another file, dataset, k-core or split). Tuned files apply to the "
            f"data `symcere tune` prepares with its defaults; run this with --no-tuned, or re-tune on this data "
            f"(`symcere tune {dataset} --model {variant}`) if the review file itself changed.")


def tuned_path(dataset: str, variant: str, root: str | Path | None = None) -> Path:
    """Keyed like the run store: a registry name, or a file's stem plus a hash of its path; a data reading
    (``NAME@repeats``) uses its base dataset's file."""
    return Path(root or tuned_dir()) / dataset_slug(split_reading(dataset)[0]) / f"{variant}.yaml"


def read_tuned(dataset: str, variant: str, root: str | Path | None = None) -> dict | None:
    """The whole tuned record of (dataset, variant), or None when there is none."""
    path = tuned_path(dataset, variant, root)
    if not path.is_file():
        return None
    try:
        record = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise SymcereError(f"{path}{where} is not valid YAML ({getattr(exc, 'problem', None) or exc}); re-derive it "
                           f"with `symcere tune` or delete it.") from exc
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("settings"), dict)
        or "dataset_fingerprint" not in record
    ):
        raise SymcereError(f"{path} is not a tuned-settings file (no 'settings' mapping or 'dataset_fingerprint'); "
                           f"re-derive it with `symcere tune` or delete it.")
    if record.get("variant") != variant or record.get("model") != VARIANTS[variant].model:
        raise SymcereError(f"{path} holds the settings of {record.get('variant')!r} (model {record.get('model')!r}), "
                           f"not of {variant} (model {VARIANTS[variant].model}); a file is named after its variant. "
                           f"Re-derive it with `symcere tune --model {variant}` or delete it.")
    return record


def load_tuned(dataset: str, variant: str, root: str | Path | None = None) -> Tuned | None:
    """The tuned file ``variant`` runs on ``dataset`` (its own, or the one it borrows: ``variants.tuned_source``),
    checked against the variant's model; None when there is none. How the settings then apply is the
    resolver's (``run_settings``, rule 6).

    Raises:
        SymcereError: the file is not valid, holds another variant's settings, a value the model refuses
            (naming the file), or a nested control's base was re-tuned since.
    """
    source = tuned_source(variant)
    record = read_tuned(dataset, source, root)
    if record is None:
        return None
    path = tuned_path(dataset, source, root)
    settings = dict(record["settings"])
    try:  # a hand-edited value fails here, naming the file, not deep inside a run
        variant_config(variant, 0, tuned=settings)
    except SymcereError as exc:
        raise SymcereError(f"{path}: {exc} Fix the value or re-derive the file with `symcere tune`.") from None
    if VARIANTS[variant].tuned_from and not borrows_tuned(variant):
        _check_base(dataset, variant, path, record, root)
    return Tuned(settings, path, record["dataset_fingerprint"])


def _check_base(dataset: str, variant: str, path: Path, record: dict, root: str | Path | None) -> None:
    """A nested control's file carries the tuned settings of the variant it starts from; once that variant
    is re-tuned the control no longer nests it, and applying the file would compare unlike recipes."""
    source = VARIANTS[variant].tuned_from
    base = read_tuned(dataset, source, root)
    now = {} if base is None else {k: val for k, val in base["settings"].items() if k not in ("epochs", "patience")}
    stale = sorted(k for k, val in now.items() if record["settings"].get(k) != val)
    if base is None or stale:
        why = (f"{source} has no tuned file now" if base is None else
               "; ".join(f"{k} {record['settings'].get(k)!r} there, {now[k]!r} in {source}'s file" for k in stale))
        raise SymcereError(f"{path} was tuned on top of {source}'s tuned settings, which changed since ({why}). "
                           f"Re-tune it (`symcere tune {dataset} --model {variant}`) or run with --no-tuned.")


def write_tuned(dataset_arg: str, dataset, variant: str, settings: dict[str, Any], study_info: dict[str, Any],
                trials_csv: str, root: str | Path | None = None) -> Path:
    """Write ``<variant>.yaml`` and its ``.trials.csv`` for ``dataset`` (the loaded ``ReviewDataset`` of
    ``dataset_arg``, a registry name or a path)."""
    path = tuned_path(dataset_arg, variant, root)
    record = {
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "variant": variant,
        "model": VARIANTS[variant].model,
        "settings": {k: list(val) if isinstance(val, tuple) else val for k, val in settings.items()},
        "study": study_info,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git_commit(),
        "versions": {k: val for k, val in package_versions().items() if k in ("python", "torch", "optuna")},
    }
    write_text_atomic(path.with_suffix(".trials.csv"), trials_csv)
    write_text_atomic(path, "# Written by `symcere tune`; `make tune` re-derives every file.\n"
                            + yaml.safe_dump(record, sort_keys=False))
    return path
