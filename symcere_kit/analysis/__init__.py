"""Analyses of trained runs (paper sections 3.4 and 6): geometry, popularity, UMAP fusion gap, LIME.

Each takes a stored run (``symcere_kit.runs.load_run``) or its embeddings
(``embeddings.run_embeddings``) and never retrains. Plots live in ``plots``, the notebook UI in
``widgets``; heavy imports (umap, lime, ipywidgets) happen inside the functions that need them.
"""
from .embeddings import RunEmbeddings, run_embeddings

__all__ = ["RunEmbeddings", "run_embeddings"]
