"""Side streams of randomness: build or draw something without moving the run's own RNG streams.

A run seeds every global RNG once (``train.seed_everything``); after that, the graph encoder's
initialisation and dropout (NGCF's message dropout draws from torch's global RNG every step) read one
stream. Building SymCERE's text side (loading a transformer, LoRA and projection initialisation) draws
from it too, so the graph would see another stream than the same graph trained alone. ``side_stream``
runs such a block on RNGs of its own, seeded from the run's seed and the block's name, and puts every
global stream back afterwards: the graph trains on exactly the stream of its baseline, and the block
is reproducible from the run seed whatever the graph drew before it.
"""
from __future__ import annotations

import contextlib
import random
import zlib
from typing import Iterator

import numpy as np
import torch


def side_seed(name: str) -> int:
    """A seed for the side stream ``name`` of the current run: mixes ``torch.initial_seed()`` (the run
    seed, once ``seed_everything`` ran; reading it draws nothing) with ``name``."""
    entropy = [torch.initial_seed(), zlib.crc32(name.encode())]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))


@contextlib.contextmanager
def side_stream(name: str) -> Iterator[int]:
    """Run the block with torch's (CPU and CUDA), NumPy's and Python's global RNGs seeded from
    [`side_seed`][symcere_kit.rng.side_seed] ``(name)``; restore all of them, as they were before, when it ends."""
    seed = side_seed(name)
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield seed
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
