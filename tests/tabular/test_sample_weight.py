"""sample_weight on fit and weight= on fit_parquet: rows weighed 0 are dropped rows,
equal weights are no weights, a weighted batch's loss is the repeated rows' loss,
and the weights move the fit; bad weights are refused by name."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from tabtext.core import RowWeighted
from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor, TargetEncoder

TINY = dict(layers=(8,), ps=(0.0,), epochs=2, random_state=0)


def make_frame(n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"c": rng.choice(list("abc"), n), "x": rng.normal(size=n)})
    y = X["x"].to_numpy() * 2 + (X["c"] == "a").to_numpy()
    return X, y, rng.integers(0, 3, n).astype(float)


@pytest.mark.parametrize("cls", [EmbeddingClassifier, EmbeddingRegressor])
def test_zero_weights_are_dropped_rows(cls):
    X, y, w = make_frame()
    y = (y > 0.5).astype(int) if cls is EmbeddingClassifier else y
    keep = w > 0
    weighted = cls(validation_fraction=0.3, **TINY).fit(X, y, sample_weight=w)
    dropped = cls(validation_fraction=0.3, **TINY)
    dropped.fit(X[keep], y[keep], sample_weight=w[keep])
    np.testing.assert_array_equal(weighted.transform(X), dropped.transform(X))
    np.testing.assert_array_equal(weighted.predict(X), dropped.predict(X))
    pd.testing.assert_frame_equal(
        weighted.history_.drop(columns="time"), dropped.history_.drop(columns="time")
    )


def test_equal_weights_are_no_weights():
    X, y, _ = make_frame()
    plain = EmbeddingRegressor(**TINY).fit(X, y)
    twos = EmbeddingRegressor(**TINY).fit(X, y, sample_weight=np.full(len(y), 2.0))
    np.testing.assert_array_equal(plain.predict(X), twos.predict(X))


@pytest.mark.parametrize(
    "task, y, class_weight",
    [
        ("regression", np.array([0.5, -1.0, 2.0, 0.0]), None),
        ("classification", np.array([0, 1, 1, 0]), None),
        ("classification", np.array([0, 1, 2, 2]), None),
        ("classification", np.array([0, 1, 2, 2]), {0: 1.0, 1: 3.0, 2: 0.5}),
        ("multilabel", np.array([[0, 1], [1, 1], [0, 0], [1, 0]]), None),
    ],
)
def test_weighted_loss_is_the_repeated_rows_loss_on_one_batch(task, y, class_weight):
    counts = np.array([2, 1, 3, 1])
    target = TargetEncoder.fit(y, task, False, scale=True)
    loss = target.loss(y, class_weight, label_smoothing=0.1, sample_weight=counts)
    n_out = target.n_out
    out = torch.randn(len(y), n_out, generator=torch.Generator().manual_seed(0))
    out = out if n_out > 1 or task != "classification" else out[:, :1]
    w = torch.as_tensor(counts / counts.mean(), dtype=torch.float32)
    weighted = RowWeighted(loss)(out, target.encode(y), w)
    rows = np.repeat(np.arange(len(y)), counts)
    repeated = target.loss(y[rows], class_weight, label_smoothing=0.1)
    expected = repeated(out[rows], target.encode(y[rows]))
    assert float(weighted) == pytest.approx(float(expected), rel=1e-6)


def test_weights_move_the_fit():
    """The same x with y = 0 (weight 1) and y = 10 (weight 9): the fit follows the
    heavy rows."""
    n = 80
    X = pd.DataFrame({"x": np.tile(np.linspace(-1, 1, n // 2), 2)})
    y = np.r_[np.zeros(n // 2), np.full(n // 2, 10.0)]
    w = np.r_[np.ones(n // 2), np.full(n // 2, 9.0)]
    kw = dict(layers=(8,), ps=(0.0,), epochs=20, random_state=0)
    plain = EmbeddingRegressor(**kw).fit(X, y).predict(X).mean()
    heavy = EmbeddingRegressor(**kw).fit(X, y, sample_weight=w).predict(X).mean()
    assert abs(plain - 5) < 1.5 and abs(heavy - 9) < 1.5


def test_weighted_validation_loss_of_an_eval_set():
    X, y, w = make_frame()
    est = EmbeddingRegressor(**TINY)
    est.fit(X[:60], y[:60], eval_set=(X[60:], y[60:], w[60:]), sample_weight=w[:60])
    per_row = (est.predict(X[60:]) - y[60:]) / est.target_.std[0]  # standardised
    expected = np.average(per_row**2, weights=w[60:])
    assert est.history_["valid_loss"].iloc[-1] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    "weights, match",
    [
        (np.r_[-1.0, np.ones(89)], "sample_weight.*negative"),
        (np.zeros(90), "sample_weight.*zero"),
        (np.ones(5), "sample_weight"),
        (np.r_[np.nan, np.ones(89)], "NaN"),
    ],
)
def test_bad_weights_are_refused(weights, match):
    X, y, _ = make_frame()
    with pytest.raises(ValueError, match=match):
        EmbeddingRegressor(**TINY).fit(X, y, sample_weight=weights)


@pytest.fixture(scope="module")
def weighted_parquet(tmp_path_factory):
    X, y, w = make_frame(n=160)
    path = tmp_path_factory.mktemp("pq") / "t.parquet"
    table = pa.Table.from_pandas(X.assign(y=y, w=w), preserve_index=False)
    pq.write_table(table, path, row_group_size=40)
    return path, X, y, w


def test_fit_parquet_weight_column(weighted_parquet):
    path, X, y, w = weighted_parquet
    est = EmbeddingRegressor(validation_fraction=0.25, **TINY)
    est.fit_parquet(path, "y", weight="w", batch_rows=30)
    assert est.input_columns_ == ["c", "x"]  # the weight is no feature
    kept = sum(int((w[i : i + 40] > 0).sum()) for i in range(0, 160, 40))
    assert est.stream_info_["train_rows"] < kept  # zero rows and held-out groups out
    unweighted = EmbeddingRegressor(validation_fraction=0.25, **TINY)
    unweighted.fit_parquet(path, "y", columns=["c", "x"], batch_rows=30)
    assert not np.array_equal(est.predict(X), unweighted.predict(X))


def test_fit_parquet_equal_weights_are_no_weights(weighted_parquet, tmp_path):
    path, X, y, _ = weighted_parquet
    ones = tmp_path / "ones.parquet"
    table = pa.Table.from_pandas(X.assign(y=y, w=1.0), preserve_index=False)
    pq.write_table(table, ones, row_group_size=40)
    a = EmbeddingRegressor(**TINY).fit_parquet(ones, "y", weight="w", batch_rows=30)
    b = EmbeddingRegressor(**TINY).fit_parquet(ones, "y", ["c", "x"], batch_rows=30)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_fit_parquet_bad_weight_column(weighted_parquet, tmp_path):
    path, X, y, w = weighted_parquet
    bad = tmp_path / "bad.parquet"
    table = pa.Table.from_pandas(X.assign(y=y, w=-w), preserve_index=False)
    pq.write_table(table, bad)
    with pytest.raises(ValueError, match="weight column 'w'.*negative"):
        EmbeddingRegressor(**TINY).fit_parquet(bad, "y", weight="w")
    with pytest.raises(ValueError, match="'nope'"):
        EmbeddingRegressor(**TINY).fit_parquet(path, "y", weight="nope")
