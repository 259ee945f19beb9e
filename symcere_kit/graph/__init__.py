"""Graph encoders over the shared normalised (users+items) adjacency, and graph augmentations."""
from .augment import edge_dropout_adjacency
from .knn import knn_adjacency
from .lightgcn import LightGCNEncoder
from .ngcf import NGCFConv, NGCFEncoder

__all__ = ["LightGCNEncoder", "NGCFConv", "NGCFEncoder", "edge_dropout_adjacency", "knn_adjacency"]
