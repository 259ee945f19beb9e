"""Dataclass configs: the one place for defaults. Each converts to and from flat dicts (YAML and JSON records).

* [`DataConfig`][symcere_kit.config.DataConfig]: how a review file becomes train/test interactions.
* [`LoopConfig`][symcere_kit.config.LoopConfig]: what every model's training loop shares (epochs, batch, lr, seed,
  device, early stopping, evaluation).
* [`ModelSettings`][symcere_kit.config.ModelSettings]: base of each model's own settings dataclass, declared in the
  model's file (``models/<name>.py``) with its defaults, their sources, its loop defaults and its search space.
* [`RunConfig`][symcere_kit.config.RunConfig]: one run = model name + loop + that model's settings; flat as a dict
  (``{"model": ..., **loop, **settings}``), the form run records and ``--set KEY=VALUE`` use.
  ``run_settings.resolve_run_config`` builds it from its sources, the precedence stated there once.

Every default lives here or in the model's settings dataclass (``models/<name>.py``); code below reads
settings objects and restates none.

Nothing here imports torch: the command line builds its parser from this module in an instant.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from .errors import SymcereError

EmptyTextPolicy = Literal["keep", "drop", "title"]
SplitKind = Literal["ratio", "last_out", "timestamp"]
SampleWhen = Literal["before_core", "after_core"]
# The text encoder's training modes (``text.modes`` maps each to its class): named here, where the command
# line can read them without importing torch.
TextMode = Literal["frozen", "lora", "lora-top"]
# The Amazon Reviews 2023 benchmark's global cutoffs (validation, test) in Unix milliseconds:
# hyp1231/AmazonReviews2023 benchmark_scripts/timestamp_split.py, valid_timestamp and test_timestamp.
OFFICIAL_CUTOFFS_MS = (1628643414042, 1658002729837)


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits a field annotation of these configs (int for float is fine; bool is no int)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if origin is tuple:
        return isinstance(value, tuple) and all(_type_ok(v, args[0]) for v in value) if args[-1] is Ellipsis else True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True


def _wanted(hint: Any) -> str:
    """A field annotation in words for an error: a ``Literal``'s values, else the type's name."""
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(hint))
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


class ConfigBase:
    """Base of the config dataclasses: every value checked for type and sign when built; to and from
    flat dicts."""

    # Names whose values must be finite and > 0 / >= 0, checked with every value's type whenever a config is
    # built (YAML, records, --set, direct construction). Subclasses add theirs; the sets of the whole MRO apply;
    # a subclass's own __post_init__ calls super().__post_init__() first.
    POSITIVE: ClassVar[frozenset[str]] = frozenset()
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def check_values(cls, values: dict[str, Any]) -> None:
        """Refuse a value of the wrong type or sign, naming the option, what it got and what it takes."""
        hints = typing.get_type_hints(cls)
        positive = set().union(*(c.__dict__.get("POSITIVE", ()) for c in cls.__mro__))
        non_negative = set().union(*(c.__dict__.get("NON_NEGATIVE", ()) for c in cls.__mro__))
        for key, value in values.items():
            hint = hints.get(key)
            if hint is not None and not _type_ok(value, hint):
                raise SymcereError(f"{cls.__name__} option {key} takes {_wanted(hint)}; got {value!r} "
                                   f"({type(value).__name__}).")
            if (
                key in positive | non_negative
                and value is not None
                and not (math.isfinite(value) and value >= 0 and (value > 0 or key in non_negative))
            ):
                raise SymcereError(f"{cls.__name__} option {key} must be {'> 0' if key in positive else '>= 0'} "
                                   f"and finite; got {value!r}.")

    def __post_init__(self):
        self.check_values({f.name: getattr(self, f.name) for f in fields(self)})

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict, name -> value (``dataclasses.asdict``)."""
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls) -> set[str]:
        """The names of this config's fields."""
        return {f.name for f in fields(cls)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None):
        """Build from a dict (YAML, JSON records); lists become tuples where the field is a tuple."""
        d = dict(d or {})
        known = cls.field_names()
        unknown = sorted(set(d) - known)
        if unknown:
            raise SymcereError(
                f"Unknown {cls.__name__} option(s) {unknown}; known options are {sorted(known)}."
            )
        hints = typing.get_type_hints(cls)
        for key, value in d.items():
            if isinstance(value, list) and typing.get_origin(hints.get(key)) is tuple:
                d[key] = tuple(value)
        return cls(**d)

    def replace(self, **changes):
        """A copy with ``changes`` (field name -> value) applied, checked like a new config."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class DataConfig(ConfigBase):
    """How a raw review file becomes train/test interactions (paper section 4.1)."""

    user_k: int = 5  # iterative k-core: minimum interactions per user
    item_k: int = 5  # ... and per item
    dedupe_pairs: bool = True  # keep only the earliest review of each (user, item)
    drop_cross_variant: bool = True  # same (user, time, text) copied onto several items: keep one
    # "keep": empty reviews stay as interactions with empty text; "drop": remove them before k-core;
    # "title": use the review title (summary) as text when the body is empty.
    empty_text: EmptyTextPolicy = "keep"
    test_ratio: float = 0.2  # per user, latest floor(ratio*n) interactions (>= 1) are test
    skip_bad_records: bool = False  # skip malformed lines (and count them) instead of failing
    # Paper-scale sampling (its Table 1 sizes come from an undisclosed subsample before 5-core): keep the
    # reviews of N users drawn uniformly without replacement before any other step; None keeps every user.
    # The draw ranks users by md5("<sample_seed>:<user id>") and keeps the N lowest: order-free (the same
    # users whatever the file order or engine) and seeded.
    sample_users: int | None = None
    sample_seed: int = 0
    # When the N users are drawn: "before_core" (above: before any other step) or "after_core": after the cleaning
    # and the k-core of the whole file, keeping all of each drawn user's remaining reviews and filtering nothing
    # again, so every user keeps >= user_k reviews while items may fall below item_k. The latter reproduces the
    # shape of the paper's Table 1 (more items than a k-core of the sample allows): the ``NAME@paper`` reading.
    sample_when: SampleWhen = "before_core"
    # The test split (data/split.py): "ratio" (the paper's per-user chronological test_ratio), or the Amazon
    # Reviews 2023 benchmark's "last_out" (each user's latest interaction) and "timestamp" (one global cut at
    # split_cutoffs_ms[1]; validation from split_cutoffs_ms[0]), to compare with work on the official splits.
    split: SplitKind = "ratio"
    split_cutoffs_ms: tuple[int, ...] = OFFICIAL_CUTOFFS_MS  # (validation, test), Unix milliseconds
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"sample_users"})
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"user_k", "item_k", "sample_seed"})
    # Fields added after the first cached datasets: they enter the fingerprint only when not at their default,
    # so the fingerprints that tuned files and runs carry stay valid for the data they describe.
    _LATER: ClassVar[tuple[str, ...]] = ("sample_users", "sample_seed", "split", "split_cutoffs_ms", "sample_when")

    def __post_init__(self):
        super().__post_init__()
        valid, test = (self.split_cutoffs_ms + (None, None))[:2]
        if len(self.split_cutoffs_ms) != 2 or not valid <= test:
            raise SymcereError(f"split_cutoffs_ms must be two times in Unix milliseconds, validation <= test; "
                               f"got {self.split_cutoffs_ms!r}.")
        if self.split != "timestamp" and self.split_cutoffs_ms != OFFICIAL_CUTOFFS_MS:
            raise SymcereError(f"split_cutoffs_ms applies to the timestamp split only, but the split is "
                               f"{self.split}; add --split timestamp or leave out --split-cutoffs.")

    def fingerprint_dict(self) -> dict[str, Any]:
        """``to_dict()`` less the later fields at their defaults: what a dataset's fingerprint hashes."""
        defaults = {f.name: f.default for f in fields(self)}
        return {k: v for k, v in self.to_dict().items() if not (k in self._LATER and v == defaults[k])}


