"""The names of the review formats the readers know; here, without pandas, so the CLI's help can list them."""

FORMATS = ("amazon2014_json", "amazon2014_csv", "amazon2018_json", "amazon2023_json", "amazon2023_csv",
           "amazon2023_ratings_csv", "amazon_us_tsv", "yelp_json", "generic_csv")
