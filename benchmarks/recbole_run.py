"""Parity benchmark: a RecBole 1.2.1 model (LightGCN, NGCF, NeuMF, SGL, Pop) trained on OUR exact split.

Run with RecBole's own virtualenv (RecBole is never a dependency of symcere-kit, and this script
does not import symcere_kit):

    .venv-recbole/bin/python benchmarks/recbole_run.py --model LightGCN --data-path DIR --dataset NAME \
        --epochs 20 --embedding-size 64 --n-layers 2 --batch-size 2048 --lr 0.001 \
        --reg-weight 1e-4 --seed 0 [--config '{"ssl_tau": 0.5}'] [--save-embeddings OUT.npz] \
        [--test-modes full uni100 pop100 --eval-seeds 0 1 2 3 4]

``--config`` is a JSON object of further RecBole settings for the model (e.g. NGCF's
``hidden_size_list``, SGL's ``ssl_tau``), applied last.

``DIR/NAME/NAME.{train,valid,test}.inter`` are the benchmark atomic files written by
``symcere_kit.data.export.export_recbole_atomic`` (tokens ``u<index>`` / ``i<index>``, empty
validation file). The model trains for exactly ``--epochs`` epochs with no validation and no early
stopping, then is evaluated on the test file with full ranking (training items masked), top-10 Hit,
NDCG and Recall. ``--test-modes`` adds RecBole's sampled modes (``uni<N>``, ``pop<N>``: its
``NegSampleEvalDataLoader``, built by ``data_preparation`` as RecBole builds it), each evaluated once per
``--eval-seeds`` seed (RecBole draws eval negatives from ``np.random`` at every pass; ``init_seed(seed)``
before each pass); their rows go to ``protocols`` in the JSON, the top-level metrics stay the first
mode's first pass. ``--model Pop`` counts training interactions (one epoch, no training negatives, as
RecBole's TraditionalTrainer). The last (and only) stdout line is one JSON object; progress and
warnings go to stderr. RecBole's log files, tensorboard events and any checkpoints live in a
temporary working directory (removed at exit unless ``--work-dir`` is given).

``--save-embeddings OUT.npz`` (LightGCN only) stores the final user/item embeddings (the layer mean that
``full_sort_predict`` uses) re-indexed to our 0-based indices: arrays ``user`` [n_users, d] and
``item`` [n_items, d] (float32), plus ``user_present``/``item_present`` masks (False, with NaN
rows, only for indices that appear in none of the three files).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="LightGCN", choices=["LightGCN", "NGCF", "NeuMF", "SGL", "Pop"])
    p.add_argument("--config", default="{}", help="JSON object of further RecBole settings")
    p.add_argument("--data-path", required=True, help="folder that holds the NAME/ dataset folder")
    p.add_argument("--dataset", required=True, help="dataset name (NAME)")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--embedding-size", type=int, default=64)
    p.add_argument("--n-layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--reg-weight", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--eval-batch-size", type=int, default=4096, help="RecBole's eval_batch_size (default as RecBole)")
    p.add_argument("--threads", type=int, default=2, help="torch/BLAS threads (default 2)")
    p.add_argument("--save-embeddings", default=None, help="write user/item embeddings (our indices) to this .npz")
    p.add_argument("--test-modes", nargs="+", default=["full"], help="RecBole eval modes: full, uni<N>, pop<N>")
    p.add_argument("--eval-seeds", nargs="+", type=int, default=None,
                   help="seeds of the sampled modes' passes (default: --seed)")
    p.add_argument("--work-dir", default=None, help="keep RecBole's logs here instead of a removed temp dir")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be >= 1")
    bad = [m for m in args.test_modes if not re.fullmatch(r"full|(uni|pop)[1-9][0-9]*", m)]
    if bad:
        p.error(f"--test-modes {bad}: each is full, uni<N> or pop<N> (RecBole's eval_args.mode)")
    if args.save_embeddings and args.model != "LightGCN":
        p.error("--save-embeddings is for LightGCN only (other models do not score by one dot product)")
    return args


ARGS = _parse_args() if __name__ == "__main__" else None

# One thread count for everything, fixed before numpy/torch are imported.
if ARGS is not None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)
# torch >= 2.6 defaults torch.load(weights_only=True), which RecBole 1.2.1's pickles predate.
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import contextlib  # noqa: E402
import copy  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from peak_memory import peak_rss_mb  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

SPLITS = ("train", "valid", "test")
_TOKEN = {"user": re.compile(r"^u(\d+)$"), "item": re.compile(r"^i(\d+)$")}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _our_index(tokens, kind: str) -> np.ndarray:
    """RecBole internal id -> our 0-based index (internal id 0 is [PAD] -> -1)."""
    out = np.full(len(tokens), -1, dtype=np.int64)
    for rid, tok in enumerate(tokens):
        if rid == 0:
            continue  # [PAD]
        m = _TOKEN[kind].match(str(tok))
        if m is None:
            raise SystemExit(f"{kind} token {tok!r} is not of the form {_TOKEN[kind].pattern}; "
                             f"export the split with symcere_kit.data.export.export_recbole_atomic.")
        out[rid] = int(m.group(1))
    return out


def _reindex(emb: np.ndarray, ours: np.ndarray):
    """Rows of RecBole's embedding table (internal ids) placed at our indices."""
    n = int(ours.max()) + 1
    table = np.full((n, emb.shape[1]), np.nan, dtype=np.float32)
    present = np.zeros(n, dtype=bool)
    table[ours[1:]] = emb[1:]
    present[ours[1:]] = True
    return table, present


