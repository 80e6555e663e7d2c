"""Tables with categorical columns: entity embeddings behind a scikit-learn estimator."""

# Submodules load on first use (PEP 562): see tabtext._lazy.
from .._lazy import lazy_exports

_EXPORTS = {
    "CATEGORICAL_PARTS": (".dates", "CATEGORICAL_PARTS"),
    "CONTINUOUS_PARTS": (".dates", "CONTINUOUS_PARTS"),
    "DATE_PARTS": (".dates", "DATE_PARTS"),
    "EmbeddingClassifier": (".estimator", "EmbeddingClassifier"),
    "EmbeddingModel": (".estimator", "EmbeddingModel"),
    "EmbeddingRegressor": (".estimator", "EmbeddingRegressor"),
    "EvalMetric": (".eval_metric", "EvalMetric"),
    "TabularConfig": (".model", "TabularConfig"),
    "TabularModel": (".model", "TabularModel"),
    "default_emb_size": (".model", "default_emb_size"),
    "ParquetDataset": (".parquet_source", "ParquetDataset"),
    "RowGroup": (".parquet_source", "RowGroup"),
    "Categorify": (".preprocessing", "Categorify"),
    "DateExpander": (".preprocessing", "DateExpander"),
    "FillMissing": (".preprocessing", "FillMissing"),
    "Standardize": (".preprocessing", "Standardize"),
    "TabularPreprocessor": (".preprocessing", "TabularPreprocessor"),
    "infer_roles": (".preprocessing", "infer_roles"),
    "TargetEncoder": (".tasks", "TargetEncoder"),
    "TuneResult": (".tuning", "TuneResult"),
    "default_search_space": (".tuning", "default_search_space"),
    "tune": (".tuning", "tune"),
    "categorical_columns": (".inspection", "categorical_columns"),
    "plot_partial_dependence": (".inspection", "plot_partial_dependence"),
    "plot_permutation_importance": (".inspection", "plot_permutation_importance"),
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
