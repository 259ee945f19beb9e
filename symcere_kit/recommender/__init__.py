"""What the models of ``models/`` are built from, below them: the :class:`Recommender` interface
(``base``), the shared bases of the graph-encoder + BPR models (``graph_bpr``) and of the closed-form
item-item models (``item_similarity``), the settings of the models that embed reviews
(``text_settings``) and SymCERE's text half (``text_side``). Nothing here is a model of its own, so the
model registry (``models``) finds every model by its file name."""