def main(args) -> dict:
    data_path = Path(args.data_path).resolve()
    folder = data_path / args.dataset
    missing = [str(folder / f"{args.dataset}.{s}.inter") for s in SPLITS
               if not (folder / f"{args.dataset}.{s}.inter").is_file()]
    if missing:
        # Without this check RecBole would try to download a dataset of that name.
        raise SystemExit(f"missing benchmark file(s): {missing}")

    import torch

    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(args.threads)
    warnings.filterwarnings("ignore")

    import recbole
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model import general_recommender
    from recbole.trainer import Trainer
    from recbole.utils import init_logger, init_seed

    with contextlib.ExitStack() as stack:
        if args.work_dir:
            work = Path(args.work_dir).resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="recbole-run-")))
        # RecBole writes ./log/ and ./log_tensorboard/ relative to the working directory.
        stack.enter_context(contextlib.chdir(work))

        config_dict = {
            "data_path": str(data_path),
            "benchmark_filename": list(SPLITS),
            "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
            "USER_ID_FIELD": "user_id",
            "ITEM_ID_FIELD": "item_id",
            "TIME_FIELD": "timestamp",
            # keep every interaction exactly as exported: no filtering, dedup or normalisation
            "user_inter_num_interval": "[0,inf)",
            "item_inter_num_interval": "[0,inf)",
            "rm_dup_inter": None,
            "val_interval": None,
            "filter_inter_by_user_or_item": False,
            "normalize_all": None,
            "normalize_field": None,
            # model / training
            "embedding_size": args.embedding_size,
            "n_layers": args.n_layers,
            "reg_weight": args.reg_weight,
            "learning_rate": args.lr,
            "learner": "adam",
            "weight_decay": 0.0,
            "train_batch_size": args.batch_size,
            "epochs": args.epochs,
            "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1, "alpha": 1.0,
                                      "dynamic": False, "candidate_num": 0},
            "eval_step": args.epochs + 1,  # never reached anyway: fit() gets no valid data
            "stopping_step": args.epochs + 1,
            # evaluation: full ranking on the test file
            "eval_args": {"mode": {"valid": "full", "test": "full"}, "order": "RO", "group_by": "user"},
            "metrics": ["Hit", "NDCG", "Recall"],
            "topk": [args.topk],
            "valid_metric": f"NDCG@{args.topk}",
            "eval_batch_size": args.eval_batch_size,
            "metric_decimal_place": 10,
            # environment
            "seed": args.seed,
            "reproducibility": True,
            "use_gpu": False,
            "gpu_id": "",
            "worker": 0,
            "show_progress": False,
            "state": "INFO",  # full log goes to the temp log file; console shows warnings only
            "checkpoint_dir": str(work / "saved"),
            "save_dataset": False,
            "save_dataloaders": False,
            "log_wandb": False,
            **({"train_neg_sample_args": None} if args.model == "Pop" else {}),  # Pop counts positives only
            **json.loads(args.config),
        }
        # RecBole's Config also reads ``--key=value`` from sys.argv (with priority over config_dict);
        # our flags are already parsed, so hide them from it.
        argv, sys.argv = sys.argv, sys.argv[:1]
        try:
            config = Config(model=args.model, dataset=args.dataset, config_dict=config_dict)
        finally:
            sys.argv = argv
        init_seed(config["seed"], config["reproducibility"])
        init_logger(config)
        for h in logging.getLogger().handlers:
            if not isinstance(h, logging.FileHandler):
                h.setLevel(logging.WARNING)
        logger = logging.getLogger()
        logger.info(config)

        t0 = time.perf_counter()
        dataset = create_dataset(config)
        logger.info(dataset)
        pristine = copy.deepcopy(dataset)  # build() converts in place and cannot run twice: one copy per test mode
        train_data, valid_data, test_data = data_preparation(config, dataset)
        prep_s = time.perf_counter() - t0
        sizes = [len(d.dataset) for d in (train_data, valid_data, test_data)]
        if sizes[1] != 0:
            _log(f"warning: the validation file has {sizes[1]} rows; at test time RecBole also masks "
                 f"validation items that are not test items")

        # same order as recbole.quick_start.run_recbole
        init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
        model = getattr(general_recommender, args.model)(config, train_data.dataset).to(config["device"])
        logger.info(model)
        trainer = Trainer(config, model)

        epoch_times: list[float] = []
        epoch_losses: list[float] = []
        train_epoch = trainer._train_epoch

        def timed_train_epoch(data, epoch_idx, *a, **kw):
            start = time.perf_counter()
            loss = train_epoch(data, epoch_idx, *a, **kw)
            epoch_times.append(time.perf_counter() - start)
            epoch_losses.append(float(sum(loss) if isinstance(loss, tuple) else loss))
            _log(f"epoch {epoch_idx + 1}/{args.epochs}  loss {epoch_losses[-1]:.4f}  {epoch_times[-1]:.2f}s")
            return loss

        trainer._train_epoch = timed_train_epoch
        t0 = time.perf_counter()
        trainer.fit(train_data, valid_data=None, verbose=True, saved=False, show_progress=False)
        train_s = time.perf_counter() - t0
        if len(epoch_times) != args.epochs:
            raise RuntimeError(f"trained {len(epoch_times)} epochs, expected {args.epochs}")

        k = args.topk
        protocols: dict[str, list[dict]] = {}
        eval_s = None
        for mode in args.test_modes:
            # RecBole's own path to a sampled test loader: the mode in eval_args, its neg-sample args, data_preparation.
            config["eval_args"]["mode"]["test"] = mode
            config._set_eval_neg_sample_args("test")
            test_data = data_preparation(config, copy.deepcopy(pristine))[2]
            for seed in ([args.seed] if mode == "full" else (args.eval_seeds or [args.seed])):
                init_seed(seed, config["reproducibility"])
                t0 = time.perf_counter()
                result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
                eval_s = time.perf_counter() - t0 if eval_s is None else eval_s
                logger.info(f"test result ({mode}, seed {seed}): {dict(result)}")
                protocols.setdefault(mode, []).append(
                    {"seed": seed, **{f"{m}@{k}": float(result[f"{r}@{k}"])
                                      for m, r in (("hr", "hit"), ("ndcg", "ndcg"), ("recall", "recall"))}})
        first = protocols[args.test_modes[0]][0]

        uid, iid = dataset.uid_field, dataset.iid_field
        if args.save_embeddings:
            model.eval()
            with torch.no_grad():
                user_e, item_e = model.forward()  # what full_sort_predict scores with
            user_tab, user_ok = _reindex(user_e.cpu().numpy(), _our_index(dataset.field2id_token[uid], "user"))
            item_tab, item_ok = _reindex(item_e.cpu().numpy(), _our_index(dataset.field2id_token[iid], "item"))
            if not (user_ok.all() and item_ok.all()):
                _log(f"warning: {int((~user_ok).sum())} user / {int((~item_ok).sum())} item indices below "
                     f"the maximum appear in no file; their rows are NaN")
            out = Path(args.save_embeddings).resolve()
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.npz")
            try:
                np.savez(tmp, user=user_tab, item=item_tab, user_present=user_ok, item_present=item_ok)
                os.replace(tmp, out)
            finally:
                tmp.unlink(missing_ok=True)

        return {
            **{key: first[key] for key in (f"hr@{k}", f"ndcg@{k}", f"recall@{k}")},
            "protocols": protocols,
            "epoch_time_s": float(np.mean(epoch_times)),
            "epoch_time_median_s": float(np.median(epoch_times)),
            "train_time_s": train_s,
            "eval_time_s": eval_s,
            "peak_rss_mb": peak_rss_mb(),
            "epochs": len(epoch_times),
            "n_users": int(dataset.user_num - 1),  # without [PAD]
            "n_items": int(dataset.item_num - 1),
            "n_test_users": int(len(test_data.uid_list)),
            "n_train": sizes[0],
            "n_test": sizes[2],
            "final_train_loss": epoch_losses[-1],
            "prep_time_s": prep_s,
            "threads": args.threads,
            "recbole_version": recbole.__version__,
            "model": args.model,
        }


if __name__ == "__main__":
    summary = main(ARGS)
    sys.stdout.flush()
    print(json.dumps(summary), flush=True)
