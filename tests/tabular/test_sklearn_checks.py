"""scikit-learn's own conformance suite on default-constructed estimators: the
defaults must train small tables well enough (sklearn's quality checks fit 50-300
rows) and predict each row alike in any batch. One expected failure, with its reason;
the property it would check is shown where it holds, in test_sample_weight.py."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor

REPEATS = (
    "integer weights equal repeated rows only in expectation for stochastic "
    "training: the repeated rows change the batches (their count, composition and "
    "batch-norm statistics); zero weights equal dropped rows exactly and a weighted "
    "batch's loss equals the repeated rows' loss (tests/tabular/test_sample_weight.py)"
)


def expected_failures(estimator) -> dict[str, str]:
    return {"check_sample_weight_equivalence_on_dense_data": REPEATS}


@parametrize_with_checks(
    [EmbeddingClassifier(), EmbeddingRegressor()],
    expected_failed_checks=expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
