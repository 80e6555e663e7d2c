"""loss="quantile": the pinball loss, predict is the median, predict_quantiles are
sorted and cover y about as asked, save/load keeps them; wrong uses are refused."""

import numpy as np
import pandas as pd
import pytest
import torch

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor
from tabtext.tabular.losses import QuantileLoss

QUANTILES = (0.1, 0.5, 0.9)


def test_pinball_loss_values_and_minimiser():
    # y above the output: q * diff; below: (1 - q) * |diff|
    per = QuantileLoss((0.1, 0.9), reduction="none")(
        torch.zeros(2, 2), torch.tensor([[2.0], [-2.0]])
    )
    torch.testing.assert_close(per, torch.tensor([[0.2, 1.8], [1.8, 0.2]]))
    y = torch.arange(100.0).reshape(-1, 1)  # 0, 1, ..., 99
    for q, lo, hi in [(0.1, 9, 10), (0.5, 49, 50), (0.9, 89, 90)]:
        losses = [
            float(QuantileLoss((q,))(torch.full((100, 1), float(c)), y))
            for c in range(100)
        ]
        best = min(losses)
        minimisers = [i for i, v in enumerate(losses) if v <= best + 1e-6]
        assert lo <= min(minimisers) and max(minimisers) <= hi


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"c": rng.choice(list("ab"), n), "x": rng.uniform(-1, 1, n)})
    noise = rng.normal(size=n) * np.where(X["c"] == "a", 2.0, 0.5)
    y = 3 * X["x"].to_numpy() + noise
    est = EmbeddingRegressor(
        loss="quantile", quantiles=QUANTILES, layers=(16,), ps=(0.0,), epochs=10,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    return est, X, y


def test_predict_is_the_median_and_quantiles_are_sorted(fitted):
    est, X, _ = fitted
    q = est.predict_quantiles(X)
    assert q.shape == (len(X), 3) and (np.diff(q, axis=1) >= 0).all()
    np.testing.assert_array_equal(est.predict(X), q[:, 1])


def test_quantiles_cover_y_and_widen_with_the_noise(fitted):
    est, X, y = fitted
    q = est.predict_quantiles(X)
    assert 0.7 < ((y >= q[:, 0]) & (y <= q[:, 2])).mean() < 0.95
    assert 0.4 < (y <= q[:, 1]).mean() < 0.6
    width = q[:, 2] - q[:, 0]
    noisy = (X["c"] == "a").to_numpy()
    assert width[noisy].mean() > 2 * width[~noisy].mean()


def test_save_and_load_keep_the_quantiles(fitted, tmp_path):
    est, X, _ = fitted
    back = EmbeddingRegressor.load(est.save(tmp_path / "m"))
    assert back.target_.quantiles == QUANTILES
    np.testing.assert_array_equal(back.predict_quantiles(X), est.predict_quantiles(X))


def test_wrong_uses_are_refused():
    X = pd.DataFrame({"x": np.arange(20.0)})
    assert not hasattr(EmbeddingRegressor(), "predict_quantiles")
    with pytest.raises(ValueError, match="including 0.5"):
        EmbeddingRegressor(loss="quantile", quantiles=(0.1, 0.9)).fit(X, X["x"])
    with pytest.raises(ValueError, match="strictly increasing"):
        EmbeddingRegressor(loss="quantile", quantiles=(0.5, 0.1)).fit(X, X["x"])
    with pytest.raises(ValueError, match="loss='quantile' is for regression"):
        EmbeddingClassifier(loss="quantile").fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match="loss must be 'auto' or 'quantile'"):
        EmbeddingRegressor(loss="mae").fit(X, X["x"])
