"""scikit-learn's own conformance suite, on small fast settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor

FAST = dict(epochs=12, batch_size=16, layers=(32,), ps=(0.0,), lr=3e-2, random_state=0)

# PLR's batched matmul rounds differently for a batch of 1 row than of 20 (another
# float32 kernel): the regressor's outputs, predicted in mini-batches, differ from one
# call by ~1e-6 (sklearn allows 1e-7; the classifier's labels and probabilities pass).
# Predicting in fixed-size chunks (the conform branch's predict_outputs) removes it.
EXPECTED_FAILED = {
    "check_methods_subset_invariance": "PLR rounding depends on the batch shape",
}


def _expected(estimator):
    return EXPECTED_FAILED if isinstance(estimator, EmbeddingRegressor) else {}


@parametrize_with_checks(
    [EmbeddingClassifier(**FAST), EmbeddingRegressor(**FAST)],
    expected_failed_checks=_expected,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
