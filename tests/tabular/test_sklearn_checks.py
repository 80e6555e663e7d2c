"""scikit-learn's own conformance suite, on small fast settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor

FAST = dict(epochs=12, batch_size=16, layers=(32,), ps=(0.0,), lr=3e-2, random_state=0)

EXPECTED_FAILED = {}


def _expected(estimator):
    return EXPECTED_FAILED


@parametrize_with_checks(
    [EmbeddingClassifier(**FAST), EmbeddingRegressor(**FAST)],
    expected_failed_checks=_expected,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
