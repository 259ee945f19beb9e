"""Findings text is computed from the numbers it is given: change the numbers, the sentences follow."""
import pandas as pd
import torch

from symcere_kit import findings
from symcere_kit.data.dataset import dataset_from_reviews
from symcere_kit.data.synthetic import synthetic_reviews
from symcere_kit.losses import false_negative_mask
from symcere_kit.sampling import batch_of_users


def test_fusion_gap_direction_follows_the_numbers():
    frame = pd.DataFrame({"panel": ["before", "before", "after", "after"], "gap": [0.9, 0.9, 0.2, 0.2]})
    assert "below the gap before (0.200 vs 0.900)" in findings.describe_fusion_gap(frame)
    frame["gap"] = [0.1, 0.1, 0.2, 0.2]
    assert "above the gap before" in findings.describe_fusion_gap(frame)


def test_lime_findings_compare_product_and_sentiment_weights():
    summary = pd.DataFrame({"class": ["product", "sentiment", "stop-word", "other"], "share_of_mass": [0.5, 0.2, 0.2, 0.1],
                            "mean_weight": [0.01, 0.002, -0.001, 0.0], "top_words": ["capo, strings", "great", "", ""]})
    text = findings.describe_lime(summary, 200, 0.61)
    assert "200 explained reviews" in text and "50.0% of the attribution mass" in text and "capo, strings" in text
    assert "Product terms' mean weight is above sentiment words'" in text
    summary["mean_weight"] = [0.001, 0.01, 0.0, 0.0]
    assert "is below sentiment" in findings.describe_lime(summary, 200, 0.61)


def test_training_findings_quote_the_history():
    history = [{"epoch": 1, "loss": 5.0, "cross": 3.0}, {"epoch": 2, "loss": 4.0, "cross": 2.5}]
    text = findings.describe_training(history, {"hr@10": 0.12, "ndcg@10": 0.05}, keep_share=0.999, batch=2048)
    assert "from 5.0000 (epoch 1) to 4.0000 (epoch 2)" in text and "0.10%" in text and "NDCG@10 0.0500" in text


def test_batch_of_users_draws_same_user_false_negatives():
    ds = dataset_from_reviews(synthetic_reviews(n_users=40, n_items=30, seed=1), name="syn")
    batch = batch_of_users(ds, n_users=3, per_user=4, generator=torch.Generator().manual_seed(0))
    assert len(batch["user"]) == 12 and batch["user"].unique().numel() == 3
    drop = false_negative_mask(batch["user"], batch["pos"], ds)
    same_user = batch["user"][:, None] == batch["user"][None, :]
    assert drop[same_user & ~torch.eye(12, dtype=torch.bool)].all()  # every same-user pair trained: dropped
    assert ds.is_train_pair(batch["user"], batch["pos"]).all()


def test_a_protocol_that_leaves_every_gap_unchanged_is_not_called_untested_for_lack_of_seeds():
    from symcere_kit.findings import _gap_test

    assert _gap_test(float("nan"), 1) == "1 seed: no test"
    assert "same gap as under full in each of 5 seeds" in _gap_test(float("nan"), 5)
    assert _gap_test(0.01, 5).endswith("changes that gap at 5%")
    assert "does not significantly change" in _gap_test(0.2, 5)
