import numpy as np
import pandas as pd
import pytest

from tabtext.tabular import EmbeddingRegressor
from tabtext.tabular.validation import check_params, check_rows, check_X


@pytest.mark.parametrize(
    "params, match",
    [
        ({"epochs": 0}, "epochs must be an int >= 1"),
        ({"batch_size": 1.5}, "batch_size must be an int >= 1"),
        ({"lr": -1}, "lr must be a positive number or 'auto'"),
        ({"validation_fraction": 1.0}, r"validation_fraction must be in \(0, 1\)"),
        ({"layers": (8, 4), "ps": (0.1,)}, "needs one dropout per layer"),
    ],
)
def test_check_params_names_the_bad_parameter(params, match):
    with pytest.raises(ValueError, match=match):
        check_params(EmbeddingRegressor(**params))


def test_check_rows():
    assert check_rows(5, "batch_rows") == 5
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="batch_rows must be an int >= 1"):
            check_rows(bad, "batch_rows")


def test_check_X_records_then_checks_names_and_count():
    est = EmbeddingRegressor()
    frame = check_X(est, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), reset=True)
    assert list(frame.columns) == ["a", "b"] and est.n_features_in_ == 2
    assert list(est.feature_names_in_) == ["a", "b"]
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        named = check_X(est, np.array([[1, "x"]], dtype=object), reset=False)
    assert list(named.columns) == ["a", "b"]  # an array takes the fitted names
    with (
        pytest.warns(UserWarning, match="feature names"),
        pytest.raises(ValueError, match="features"),
    ):
        check_X(est, np.zeros((2, 3)), reset=False)
    with pytest.raises(ValueError, match="duplicated column names"):
        check_X(est, pd.DataFrame([[1, 2]], columns=["a", "a"]), reset=True)
