"""The paper's Table 2, transcribed, so its pattern can be set beside ours (``tables.table2_pattern``).

Reference values from the SymCERE paper (Table 2: HR@10 and NDCG@10 on its 15 datasets, our variant
names as columns; SMORE has no Travel (JP) result there). They are the paper's numbers, shown as such,
never used as a result of ours.
"""
from __future__ import annotations

import pandas as pd

COLUMNS = ("neumf", "sgl", "ngcf", "lightgcn", "smore", "symcere-ngcf", "symcere-lightgcn")
_NA = float("nan")
# dataset: (HR@10 row, NDCG@10 row), in COLUMNS order, as printed (three decimals).
ROWS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "Clothing, Shoes & Jewelry": (
        (0.521, 0.530, 0.525, 0.530, 0.434, 0.538, 0.550),
        (0.415, 0.412, 0.420, 0.411, 0.311, 0.425, 0.398),
    ),
    "CDs & Vinyl": (
        (0.453, 0.456, 0.450, 0.419, 0.322, 0.488, 0.495),
        (0.324, 0.309, 0.324, 0.285, 0.218, 0.332, 0.308),
    ),
    "Tools & Home Improvement": (
        (0.330, 0.336, 0.323, 0.334, 0.181, 0.402, 0.412),
        (0.170, 0.175, 0.166, 0.174, 0.096, 0.187, 0.162),
    ),
    "Sports & Outdoors": (
        (0.318, 0.376, 0.364, 0.337, 0.218, 0.424, 0.434),
        (0.209, 0.206, 0.202, 0.191, 0.121, 0.226, 0.195),
    ),
    "Beauty & Personal Care": (
        (0.312, 0.312, 0.311, 0.283, 0.197, 0.386, 0.405),
        (0.141, 0.135, 0.138, 0.124, 0.078, 0.162, 0.135),
    ),
    "Automotive": (
        (0.408, 0.441, 0.424, 0.434, 0.312, 0.446, 0.470),
        (0.260, 0.281, 0.278, 0.276, 0.195, 0.285, 0.265),
    ),
    "Toys & Games": (
        (0.312, 0.329, 0.312, 0.332, 0.233, 0.415, 0.419),
        (0.170, 0.174, 0.175, 0.173, 0.115, 0.198, 0.173),
    ),
    "Pet Supplies": (
        (0.268, 0.279, 0.268, 0.234, 0.174, 0.373, 0.387),
        (0.104, 0.101, 0.101, 0.086, 0.050, 0.129, 0.102),
    ),
    "Health & Household": (
        (0.256, 0.256, 0.246, 0.254, 0.193, 0.371, 0.360),
        (0.106, 0.108, 0.102, 0.106, 0.063, 0.132, 0.107),
    ),
    "Video Games": (
        (0.227, 0.255, 0.226, 0.254, 0.162, 0.345, 0.343),
        (0.099, 0.109, 0.098, 0.104, 0.063, 0.132, 0.109),
    ),
    "Cell Phones & Accessories": (
        (0.254, 0.306, 0.296, 0.299, 0.296, 0.411, 0.411),
        (0.114, 0.146, 0.152, 0.140, 0.120, 0.180, 0.151),
    ),
    "Patio, Lawn & Garden": (
        (0.216, 0.358, 0.351, 0.354, 0.372, 0.433, 0.450),
        (0.130, 0.195, 0.195, 0.192, 0.161, 0.225, 0.189),
    ),
    "Office Products": (
        (0.195, 0.351, 0.347, 0.351, 0.355, 0.430, 0.430),
        (0.093, 0.183, 0.181, 0.178, 0.132, 0.190, 0.161),
    ),
    "Yelp": ((0.238, 0.193, 0.182, 0.146, 0.074, 0.344, 0.285), (0.078, 0.054, 0.052, 0.037, 0.032, 0.112, 0.082)),
    "Travel (JP)": ((0.768, 0.742, 0.737, 0.695, _NA, 0.768, 0.824), (0.268, 0.296, 0.269, 0.279, _NA, 0.269, 0.380)),
}


def paper_means() -> pd.DataFrame:
    """The paper's Table 2 as ``tables``' mean frames: index (dataset, "HR@10" | "NDCG@10"), variant columns."""
    records = {(d, m): row for d, rows in ROWS.items() for m, row in zip(("HR@10", "NDCG@10"), rows)}
    frame = pd.DataFrame.from_dict(records, orient="index", columns=list(COLUMNS))
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["dataset", "metric"])
    return frame
