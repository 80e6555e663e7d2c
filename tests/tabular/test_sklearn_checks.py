"""scikit-learn's own conformance suite on default-constructed estimators, with no
expected failures: the defaults must train small tables well enough (sklearn's
quality checks fit 50-300 rows) and predict each row alike in any batch."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor


@parametrize_with_checks([EmbeddingClassifier(), EmbeddingRegressor()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
