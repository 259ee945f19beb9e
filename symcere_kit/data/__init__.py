"""Reading, cleaning, splitting and caching review data."""
