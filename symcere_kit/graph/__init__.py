"""Graph encoders over the shared normalised (users+items) adjacency."""
from .lightgcn import LightGCNEncoder

__all__ = ["LightGCNEncoder"]
