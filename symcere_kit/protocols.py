"""Evaluation protocols beside all-ranking: what other papers may have measured, on the same trained runs.

Names ([`parse_protocol`][symcere_kit.protocols.parse_protocol]):

* ``full`` (the default; what our tables report): rank every item the user did not train on
  (``evaluate.evaluate`` unchanged).
* ``uni<N>`` / ``pop<N>``: sampled ranking with RecBole 1.2.1's semantics (``eval_args.mode: uni100``):
  for each test interaction of a user, N negatives drawn with replacement from the items the user never
  interacted with (neither in training nor in test), uniformly (``uni``) or with probability proportional
  to the item's popularity (``pop``); the user's test items and the distinct negatives are ranked together
  and scored with the same HR@K / NDCG@K as ``full``.
* ``repeats`` (leaky, opt-in): the data reading that keeps repeated (user, item) pairs (RecBole's default
  ``rm_dup_inter: None``) with RecBole's full-sort mask ``train - test``: a test item the user also has in training
  stays rankable, and the model's memory of that training pair ranks it near the top. It changes the split, so it trains
  its own runs (dataset name ``NAME@repeats``, [`symcere_kit.data.readings`][symcere_kit.data.readings]).
* ``test-epoch`` (leaky, opt-in): the epoch picked by early stopping on the test split itself (the problem
  of MMRec issue #64), reported beside the honest, validation-selected run
  ([`symcere_kit.runs.test_epoch`][symcere_kit.runs.test_epoch]); it trains its own runs.

How ``uni<N>`` / ``pop<N>`` match RecBole 1.2.1 (``recbole/data/dataloader/general_dataloader.py``
``NegSampleEvalDataLoader``, ``recbole/sampler/sampler.py`` ``Sampler``, ``recbole/trainer/trainer.py``
``Trainer._neg_sample_batch_eval``):

* Same: N draws per test interaction (``sample_num`` x the user's test interactions, one call per user);
  draws with replacement, a draw that hits an item of the user's training or test interactions redrawn
  (RecBole's ``used_ids`` of the test phase: train, valid and test; we have no separate validation part);
  uniform over the whole catalogue; ``pop`` proportional to counts^alpha with alpha 1, items never counted
  never drawn; duplicates among the negatives collapse into one candidate (RecBole writes them into one
  cell of a ``-inf`` score matrix); every test item of the user in the same list; the metric formulas.
* Different: popularity counts the TRAINING interactions only (RecBole counts the interactions of every
  phase, test included, which lets test data shape the negatives); the random stream is our own
  (``numpy.random.Generator(PCG64(seed))``, drawn for all users at once before any batch, so the candidates
  are the same for every model, batch size and device; RecBole redraws from NumPy's global state on every
  evaluation); ties in score are broken by lower item index (RecBole's ``torch.topk`` order is
  unspecified); a user who has interacted with every item that can be drawn is an error (RecBole raises for
  the uniform case and loops forever for ``pop``); after 64 rounds of redrawing, the positions still
  rejected are drawn directly from the distribution restricted to the user's allowed items, which is the
  distribution rejection converges to.

What a protocol gives by chance ([`random_ranker`][symcere_kit.protocols.random_ranker]): the expected metrics of a
ranker that orders each user's candidates uniformly at random, exact (hypergeometric closed form over each user's
candidate count, given the protocol's candidate sets), averaged over users like the metrics.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import SymcereError
from .evaluate import canonical_csr, evaluate

SAMPLED = re.compile(r"^(uni|pop)(\d+)$")
LEAKY = ("repeats", "test-epoch")
MAX_REDRAW_ROUNDS = 64
DEFAULT_PROTOCOLS = ("full", "uni100", "pop100")  # what `symcere evaluate` re-scores by default


class LeakyProtocolWarning(UserWarning):
    """A leaky protocol was asked for: its numbers reproduce a flawed evaluation, never a result."""


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol (module docstring). ``kind``: full | sampled | repeats | test-epoch."""

    name: str
    kind: str
    n_negatives: int = 0
    distribution: str = ""  # sampled only: uniform | popularity

    @property
    def leaky(self) -> bool:
        """Whether it reproduces a flawed evaluation (``repeats``, ``test-epoch``)."""
        return self.kind in LEAKY

    @property
    def rescores(self) -> bool:
        """Whether stored runs can be scored under it without retraining (the leaky ones train their own)."""
        return self.kind in ("full", "sampled")

    def describe(self) -> str:
        """One line for tables and docs."""
        if self.kind == "full":
            return "all-ranking: every item the user did not train on"
        if self.kind == "sampled":
            how = "uniformly" if self.distribution == "uniform" else "by training popularity"
            return (f"each test item with {self.n_negatives} negatives per test interaction drawn {how} "
                    f"(RecBole {self.name})")
        if self.kind == "repeats":
            return "LEAKY: repeated (user, item) pairs kept, RecBole's full-sort mask train - test"
        return "LEAKY: training stopped at the epoch that is best on the test split"


