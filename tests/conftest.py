"""Shared fixtures. Tests never touch the network and never write into the checkout's caches."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["SYMCERE_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# Under pytest-xdist (`make test`) each worker gets its share of the cores: torch threads in this process,
# OMP_NUM_THREADS for the processes it starts (CLI runs, notebook kernels), so workers do not oversubscribe.
# Idle OpenMP threads sleep instead of spinning: a spinning pool steals the core another worker computes on.
_THREADS = None
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    from symcere_kit.runs.executors import available_cores  # the executors' own count of usable cores

    _THREADS = max(1, available_cores() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_THREADS))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MI_FILE = SHARED_DATA / "amazon2014_musical_instruments" / "Musical_instruments_reviews.csv.gz"


def pytest_runtest_setup(item):
    """Tests marked ``cuda`` skip where no CUDA GPU is visible (CI); benchmarks/gpu_check.sh runs them on one."""
    if item.get_closest_marker("cuda") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU (marker cuda): run `bash benchmarks/gpu_check.sh` on a GPU machine")


@pytest.fixture(autouse=True)
def _worker_threads():
    """Under xdist, every test starts at the worker's share of threads, whatever an earlier test set
    (an in-process tune or grid sets torch's thread count for its runs)."""
    if _THREADS is not None:
        import torch

        torch.set_num_threads(_THREADS)


def _folders(tmp_path_factory) -> dict[str, str]:
    # xdist workers share one cache (its files are written atomically), so a dataset or a review encoding
    # is made once per test session, not once per worker; results and figures stay per worker.
    shared = (
        tmp_path_factory.getbasetemp().parent
        if os.environ.get("PYTEST_XDIST_WORKER")
        else tmp_path_factory.getbasetemp()
    )
    return {"SYMCERE_CACHE_DIR": str(shared / "processed"),
            "SYMCERE_RESULTS_DIR": str(tmp_path_factory.getbasetemp() / "results"),
            "SYMCERE_FIGURES_DIR": str(tmp_path_factory.getbasetemp() / "figures")}


@pytest.fixture(scope="session", autouse=True)
def _isolated_session_dirs(tmp_path_factory):
    """The same folders for session and module fixtures, which are made before the per-test ones below: a
    module fixture that trains a run or reads a dataset never writes into the checkout."""
    patch = pytest.MonkeyPatch()
    for name, value in _folders(tmp_path_factory).items():
        patch.setenv(name, value)
    patch.setenv("SYMCERE_TUNED_DIR", str(tmp_path_factory.mktemp("tuned-session")))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    for name, value in _folders(tmp_path_factory).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYMCERE_TUNED_DIR", str(tmp_path_factory.mktemp("tuned")))  # per test; never configs/tuned/
    monkeypatch.delenv("SYMCERE_DATA_DIR", raising=False)


@pytest.fixture
def needs_shared():
    if not MI_FILE.is_file():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_file(tmp_path_factory) -> Path:
    from symcere_kit.data.synthetic import synthetic_reviews, write_amazon2018_jsonl

    return write_amazon2018_jsonl(synthetic_reviews(seed=0), tmp_path_factory.mktemp("syn") / "synthetic.json.gz")


@pytest.fixture(scope="module")
def ds():
    """Generated reviews with planted clusters, 160 users x 90 items (seed 3): the model tests' data.
    A test file that needs other data defines its own ``ds``, which takes precedence."""
    from symcere_kit.data.dataset import dataset_from_reviews
    from symcere_kit.data.synthetic import synthetic_reviews

    return dataset_from_reviews(synthetic_reviews(n_users=160, n_items=90, seed=3), name="syn")


@pytest.fixture(scope="module")
def random_ndcg(ds):
    """NDCG@10 of uniformly random scores on ``ds`` (seed 0): the floor "clearly above random" is measured against."""
    import torch

    from symcere_kit.evaluate import evaluate

    g = torch.Generator().manual_seed(0)
    res = evaluate(lambda users: torch.rand(len(users), ds.n_items, generator=g), ds.train_csr, ds.test_csr,
                   progress=False)
    return res.metrics["ndcg@10"]


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT whose vocabulary covers the synthetic reviews, saved as
    a local model folder: SymCERE runs end to end with no download and in seconds."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    from symcere_kit.data.synthetic import FILLER_WORDS, PRODUCT_WORDS, SENTIMENT_WORDS

    words = sorted({w for group in PRODUCT_WORDS for w in group} | set(SENTIMENT_WORDS) | set(FILLER_WORDS))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    path = tmp_path_factory.mktemp("tiny_bert")
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(path)
    BertTokenizer(str(path / "vocab.txt")).save_pretrained(path)
    return path