@dataclass(frozen=True)
class LoopConfig(ConfigBase):
    """The training loop every model shares (``train.Trainer``). A model's file may change these
    defaults (``ModelSettings.LOOP``); the values here are LightGCN's."""

    # LightGCN on Musical Instruments peaked at ~30 epochs with lr 0.005 on the validation slice
    # (latest 20% of each user's training history; NDCG@10 0.070 vs 0.068 for lr 0.001 at 150 epochs).
    epochs: int = 30
    batch_size: int = 2048  # training interactions per step (RecBole 1.2.1's train_batch_size)
    lr: float = 0.005  # Adam
    seed: int = 0
    device: str = "auto"  # CUDA when present, else CPU
    patience: int = 0  # > 0: early stopping on the validation slice, checked every eval_every epochs
    eval_every: int = 1
    validation_ratio: float = 0.2  # latest share of each user's TRAINING history used for validation
    eval_ks: tuple[int, ...] = field(default=(10,))
    eval_batch_size: int = 1024  # users scored per evaluation step
    POSITIVE: ClassVar[frozenset[str]] = frozenset({"batch_size", "lr", "eval_every", "eval_batch_size"})
    NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"epochs", "patience"})

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.validation_ratio < 1:
            raise SymcereError(f"validation_ratio must be between 0 and 1; got {self.validation_ratio!r}.")
        if not self.eval_ks or min(self.eval_ks) < 1:
            raise SymcereError(f"eval_ks must be one or more cut-offs >= 1; got {self.eval_ks!r}.")
        if not (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:")):
            raise SymcereError(f"device must be auto, cpu, cuda, cuda:N or mps; got {self.device!r}.")

    def fit_data(self, dataset):
        """What a model trains on: ``dataset``, or its holdout when early stopping needs a validation slice."""
        return dataset.holdout(self.validation_ratio) if self.patience else dataset


@dataclass(frozen=True)
class Range:
    """A numeric search range for tuning: uniform on [low, high] (``log``: log-uniform; ``integer``:
    whole numbers). ``source`` says where the range comes from."""

    low: float
    high: float
    log: bool = False
    integer: bool = False
    source: str = ""


@dataclass(frozen=True)
class Choice:
    """A categorical search dimension; ``source`` says where the values come from."""

    values: tuple
    source: str = ""


@dataclass(frozen=True)
class ModelSettings(ConfigBase):
    """Base of every model's settings. Subclasses (one per model file) add their hyper-parameters,
    each default with a one-line source, and may set:

    * ``LOOP``: the model's defaults for [`LoopConfig`][symcere_kit.config.LoopConfig] fields (e.g. NGCF's 100 epochs);
    * ``SEARCH_SPACE``: ``{name: Range | Choice}`` over its own fields and loop fields, for tuning;
    * ``LEGACY_NAMES``: ``{old flat TrainConfig name: field}`` so run records written before the
      per-model settings keep loading.
    """

    LOOP: ClassVar[dict[str, Any]] = {}
    SEARCH_SPACE: ClassVar[dict[str, Range | Choice]] = {}
    LEGACY_NAMES: ClassVar[dict[str, str]] = {}

    def loop_defaults(self) -> dict[str, Any]:
        """This model's loop defaults; may depend on the settings (SymCERE's text mode)."""
        return dict(self.LOOP)

    def keeps_own_loop(self) -> bool:
        """Whether these settings come with a loop budget of their own that tuned loop settings must not
        replace (SymCERE's LoRA text modes: tuning ran the frozen encoder). False here."""
        return False

    @classmethod
    def search_space(cls) -> dict[str, Range | Choice]:
        """A copy of ``SEARCH_SPACE``: tuning's ``{name: Range | Choice}`` over this model's and the loop's fields.

        Raises:
            SymcereError: ``SEARCH_SPACE`` names a key that is neither a setting nor a loop setting.
        """
        bad = sorted(set(cls.SEARCH_SPACE) - cls.field_names() - LoopConfig.field_names())
        if bad:
            raise SymcereError(f"{cls.__name__}.SEARCH_SPACE names {bad}, which are neither its settings "
                               f"nor loop settings.")
        return dict(cls.SEARCH_SPACE)


@dataclass(frozen=True)
class RunConfig:
    """One run: which model, its loop settings and its own settings (``models.<model>.Settings``).

    Built by the settings resolver
    ([`symcere_kit.run_settings.resolve_run_config`][symcere_kit.run_settings.resolve_run_config]; by model name:
    [`symcere_kit.models.run_config`][symcere_kit.models.run_config]; from a record:
    [`symcere_kit.models.run_config_from_record`][symcere_kit.models.run_config_from_record]). Flat as a dict:
    ``{"model": ..., **loop, **settings}``, the form run records and ``--set KEY=VALUE`` use."""

    model: str
    loop: LoopConfig
    settings: ModelSettings

    def to_dict(self) -> dict[str, Any]:
        """Flat: ``{"model": ..., **loop, **settings}``."""
        return {"model": self.model, **self.loop.to_dict(), **self.settings.to_dict()}

    def replace(self, **changes) -> "RunConfig":
        """A copy with loop or settings fields changed (flat names). The loop keeps its values whatever
        loop defaults the changed settings would give; build anew with the resolver for those."""
        loop_keys, own = LoopConfig.field_names(), self.settings.field_names()
        unknown = sorted(set(changes) - loop_keys - own)
        if unknown:
            raise SymcereError(f"{self.model} has no option(s) {unknown}.")
        return RunConfig(self.model, self.loop.replace(**{k: v for k, v in changes.items() if k in loop_keys}),
                         self.settings.replace(**{k: v for k, v in changes.items() if k in own}))