def parse_protocol(name: str) -> Protocol:
    """``full``, ``uni<N>``, ``pop<N>`` (N >= 1), ``repeats`` or ``test-epoch``; anything else is an error."""
    if isinstance(name, Protocol):
        return name
    key = str(name).strip().lower()
    if key == "full":
        return Protocol("full", "full")
    if key in LEAKY:
        return Protocol(key, key)
    m = SAMPLED.match(key)
    if m and int(m.group(2)) >= 1:
        return Protocol(key, "sampled", int(m.group(2)), "uniform" if m.group(1) == "uni" else "popularity")
    raise SymcereError(f"Unknown evaluation protocol {name!r}; choose full, uni<N> or pop<N> (e.g. uni100, pop100), "
                       f"or a leaky reading: {', '.join(LEAKY)}.")


_WARNED: set[tuple[str, str]] = set()  # (protocol, where) said already in this process


def warn_leaky(protocol: Protocol | str, where: str = "") -> None:
    """Say that a leaky protocol reproduces a flawed evaluation: once per process for each (protocol, where),
    so a grid that loads its dataset for every run says it once."""
    protocol = parse_protocol(protocol)
    if protocol.leaky and (protocol.name, where) not in _WARNED:
        _WARNED.add((protocol.name, where))
        warnings.warn(
            f"{where + ': ' if where else ''}the {protocol.name!r} protocol reproduces a FLAWED evaluation "
            f"({protocol.describe().removeprefix('LEAKY: ')}), to explain other papers' numbers; "
            "never report it as a result.",
            LeakyProtocolWarning,
            stacklevel=3,
        )


def repeats_exclude(train: sp.spmatrix, test: sp.spmatrix) -> sp.csr_matrix:
    """RecBole's full-sort mask ``used - positive``: each user's training items less its test items."""
    train, test = canonical_csr(train, binary=True), canonical_csr(test, binary=True)
    return canonical_csr(train - train.multiply(test), binary=True)


