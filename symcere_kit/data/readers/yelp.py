"""The Yelp Open Dataset's review file: JSON lines, inside the yelp_dataset.tar Yelp ships."""
from __future__ import annotations

from .schema import FormatSchema
from .times import _date_milliseconds

ROWS = (
    FormatSchema("yelp_json", "user_id", "business_id", "text", "date", _date_milliseconds, rating="stars",
                 time_unit="UTC", recognise=lambda keys: "business_id" in keys,
                 recognised_by="JSON records with `business_id`",
                 archive_member="yelp_academic_dataset_review.json"),  # chosen by name in Yelp's multi-file tar
)
