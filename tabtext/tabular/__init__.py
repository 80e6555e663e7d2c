"""Tables with categorical columns: entity embeddings behind a scikit-learn estimator."""

from .estimator import EmbeddingClassifier, EmbeddingModel, EmbeddingRegressor
from .model import TabularConfig, TabularModel, default_emb_size

__all__ = [
    "EmbeddingClassifier",
    "EmbeddingModel",
    "EmbeddingRegressor",
    "TabularConfig",
    "TabularModel",
    "default_emb_size",
]