def sample_candidates(train: sp.spmatrix, test: sp.spmatrix, protocol: Protocol | str, seed: int = 0,
                      popularity: np.ndarray | None = None) -> sp.csr_matrix:
    """The candidate set of a sampled protocol: ``(n_users, n_items)`` 0/1 CSR holding each test user's test
    items and its distinct sampled negatives (module docstring for the sampling rules).

    ``test`` values count test interactions (a repeated test pair draws twice the negatives, as in RecBole);
    ``popularity`` [n_items] (``pop`` only; default the training interaction counts). Raises SymcereError
    for a non-sampled protocol or a user with no item left to draw."""
    protocol = parse_protocol(protocol)
    if protocol.kind != "sampled":
        raise SymcereError(f"{protocol.name} is not a sampled protocol; sampled ones are uni<N> and pop<N>.")
    train, test = sp.csr_matrix(train), sp.csr_matrix(test)
    train.sum_duplicates()
    test.sum_duplicates()
    n_users, n_items = test.shape
    if popularity is None:
        popularity = np.asarray(train.sum(axis=0)).ravel()
    weights = _weights(protocol, np.asarray(popularity, dtype=np.float64), n_items)
    used = canonical_csr(train + test, binary=True)
    draws_per_user = np.asarray(test.sum(axis=1)).ravel().astype(np.int64) * protocol.n_negatives
    _check_room(used, weights, draws_per_user > 0, protocol)
    users = np.repeat(np.arange(n_users, dtype=np.int64), draws_per_user)
    rng = np.random.Generator(np.random.PCG64(seed))
    cdf = None if protocol.distribution == "uniform" else np.cumsum(weights)
    items = _draw(rng, cdf, len(users), n_items)
    used_keys = _keys(used)  # ascending: rows in order, each row's indices sorted
    todo = np.flatnonzero(_in_sorted(used_keys, users * n_items + items))
    for _ in range(MAX_REDRAW_ROUNDS):
        if not todo.size:
            break
        items[todo] = _draw(rng, cdf, todo.size, n_items)
        todo = todo[_in_sorted(used_keys, users[todo] * n_items + items[todo])]
    for u in np.unique(users[todo]):  # rare: a user with little left to draw from
        at = todo[users[todo] == u]
        allowed = weights.copy()
        allowed[used.indices[used.indptr[u]:used.indptr[u + 1]]] = 0.0
        items[at] = _draw(rng, np.cumsum(allowed), at.size, n_items)
    negatives = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=test.shape)
    return canonical_csr(negatives + canonical_csr(test, binary=True), binary=True)


def _weights(protocol: Protocol, popularity: np.ndarray, n_items: int) -> np.ndarray:
    if protocol.distribution == "uniform":
        return np.ones(n_items)
    if popularity.shape != (n_items,) or (popularity < 0).any():
        raise SymcereError(f"popularity must be {n_items} non-negative counts, one per item.")
    return popularity


def _keys(m: sp.csr_matrix) -> np.ndarray:
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return rows * m.shape[1] + m.indices.astype(np.int64)


def _draw(rng: np.random.Generator, cdf: np.ndarray | None, size: int, n_items: int) -> np.ndarray:
    """``size`` items drawn with probability proportional to the weights whose running sum is ``cdf``; None:
    uniform, floor(u * n), which is what the search in ``cdf = 1, 2, ..., n`` returns, without the search."""
    u = rng.random(size)
    if cdf is None:
        return np.floor(u * n_items).astype(np.int64).clip(max=n_items - 1)
    return np.searchsorted(cdf, u * cdf[-1], side="right").clip(max=len(cdf) - 1)


