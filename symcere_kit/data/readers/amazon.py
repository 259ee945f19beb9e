"""The Amazon review formats: McAuley's 2014 and 2018 releases (JSON lines, and the Kaggle CSV of 2014), the
Amazon Reviews 2023 release (JSON lines and the CSVs its tools write) and Amazon Customer Reviews (TSV)."""
from __future__ import annotations

from .schema import FormatSchema
from .times import _date_milliseconds, _epoch_ms

_AMAZON2018_ONLY = {"verified", "vote", "style", "image"}  # keys of the 2018 release, never of 2014's
_AMAZON_FIELDS = dict(user="reviewerID", item="asin", text="reviewText", timestamp="unixReviewTime",
                      to_ms=_epoch_ms, rating="overall", title="summary", time_unit="s")  # times in seconds
_2023_FIELDS = dict(user="user_id", item="parent_asin", timestamp="timestamp", to_ms=_epoch_ms, rating="rating",
                    time_unit="ms")  # 2023 reviews name variants by asin; parent_asin is the product, as its benchmarks

ROWS = (
    FormatSchema("amazon2014_json", **_AMAZON_FIELDS,
                 recognise=lambda keys: {"reviewerID", "asin"} <= keys and not keys & _AMAZON2018_ONLY,
                 recognised_by="JSON records with `reviewerID` and `asin`, none of 2018's keys"),
    FormatSchema("amazon2014_csv", **_AMAZON_FIELDS, header=frozenset({"reviewerID", "asin", "reviewText",
                                                                       "unixReviewTime"})),
    FormatSchema("amazon2018_json", **_AMAZON_FIELDS,
                 recognise=lambda keys: {"reviewerID", "asin"} <= keys and bool(keys & _AMAZON2018_ONLY),
                 recognised_by="the same, plus any of " + ", ".join(f"`{k}`" for k in sorted(_AMAZON2018_ONLY))),
    FormatSchema("amazon2023_json", text="text", title="title", **_2023_FIELDS,
                 recognise=lambda keys: "parent_asin" in keys, recognised_by="JSON records with `parent_asin`"),
    FormatSchema("amazon2023_csv", text="text", title="title", **_2023_FIELDS,  # datasets' to_csv of the reviews
                 header=frozenset({"user_id", "parent_asin", "text", "timestamp"})),
    FormatSchema("amazon2023_ratings_csv", text=None, **_2023_FIELDS,  # the 2023 benchmark CSVs
                 header=frozenset({"user_id", "parent_asin", "rating", "timestamp"})),
    # Amazon Customer Reviews (amazon_reviews_us_*.tsv): tab-separated with no quoting at all; review_date is
    # YYYY-MM-DD, read as midnight UTC of that day.
    FormatSchema("amazon_us_tsv", "customer_id", "product_id", "review_body", "review_date", _date_milliseconds,
                 rating="star_rating", title="review_headline", time_unit="midnight UTC", quoted=False,
                 header=frozenset({"customer_id", "product_id", "star_rating", "review_headline", "review_body",
                                   "review_date"})),
)
