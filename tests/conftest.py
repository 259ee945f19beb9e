"""Shared fixtures. Tests never touch the network and never write into the checkout's caches."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["SYMCERE_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MI_FILE = SHARED_DATA / "amazon2014_musical_instruments" / "Musical_instruments_reviews.csv.gz"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMCERE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "processed"))
    monkeypatch.setenv("SYMCERE_RESULTS_DIR", str(tmp_path_factory.getbasetemp() / "results"))
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