def _in_sorted(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``np.isin(query, keys)`` for ascending unique ``keys``, by binary search (no sort of the query)."""
    if not keys.size:
        return np.zeros(query.shape, dtype=bool)
    at = np.searchsorted(keys, query).clip(max=keys.size - 1)
    return keys[at] == query


def _check_room(used: sp.csr_matrix, weights: np.ndarray, needs: np.ndarray, protocol: Protocol) -> None:
    """Refuse a user who needs negatives but has interacted with every item that can be drawn."""
    left = weights.sum() - used @ weights
    stuck = np.flatnonzero(needs & (left <= 0))
    if stuck.size:
        raise SymcereError(
            f"{stuck.size} user(s) (e.g. user {stuck[0]}) have interacted with every item {protocol.name} "
            f"can draw, so no negative is left for them; drop such users (a higher item k-core) or "
            f"evaluate with full."
        )


def candidate_counts(train: sp.spmatrix, test: sp.spmatrix, protocol: Protocol | str,
                     candidates: sp.spmatrix | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(C, m) per test user: how many items the protocol ranks and how many of them are test items. ``candidates``: a
    sampled protocol's candidate set ([`sample_candidates`][symcere_kit.protocols.sample_candidates])."""
    protocol = parse_protocol(protocol)
    train, test = canonical_csr(train, binary=True), canonical_csr(test, binary=True)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    m = np.diff(test.indptr)[users]
    if protocol.kind == "sampled":
        if candidates is None:
            raise SymcereError(f"{protocol.name} needs its candidate set (sample_candidates).")
        c = np.diff(canonical_csr(candidates, binary=True).indptr)[users]
    else:
        exclude = repeats_exclude(train, test) if protocol.kind == "repeats" else train
        c = test.shape[1] - np.diff(exclude.indptr)[users]
    return c.astype(np.int64), m.astype(np.int64)


def random_ranker(counts: tuple[np.ndarray, np.ndarray], ks=(10,)) -> dict[str, float]:
    """Exact expected HR@K, NDCG@K, Recall@K and Precision@K of a uniformly random order of each user's candidates,
    averaged over users; ``counts`` = (C, m) from [`candidate_counts`][symcere_kit.protocols.candidate_counts].

    A random order puts a test item at each of the first min(K, C) positions with probability m/C, so
    E[DCG@K] = (m/C) sum_{r < min(K, C)} 1/log2(r + 2) (IDCG as in ``evaluate``), and
    P(no hit in the top K) = C(C - m, k) / C(C, k) with k = min(K, C) (hypergeometric), a product of k ratios."""
    c, m = (np.asarray(a, dtype=np.int64) for a in counts)
    if c.size == 0 or (m < 1).any() or (c < m).any():
        raise SymcereError("random_ranker needs, per user, C candidates holding m >= 1 test items, C >= m.")
    out: dict[str, float] = {}
    for k in sorted({int(k) for k in ks}):
        kk = np.minimum(k, c)
        discount = 1.0 / np.log2(np.arange(k) + 2.0)
        cum = np.concatenate([[0.0], np.cumsum(discount)])
        j = np.arange(k)[None, :]
        ratios = np.where(j < kk[:, None], (c[:, None] - m[:, None] - j) / (c[:, None] - j).clip(min=1), 1.0)
        miss = np.prod(ratios.clip(min=0.0), axis=1)
        out[f"hr@{k}"] = float(np.mean(1.0 - miss))
        out[f"ndcg@{k}"] = float(np.mean(m / c * cum[kk] / cum[np.minimum(m, k)]))
        out[f"recall@{k}"] = float(np.mean(kk / c))
        out[f"precision@{k}"] = float(np.mean(m * kk / c / k))
    return out


def chance_table(train: sp.spmatrix, test: sp.spmatrix, protocols, ks=(10,), seed: int = 0,
                 popularity: np.ndarray | None = None) -> pd.DataFrame:
    """protocol, metric, value: the random ranker's expectation under each protocol (test-epoch: full's)."""
    rows = []
    for p in map(parse_protocol, protocols):
        cands = sample_candidates(train, test, p, seed, popularity) if p.kind == "sampled" else None
        counts = candidate_counts(train, test, "full" if p.kind == "test-epoch" else p, cands)
        rows += [{"protocol": p.name, "metric": k, "value": v} for k, v in random_ranker(counts, ks).items()]
    return pd.DataFrame(rows, columns=["protocol", "metric", "value"])


def evaluate_protocol(score_fn, train: sp.spmatrix, test: sp.spmatrix, protocol: Protocol | str = "full",
                      ks=(10,), seed: int = 0, popularity: np.ndarray | None = None,
                      candidates: sp.spmatrix | None = None, **kwargs):
    """``evaluate.evaluate`` under ``protocol``: ``full`` is exactly that call; ``uni<N>``/``pop<N>`` rank the
    candidate set (drawn here from ``seed``, or ``candidates`` as drawn before, to share it across runs);
    ``repeats`` excludes ``train - test`` (and warns). ``kwargs`` go to ``evaluate`` (batch_size, device, ...)."""
    protocol = parse_protocol(protocol)
    if protocol.kind == "full":
        return evaluate(score_fn, train, test, ks, **kwargs)
    if protocol.kind == "sampled":
        if candidates is None:
            candidates = sample_candidates(train, test, protocol, seed, popularity)
        return evaluate(score_fn, train, test, ks, candidates=candidates, **kwargs)
    if protocol.kind == "repeats":
        warn_leaky(protocol, "evaluate_protocol")
        return evaluate(score_fn, train, test, ks, exclude=repeats_exclude(train, test), **kwargs)
    raise SymcereError(f"{protocol.name} is not a way of scoring a trained model: it trains its own runs "
                       f"(symcere_kit.runs.test_epoch).")
