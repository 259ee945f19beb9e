"""symcere-kit: reproduce, test and extend SymCERE (symmetric contrastive review-enhanced recommendation)."""

__version__ = "0.1.0"
