"""Tables with categorical columns: entity embeddings behind a scikit-learn estimator."""

from .dates import CATEGORICAL_PARTS, CONTINUOUS_PARTS, DATE_PARTS
from .estimator import EmbeddingClassifier, EmbeddingModel, EmbeddingRegressor
from .inspection import (
    categorical_columns,
    plot_partial_dependence,
    plot_permutation_importance,
)
from .model import TabularConfig, TabularModel, default_emb_size
from .parquet_source import ParquetDataset, RowGroup
from .preprocessing import (
    Categorify,
    DateExpander,
    FillMissing,
    Standardize,
    TabularPreprocessor,
    infer_roles,
)
from .targets import TargetEncoder

__all__ = [
    "CATEGORICAL_PARTS",
    "CONTINUOUS_PARTS",
    "DATE_PARTS",
    "Categorify",
    "DateExpander",
    "EmbeddingClassifier",
    "EmbeddingModel",
    "EmbeddingRegressor",
    "FillMissing",
    "ParquetDataset",
    "RowGroup",
    "Standardize",
    "TabularConfig",
    "TabularModel",
    "TabularPreprocessor",
    "TargetEncoder",
    "categorical_columns",
    "default_emb_size",
    "infer_roles",
    "plot_partial_dependence",
    "plot_permutation_importance",
]
