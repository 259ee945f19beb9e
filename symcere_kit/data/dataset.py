"""ReviewDataset: what every model trains on, built once per (file, config) and cached on disk.

Only training interactions carry review texts: test reviews do not exist at recommendation
time, so a model cannot see them even by accident. The cache (Parquet under
``data/processed/``) is keyed by the input file's checksum and the preprocessing config, and
written atomically.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
import torch

from ..config import DataConfig
from ..errors import EmptyDatasetError, SymcereError
from ..files import atomic_path, sha256_file, stable_hash
from ..graph.adjacency import normalized_bipartite_adjacency
from ..paths import cache_dir
from ..protocols import repeats_exclude, warn_leaky
from .preprocess import CROSS_VARIANT_FORMATS, preprocess
from .readers import detect_format, spool_reviews
from .readings import reading_changes, split_reading
from .registry import resolve
from .split import check_no_leakage, split_mask
from .stats import compute_stats, utc_day

# The cached table's layout (2: times in milliseconds), in the cache file's name; FINGERPRINT_VERSION goes into
# the fingerprint, which tuned files and runs carry, and changes only when the data models see changes.
CACHE_VERSION = 2
FINGERPRINT_VERSION = 1
# Formats whose reading changed what models see after the first fingerprints: times kept in milliseconds
# (Amazon 2023: ties within a second were file order) and generic CSV dates read with one format per column.
_READ_ANEW = {"amazon2023_json", "amazon2023_csv", "amazon2023_ratings_csv", "generic_csv"}
_META_KEY = b"symcere"


@dataclass
class ReviewDataset:
    """One preprocessed, split dataset: training interactions with their review texts, test interactions
    without, and the original user and item ids of the dense indices (``user_ids[u]``, ``item_ids[i]``).

    Built by [`load_dataset`][symcere_kit.data.dataset.load_dataset] or
    [`dataset_from_reviews`][symcere_kit.data.dataset.dataset_from_reviews].
    """

    name: str
    train: pd.DataFrame  # user, item, rating, timestamp, order, text; sorted by (user, timestamp, order)
    test: pd.DataFrame  # user, item, rating, timestamp (no text)
    user_ids: np.ndarray
    item_ids: np.ndarray
    meta: dict = field(default_factory=dict)  # source, format, has_text, config, fingerprint, stats

    @property
    def n_users(self) -> int:
        """Number of users (dense indices 0..n_users-1)."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of items (dense indices 0..n_items-1)."""
        return len(self.item_ids)

    @property
    def fingerprint(self) -> str:
        """The hash identifying this data (its input and preprocessing config) that runs record; "" when unknown."""
        return self.meta.get("fingerprint", "")

    @property
    def tuning_fingerprint(self) -> str:
        """The fingerprint tuned settings must carry: a reading's (``NAME@repeats``) is its base dataset's."""
        return self.meta.get("base_fingerprint") or self.fingerprint

    @property
    def repeats_kept(self) -> bool:
        """Whether repeated (user, item) pairs were kept (the leaky ``repeats`` reading): a pair may then be in training
        and in test, and evaluation uses RecBole's mask ``train - test``
        ([`rank_exclude`][symcere_kit.data.dataset.ReviewDataset.rank_exclude])."""
        return not (self.meta.get("config") or {}).get("dedupe_pairs", True)

    @cached_property
    def rank_exclude(self) -> sp.csr_matrix | None:
        """What evaluation excludes instead of the training items: ``train - test`` when repeats are kept,
        else None (all-ranking's own mask, the training items)."""
        if not self.repeats_kept:
            return None

        return repeats_exclude(self.train_csr, self.test_csr)

    @property
    def stats(self) -> dict:
        """The statistics computed at preprocessing (``data.stats.compute_stats``: counts, density, split sizes)."""
        return self.meta.get("stats", {})

    @property
    def has_text(self) -> bool:
        """False when read from a ratings-only file (every text ""); older caches lack the key: they have text."""
        return self.meta.get("has_text", True)

    @property
    def train_texts(self) -> list[str]:
        """The training reviews' texts, in ``train`` row order: where every text model gets them, so a
        ratings-only dataset is refused here (SymcereError) before any encoder loads."""
        if not self.has_text:
            source = self.meta.get("source", self.name)
            raise SymcereError(
                f"Dataset {self.name} ({source}) has no review text: it was read as ratings only "
                f"({self.meta.get('format', 'no text column')}), and this model needs review text to encode. "
                "Train a text-free model on it (e.g. lightgcn, ngcf, sgl, ease, mostpop), or use a file with "
                "review texts (for a generic CSV, name the text column with --columns ...,text=COL).")
        return self.train["text"].tolist()

    def _csr(self, frame: pd.DataFrame) -> sp.csr_matrix:
        """0/1 interactions: a pair repeated (the ``repeats`` reading) counts once, as RecBole's graph does."""
        ones = np.ones(len(frame), dtype=np.float32)
        m = sp.csr_matrix((ones, (frame["user"], frame["item"])), shape=(self.n_users, self.n_items))
        m.data[:] = 1.0
        return m

    @cached_property
    def train_csr(self) -> sp.csr_matrix:
        """Training interactions as a 0/1 CSR matrix of shape [n_users, n_items]."""
        return self._csr(self.train)

    @cached_property
    def test_csr(self) -> sp.csr_matrix:
        """Test interactions as a 0/1 CSR matrix of shape [n_users, n_items]."""
        return self._csr(self.test)

    @cached_property
    def item_degree(self) -> np.ndarray:
        """Training interactions per item (popularity)."""
        return np.bincount(self.train["item"], minlength=self.n_items)

    @cached_property
    def _train_keys(self) -> torch.Tensor:
        keys = self.train["user"].to_numpy() * self.n_items + self.train["item"].to_numpy()
        return torch.from_numpy(np.sort(keys))

    def is_train_pair(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Elementwise: was (user, item) a TRAINING interaction? Broadcasts; for the false-negative
        mask and negative sampling. Test interactions are never known here."""
        keys = (users.long() * self.n_items + items.long()).cpu()
        table = self._train_keys
        pos = torch.searchsorted(table, keys).clamp_max(len(table) - 1)
        return (table[pos] == keys).to(users.device)

    def holdout(self, ratio: float = 0.2) -> "ReviewDataset":
        """A validation view: the latest ``ratio`` of each user's TRAINING history becomes its test
        part. For model selection; the real test split is not in it."""
        cache = self.__dict__.setdefault("_holdout_cache", {})  # tuning builds it once for all trials
        if ratio not in cache:
            cache[ratio] = self._holdout(ratio)
        return cache[ratio]

    def _holdout(self, ratio: float) -> "ReviewDataset":
        config = DataConfig.from_dict(self.meta.get("config") or {})
        # the validation slice of the dataset's own split: ratio's latest share, last_out's second-latest
        # interaction, timestamp's interactions from the validation cutoff on (ratio is then unused)
        is_val = split_mask(self.train, config.split, ratio, config.split_cutoffs_ms[0])
        _check_cut(is_val, self.train, config, self.meta.get("source", self.name), "validation")
        val = self.train.loc[is_val, ["user", "item", "rating", "timestamp"]].reset_index(drop=True)
        meta = {**self.meta, "fingerprint": f"{self.fingerprint}-holdout{ratio}", "holdout_of": self.name}
        return ReviewDataset(f"{self.name}-holdout", self.train[~is_val].reset_index(drop=True), val,
                             self.user_ids, self.item_ids, meta)

    def norm_adjacency(self, device: str | torch.device = "cpu") -> torch.Tensor:
        """D^-1/2 A D^-1/2 of the (users+items) bipartite training graph as a torch sparse CSR."""
        key = str(device)
        cache = self.__dict__.setdefault("_adj_cache", {})
        if key not in cache:

            cache[key] = normalized_bipartite_adjacency(self.train_csr).to(device)
        return cache[key]


def _check_cut(mask: np.ndarray, frame: pd.DataFrame, config: DataConfig, source: str, part: str) -> None:
    """The timestamp split's global cut must leave both sides of ``mask`` (the ``part``: test or validation)
    non-empty; a cut outside the data's time range is refused with that range. (The per-user splits always
    leave a test part.)"""
    if config.split != "timestamp" or mask.any() and not mask.all():
        return
    side = f"no {part} interaction" if not mask.any() else "no training interaction"
    raise EmptyDatasetError(
        f"The timestamp split of {source} leaves {side} (cutoffs {config.split_cutoffs_ms[0]} / "
        f"{config.split_cutoffs_ms[1]} ms): its interactions run from {utc_day(frame['timestamp'].min())} to "
        f"{utc_day(frame['timestamp'].max())}. Use cutoffs inside that range (--split-cutoffs VALID_MS TEST_MS) "
        f"or another split (--split ratio|last_out).")


def _process(raw: pd.DataFrame | Path, config: DataConfig, source: str, n_skipped: int = 0,
             cross_variant_artefacts: bool = True) -> tuple[pd.DataFrame, dict]:
    """Preprocess, split and check a tidy review frame or spool file (``preprocess``); the frame keeps test
    texts for stats only."""
    pre = preprocess(raw, config, source=source, n_skipped=n_skipped, cross_variant_artefacts=cross_variant_artefacts)
    is_test = split_mask(pre.frame, config.split, config.test_ratio, config.split_cutoffs_ms[1])
    _check_cut(is_test, pre.frame, config, source, "test")
    frame = pre.frame.assign(
        is_test=is_test,
        user_id=pre.user_ids[pre.frame["user"].to_numpy()],
        item_id=pre.item_ids[pre.frame["item"].to_numpy()],
    )
    check_no_leakage(frame[~is_test], frame[is_test], source=source, copies_leak=cross_variant_artefacts,
                     pairs_leak=config.dedupe_pairs)
    return frame, {"stats": compute_stats(pre.frame, is_test, pre.losses), "kept_copies": pre.kept_copies,
                   "config": json.loads(json.dumps(config.to_dict()))}  # as the cache gives it back


def dataset_from_reviews(raw: pd.DataFrame, config: DataConfig | None = None, name: str = "reviews") -> ReviewDataset:
    """Build a dataset from an in-memory tidy review frame (generated data, notebooks, tests)."""
    config = config or DataConfig()
    _warn_if_repeats(config, name)
    frame, meta = _process(raw, config, source=name)
    meta["fingerprint"] = stable_hash(
        {"frame": pd.util.hash_pandas_object(raw).sum(), "config": config.fingerprint_dict()}
    )
    return _from_frame(name, frame, meta)


def load_dataset(
    name_or_path: str | os.PathLike,
    config: DataConfig | None = None,
    fmt: str | None = None,
    column_map: dict[str, str] | None = None,
    progress: bool = True,
    use_cache: bool = True,
    date_format: str | None = None,
    reader: str = "auto",
) -> ReviewDataset:
    """Read, clean, split and cache a dataset given by registry name or file path.

    ``fmt``, ``column_map`` and ``date_format`` go to ``readers.read_reviews``; ``reader`` is
    ``readers.spool_reviews``'s ``engine`` (the same data either way: benchmarks compare them). Raises
    DataFormatError for unreadable input and EmptyDatasetError when preprocessing leaves nothing."""
    config = config or DataConfig()
    base, reading = split_reading(name_or_path)
    if reading:
        args = dict(fmt=fmt, column_map=column_map, progress=progress, use_cache=use_cache, date_format=date_format,
                    reader=reader)
        ds = load_dataset(base, config.replace(**reading_changes(base, reading)), **args)
        try:  # the honest data's fingerprint: what the base dataset's tuned files carry
            honest = load_dataset(base, config, **args).fingerprint
        except EmptyDatasetError:  # nothing is left of the honest reading, so nothing was tuned on it
            honest = None
        ds.name = f"{ds.name}@{reading}"
        ds.meta.update(reading=reading, base_fingerprint=honest)
        return ds
    _warn_if_repeats(config, str(name_or_path))
    name, path, entry = resolve(name_or_path)
    file_hash = sha256_file(path)
    key = {
        "file": file_hash,
        "config": config.fingerprint_dict(),
        "fmt": fmt,
        "columns": column_map,
        "v": FINGERPRINT_VERSION,
    }
    # Reader options added later enter the key only when set, so existing caches keep their fingerprints.
    key.update({k: v for k, v in {"date_format": date_format}.items() if v is not None})
    if (fmt or detect_format(path, column_map)) in _READ_ANEW:
        key["read"] = 2
    # The cache is found by this key; the dataset's fingerprint is the same hash unless the data turns out to
    # differ from what the same key gave before (cross-variant rows now kept, below).
    fingerprint = stable_hash(key)
    cached = cache_dir() / f"{name}-{fingerprint}-c{CACHE_VERSION}.parquet"
    if use_cache and cached.is_file():
        table = pq.read_table(cached)
        frame = table.to_pandas()
        meta = json.loads(table.schema.metadata[_META_KEY])
    else:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        # The raw rows go to disk as they are read (DuckDB's own JSON scan where it reads the file exactly as the
        # Python reader, readers/native.py) and DuckDB preprocesses them there (preprocess.py): memory follows the
        # kept dataset, not the file.
        with tempfile.TemporaryDirectory(dir=folder, prefix=".spool-") as tmp:
            raw = spool_reviews(path, Path(tmp) / "raw.parquet", fmt=fmt, column_map=column_map,
                                skip_bad_records=config.skip_bad_records, progress=progress, date_format=date_format,
                                engine=reader)
            if not raw.has_text and config.empty_text != "keep":
                raise EmptyDatasetError(
                    f"{path} is read as ratings only ({raw.format}: no review text), so --empty-text "
                    f"{config.empty_text} would "
                    f"{'remove every review' if config.empty_text == 'drop' else 'find no titles'}. "
                    "Leave --empty-text at keep, or name the text column (--columns ...,text=COL)."
                )
            frame, meta = _process(raw.spool, config, source=str(path), n_skipped=raw.n_skipped,
                                   cross_variant_artefacts=raw.format in CROSS_VARIANT_FORMATS)
        if meta["kept_copies"]:  # rows the cross-variant rule dropped before it kept to its sources: other data
            fingerprint = stable_hash({"key": fingerprint, "kept_copies": meta["kept_copies"]})
        meta.update(source=str(path), format=raw.format, reader=raw.engine, has_text=raw.has_text,
                    skipped_records=raw.n_skipped,
                    skipped_examples=raw.skipped_examples, file_sha256=file_hash, fingerprint=fingerprint,
                    paper_counts=entry.paper_counts if entry else None)
        if use_cache:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta)})
            with atomic_path(cached) as tmp:
                pq.write_table(table, tmp)
    return _from_frame(name, frame, meta)


def _warn_if_repeats(config: DataConfig, source: str) -> None:
    if not config.dedupe_pairs:

        warn_leaky("repeats", source)


def _from_frame(name: str, frame: pd.DataFrame, meta: dict) -> ReviewDataset:
    users = frame.drop_duplicates("user").sort_values("user")
    items = frame.drop_duplicates("item").sort_values("item")
    ordered = frame.sort_values(["user", "timestamp", "order"], kind="stable")
    train_cols = ["user", "item", "rating", "timestamp", "order", "text"]
    train = ordered.loc[~ordered["is_test"], train_cols].reset_index(drop=True)
    test = ordered.loc[ordered["is_test"], ["user", "item", "rating", "timestamp"]].reset_index(drop=True)
    return ReviewDataset(
        name=name,
        train=train,
        test=test,
        user_ids=users["user_id"].to_numpy(object),
        item_ids=items["item_id"].to_numpy(object),
        meta=meta,
    )
