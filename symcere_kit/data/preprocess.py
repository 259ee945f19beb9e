"""Clean a tidy review table: dedupe, cross-variant copies, empty-text policy, iterative k-core, id maps.

The steps run in DuckDB, out of core: on keys only (file order, user, item, time, a blank flag and a
128-bit hash of the text), so the texts of reviews that are filtered out are never held; the texts of
the kept reviews are read once at the end. DuckDB spills to disk past ``duck.MEMORY_LIMIT``, so memory
is bounded by the kept dataset, not the raw file. Chosen over Polars by measurement: the same projected
scan of 1 M generated Amazon 2023 reviews, DuckDB faster and at half the peak memory
(``benchmarks/bench_data.py``, table in docs/benchmarks.md).

Each step counts what it removed, so `symcere stats` can report the losses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import DataConfig
from ..errors import EmptyDatasetError
from .duck import connect, sql_path

# Sources known to list one review once per product variant (same user, time and text on several items):
# Amazon 2018 (its 5-cores hold such copies: 811 of Gift Cards' 2,972 reviews). Elsewhere the same
# (user, day, text) on several items can be a user writing the same words about several products
# ("Great product." on three items one day), so the rule is not applied there.
CROSS_VARIANT_FORMATS = frozenset({"amazon2018_json"})


@dataclass
class Preprocessed:
    """Interactions with contiguous ids; ``order`` keeps the file order for tie-breaking in time."""

    frame: pd.DataFrame  # columns: user, item (int ids), rating, text, timestamp, order; in file order
    user_ids: np.ndarray  # index -> original user id (sorted strings)
    item_ids: np.ndarray  # index -> original item id
    losses: dict[str, int] = field(default_factory=dict)
    kept_copies: int = 0  # same (user, time, text) rows kept because the source has no such artefact


def blank_text(text: pd.Series) -> pd.Series:
    """True where a review has no text (Python's whitespace, as ``str.strip`` sees it)."""
    return text.str.strip().eq("")


def k_core(df: pd.DataFrame, user_k: int, item_k: int) -> pd.DataFrame:
    """Rows of ``df`` (columns user, item, any others) left after the iterative k-core: drop users with
    < user_k and items with < item_k interactions until both hold (the maximal such subgraph)."""
    with connect() as con:
        con.register("df", df.assign(_row=np.arange(len(df), dtype=np.int64))[["_row", "user", "item"]])
        con.execute('CREATE TEMP TABLE cur AS SELECT _row AS ord, "user", item FROM df')
        _k_core(con, user_k, item_k)
        kept = con.execute("SELECT ord FROM cur ORDER BY ord").fetchnumpy()["ord"]
    return df.iloc[kept]


def _k_core(con, user_k: int, item_k: int) -> None:
    """Shrink TEMP TABLE ``cur`` (ord, user, item) to its k-core in place."""
    n = _count(con)
    while True:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE cur AS SELECT ord, "user", item FROM cur
                        QUALIFY count(*) OVER (PARTITION BY "user") >= {int(user_k)}
                            AND count(*) OVER (PARTITION BY item) >= {int(item_k)}""")
        left = _count(con)
        if left == n:
            return
        n = left


def preprocess(raw: pd.DataFrame | str | Path, config: DataConfig, source: str = "input",
               n_skipped: int = 0, cross_variant_artefacts: bool = True) -> Preprocessed:
    """Run the cleaning steps in a fixed order and map ids to 0..n-1 (sorted, so file-order free).

    ``raw``: a tidy review frame (columns user, item, rating, text, title, timestamp; file order) or a
    Parquet file of the same columns plus ``blank`` (``blank_text``), rows in file order, as
    ``readers.spool_reviews`` writes. ``n_skipped``: records the reader skipped, named when nothing is left.
    ``cross_variant_artefacts``: whether the source is known to copy one review onto each product variant
    (``CROSS_VARIANT_FORMATS``; in-memory frames are treated as such); only then does ``drop_cross_variant``
    drop such copies, and otherwise ``kept_copies`` counts the rows it would have dropped.
    Raises ``EmptyDatasetError`` when no review survives.
    """
    kept_copies = 0
    with connect() as con:
        if isinstance(raw, pd.DataFrame):
            table = raw.assign(order=np.arange(len(raw), dtype=np.int64), blank=blank_text(raw["text"]))
            con.register("src", table)
        else:
            # a spool holds its rows in file order: the Parquet row number is the file position
            con.execute(f"""CREATE VIEW src AS SELECT * EXCLUDE (file_row_number), file_row_number AS "order"
                            FROM read_parquet('{sql_path(raw)}', file_row_number=true)""")
        losses = {"raw_reviews": con.execute("SELECT count(*) FROM src").fetchone()[0]}
        # Keys only: the text enters as a hash for the cross-variant rule (null where blank: never a copy).
        con.execute('''CREATE TEMP TABLE cur AS SELECT "order" AS ord, "user", item, "timestamp", blank,
                       CASE WHEN blank THEN NULL ELSE md5_number(text) END AS tkey FROM src''')
        sample_first = config.sample_users is not None and config.sample_when == "before_core"
        if sample_first:  # before every other step (config.py)
            losses["reviews_of_unsampled_users"] = _sample_users(con, config)
        if config.dedupe_pairs:  # the earliest review of each (user, item); file order breaks ties in time
            losses["duplicate_pairs"] = _shrink(con, 'QUALIFY row_number() OVER (PARTITION BY "user", item '
                                                     'ORDER BY "timestamp", ord) = 1')
        copies = 'QUALIFY tkey IS NULL OR row_number() OVER (PARTITION BY "user", "timestamp", tkey ORDER BY ord) = 1'
        if config.drop_cross_variant and cross_variant_artefacts:
            # Amazon 2018 lists one review once per product variant: same user, time and text on several
            # items. Keep the first in file order, otherwise the same text lands in train and test.
            losses["cross_variant_copies"] = _shrink(con, copies)
        elif config.drop_cross_variant:  # elsewhere such rows are genuine reviews (one text, same day): kept
            losses["cross_variant_copies"] = 0
            kept_copies = _count(con) - con.execute(f"SELECT count(*) FROM (SELECT * FROM cur {copies})").fetchone()[0]
        if config.empty_text not in ("keep", "drop", "title"):
            raise ValueError(f"empty_text must be 'keep', 'drop' or 'title', not {config.empty_text!r}")
        losses["empty_text_dropped"] = _shrink(con, "WHERE NOT blank") if config.empty_text == "drop" else 0
        n = _count(con)
        _k_core(con, config.user_k, config.item_k)
        losses["k_core"] = n - _count(con)
        if n == losses["k_core"]:
            raise EmptyDatasetError(_nothing_left(source, losses, config, n_skipped))
        if config.sample_users is not None and not sample_first:  # Table 1's shape: no filtering after it
            losses["reviews_of_unsampled_users"] = _sample_users(con, config)
        text = "CASE WHEN s.blank THEN s.title ELSE s.text END" if config.empty_text == "title" else "s.text"
        df = con.execute(f'''SELECT s."user", s.item, s.rating, {text} AS text, s."timestamp", s."order"
                             FROM src s SEMI JOIN cur ON s."order" = cur.ord ORDER BY s."order"''').fetchdf()
    user_idx, user_ids = pd.factorize(df["user"], sort=True)
    item_idx, item_ids = pd.factorize(df["item"], sort=True)
    frame = pd.DataFrame(
        {
            "user": user_idx.astype(np.int64),
            "item": item_idx.astype(np.int64),
            "rating": df["rating"].to_numpy(np.float32),
            "text": df["text"].to_numpy(object),
            "timestamp": df["timestamp"].to_numpy(np.int64),
            "order": df["order"].to_numpy(np.int64),
        }
    )
    return Preprocessed(frame, np.asarray(user_ids, dtype=object), np.asarray(item_ids, dtype=object), losses,
                        kept_copies)


def _sample_users(con, config: DataConfig) -> int:
    """Keep the reviews of ``config.sample_users`` users of TEMP TABLE ``cur``, drawn order-free and seeded: the
    lowest md5 of ``"<sample_seed>:<user id>"`` (all users when there are fewer); returns the reviews dropped."""
    return _shrink(
        con,
        f"""WHERE "user" IN (SELECT "user" FROM (SELECT DISTINCT "user"
        FROM cur) ORDER BY md5_number(concat('{int(config.sample_seed)}:', "user")), "user"
        LIMIT {int(config.sample_users)})""",
    )


def _count(con) -> int:
    """Rows in TEMP TABLE ``cur``."""
    return con.execute("SELECT count(*) FROM cur").fetchone()[0]


def _shrink(con, clause: str) -> int:
    """Filter TEMP TABLE ``cur`` by ``clause``; the number of rows removed."""
    n = _count(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE cur AS SELECT * FROM cur {clause}")
    return n - _count(con)


def _nothing_left(source: str, losses: dict[str, int], config: DataConfig, n_skipped: int) -> str:
    skipped = f" ({n_skipped:,} records skipped as malformed before that)" if n_skipped else ""
    if not losses["raw_reviews"]:
        return (f"Nothing is left of {source}: it holds no review records{skipped or ' (a header only?)'}. "
                "Check that it is the file you meant.")
    sampled = (f"{losses['reviews_of_unsampled_users']:,} reviews of users outside the sample of "
               f"{config.sample_users:,}, " if "reviews_of_unsampled_users" in losses else "")
    return (f"Nothing is left of {source} after preprocessing: {losses['raw_reviews']:,} reviews in{skipped}, "
            f"{sampled}"
            f"{losses.get('duplicate_pairs', 0):,} duplicate pairs, "
            f"{losses.get('cross_variant_copies', 0):,} cross-variant copies, "
            f"{losses['empty_text_dropped']:,} empty texts and {losses['k_core']:,} k-core removals "
            f"(user_k={config.user_k}, item_k={config.item_k}). Lower the k-core thresholds "
            f"(--user-k/--item-k), {'sample more users (--sample-users), ' if sampled else ''}or use a larger file.")
