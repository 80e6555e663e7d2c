"""Permutation importance and partial dependence of EmbeddingModel through
sklearn.inspection, drawn as PNGs."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from tabtext.tabular import (
    EmbeddingClassifier,
    EmbeddingRegressor,
    categorical_columns,
    plot_partial_dependence,
    plot_permutation_importance,
)

PNG = b"\x89PNG\r\n\x1a\n"
SHOP = {"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}


def table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "x": rng.uniform(-2, 2, n),
            "shop": rng.choice(list(SHOP), n),
            "flag": rng.choice([True, False], n),
        }
    )
    y = 3 * X["x"] + X["shop"].map(SHOP) + 0.1 * rng.normal(size=n)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def fitted():
    X, y = table()
    est = EmbeddingRegressor(
        layers=(32, 16), ps=(0.0, 0.0), epochs=8, batch_size=64, random_state=0
    )
    return est.fit(X, y), *table(200, seed=1)


def is_png(path):
    data = path.read_bytes()
    return data.startswith(PNG) and len(data) > 1000


def test_permutation_importance_ranks_the_informative_column_first(fitted, tmp_path):
    est, X, y = fitted
    path = tmp_path / "imp.png"
    imp = plot_permutation_importance(est, X, y, path, n_repeats=3)
    assert list(imp.index[:2]) == ["x", "shop"]
    assert set(imp.index) == set(X.columns)
    assert imp.loc["x", "importance_mean"] > 10 * abs(
        imp.loc["noise", "importance_mean"]
    )
    assert list(imp.columns) == [
        "importance_mean", "importance_std", "repeat_0", "repeat_1", "repeat_2",
    ]  # fmt: skip
    row = imp.loc["x", ["repeat_0", "repeat_1", "repeat_2"]]
    assert imp.loc["x", "importance_mean"] == pytest.approx(row.mean())
    assert is_png(path)
    with pytest.raises(ValueError, match="n_repeats"):
        plot_permutation_importance(est, X, y, path, n_repeats=0)


def test_partial_dependence_is_monotone_in_a_monotone_feature(fitted, tmp_path):
    est, X, _ = fitted
    path = tmp_path / "pd.png"
    features = ["x", "shop", ("x", "noise")]
    disp = plot_partial_dependence(est, X, features, path, grid_resolution=8)
    x_curve, shop_bars, _ = disp.pd_results
    assert len(x_curve["grid_values"][0]) == 8
    assert np.all(np.diff(x_curve["average"][0]) > 0)
    grid = list(shop_bars["grid_values"][0])
    assert sorted(grid) == list(SHOP)  # a bar per category, not a numeric grid
    by_shop = dict(zip(grid, shop_bars["average"][0], strict=True))
    assert by_shop["a"] < by_shop["b"] < by_shop["c"] < by_shop["d"]
    assert is_png(path)


def test_categorical_columns_come_from_the_estimator_or_the_dtypes(fitted):
    est, X, _ = fitted
    assert categorical_columns(est, X) == ["shop", "flag"]
    coded = X.assign(shop=X["shop"].map(SHOP).astype(int))
    fit = EmbeddingRegressor(cat_cols=["shop"], epochs=1, random_state=0)
    fit.fit(coded, np.zeros(len(coded)))
    assert categorical_columns(fit, coded) == ["shop", "flag"]  # an int code column
    assert categorical_columns(LinearRegression(), X) == ["shop", "flag"]


def test_a_classifier_and_bad_requests(fitted, tmp_path):
    _, X, y = fitted
    labels = np.where(X["x"] > 0, "high", "low")
    clf = EmbeddingClassifier(layers=(16,), ps=(0.0,), epochs=4, random_state=0)
    clf.fit(X, labels)
    disp = plot_partial_dependence(clf, X, ["x", "flag"], tmp_path / "c.png")
    assert len(disp.pd_results) == 2 and is_png(tmp_path / "c.png")
    flag_ax = np.ravel(disp.axes_)[1]
    assert [t.get_text() for t in flag_ax.get_xticklabels()] == ["False", "True"]
    dated = X.assign(day=pd.Timestamp("2020-01-01") + pd.to_timedelta(X.index, "D"))
    with pytest.raises(ValueError, match="datetime column 'day'"):
        plot_partial_dependence(clf, dated, ["day"], tmp_path / "d.png")
    with pytest.raises(ValueError, match="at least one"):
        plot_partial_dependence(clf, X, [], tmp_path / "e.png")
