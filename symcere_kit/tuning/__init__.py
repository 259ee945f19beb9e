"""Equal-budget hyper-parameter tuning on the validation slice (``symcere tune``), with Optuna.

* [`space`][symcere_kit.tuning.space]: a model's ``SEARCH_SPACE`` (``config.Range`` / ``config.Choice``) as Optuna
  distributions, and the values a trial draws from them.
* [`study`][symcere_kit.tuning.study]: the budget every model gets, the study (its storage, sampler and pruner), the
  objective (NDCG@10 on the validation slice, never the test split) and parallel workers.
* [`summary`][symcere_kit.tuning.summary]: the tuning table and each study's figures, as notebook 08 shows them.

The tuned settings live as files (``configs/tuned/<dataset>/<variant>.yaml``), written and read by
[`runs.tuned`][symcere_kit.runs.tuned]; the settings resolver ([`run_settings`][symcere_kit.run_settings]) says
how a run takes them.

Protocol (Ferrari Dacrema et al., RecSys 2019; Rendle et al., 2019): every model, baselines included,
gets the same number of trials and the same epoch cap. Each trial trains on the tuning-train part
(each user's training history minus its latest 20 %: ``ReviewDataset.holdout``) with early stopping
on that 20 %; text caches, LoRA texts, SMORE's item features and the false-negative mask come from
the tuning-train part only. After tuning, runs retrain on the whole training history for the epochs
early stopping found and are evaluated once on test.
"""
