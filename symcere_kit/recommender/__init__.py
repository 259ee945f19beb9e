"""What the models of ``models/`` are built from, below them: the
[`Recommender`][symcere_kit.recommender.base.Recommender] interface (``base``), the shared bases of the
graph-encoder + BPR models (``graph_bpr``) and of the closed-form item-item models (``item_similarity``) and
SymCERE's text half (``text_side``); the settings of the models that embed reviews live with the text encoder
(``text.settings``). Nothing here is a model of its own, so the model registry (``models``) finds every model
by its file name."""
