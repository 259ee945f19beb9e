"""Findings text is computed from the numbers it is given: change the numbers, the sentences follow."""
import pandas as pd
import torch

from symcere_kit import findings
from symcere_kit.data.dataset import dataset_from_reviews
from symcere_kit.data.synthetic import synthetic_reviews
from symcere_kit.losses import false_negative_mask
from symcere_kit.sampling import batch_of_users


def test_fusion_gap_direction_follows_the_numbers_beside_the_papers_figure():
    frame = pd.DataFrame({"panel": ["before", "before", "after", "after"], "gap": [0.9, 0.9, 0.2, 0.2]})
    text = findings.describe_fusion_gap(frame)
    assert "below the gap before (0.200 vs 0.900" in text and "as the paper's Figure 1 shows" in text
    assert text.startswith("- **The paper**: Figure 1") and "UMAP panel of 1 of them" in text
    frame["gap"] = [0.1, 0.1, 0.2, 0.2]
    assert "above the gap before" in findings.describe_fusion_gap(frame)
    assert "the opposite of the paper's Figure 1" in findings.describe_fusion_gap(frame)


def test_lime_findings_give_counts_and_the_contrast_with_its_interval():
    summary = pd.DataFrame(
        {
            "class": ["product", "sentiment", "stop-word", "other"],
            "words": [40, 10, 30, 5],
            "weighings": [90, 25, 300, 6],
            "sign_flipping": [3, 0, 0, 0],
            "share_of_mass": [0.5, 0.2, 0.2, 0.1],
            "mean_weight": [0.01, 0.002, -0.001, 0.0],
            "top_words": [
                "capo, strings",
                "great",
                "the",
                "(none of its 5 words weighed in >= 3 reviews with a stable sign)",
            ],
        }
    )
    contrast = {"a": "product", "b": "sentiment", "reviews": 120, "mean_diff": 0.004, "ci_low": 0.001, "ci_high": 0.007}
    text = findings.describe_lime(summary, 200, 0.61, contrast, seeds=3, samples=500)
    assert (
        text.startswith("- **The paper**: Section 6.2")
        and "200 training reviews x 3 LIME seed(s) at 500 samples" in text
    )
    assert "40 words weighed 90 times, 50.0% of the attribution mass" in text and "capo, strings" in text
    assert "3 of its words flip sign across seeds (not ranked)" in text
    assert "In the 120 reviews holding both" in text and "+0.00100 to +0.00700): product terms weigh more" in text
    text = findings.describe_lime(summary, 200, 0.61, {**contrast, "ci_low": -0.001})
    assert "no difference resolved at these counts" in text
    text = findings.describe_lime(summary, 200, 0.61, {**contrast, "ci_low": -0.01, "ci_high": -0.002})
    assert "sentiment words weigh more than product terms" in text


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


def test_popularity_findings_say_how_many_test_interactions_and_seeds_they_rest_on():
    pop = pd.DataFrame(
        {
            "variant": ["lightgcn", "symcere-lightgcn"],
            "ndcg@10": [0.1, 0.12],
            "avg_popularity@10": [30.0, 20.0],
            "coverage@10": [0.3, 0.4],
            "gini@10": [0.8, 0.7],
            "seeds": [5, 5],
        }
    )
    buckets = pd.DataFrame({"variant": ["lightgcn", "symcere-lightgcn"], "bucket": "tail", "ndcg@10": [0.02, 0.03],
                            "hr@10": [0.1, 0.1], "n": [120.0, 120.0]})
    text = findings.describe_popularity(pop, buckets)
    assert "LightGCN (mean over 5 seed(s)): NDCG@10 0.1000" in text and "120 test interactions" in text
    assert "highest NDCG@10 is 0.0300 (SymCERE + LightGCN); next 0.0200 (LightGCN)" in text
