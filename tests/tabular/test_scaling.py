"""Quantile and robust scaling of continuous columns, alone and in the preprocessor."""

import json

import numpy as np
import pandas as pd
import pytest

from tabtext.tabular import TabularPreprocessor
from tabtext.tabular.scaling import QuantileNormal, RobustScale, scaler_from_dict
from tabtext.tabular.streaming_stats import PreprocessorStats


def skewed(n=400, seed=0):
    rng = np.random.default_rng(seed)
    ints = rng.integers(0, 5, n).astype(float)  # many ties
    return np.stack([rng.lognormal(0, 2, n), ints, rng.normal(size=n)], 1)


def json_trip(scaler):
    return scaler_from_dict(json.loads(json.dumps(scaler.to_dict(), allow_nan=False)))


@pytest.mark.parametrize("cls", [QuantileNormal, RobustScale])
def test_json_round_trip_and_monotone(cls):
    x = skewed()
    scaler = cls(["a", "b", "c"]).fit(x)
    new = np.concatenate([skewed(100, seed=1), [[1e6, -3, 50.0]]])
    np.testing.assert_array_equal(
        json_trip(scaler).transform(new), scaler.transform(new)
    )
    grid = np.sort(np.concatenate([x, new]), axis=0)  # each column ascending
    out = scaler.transform(grid)
    assert (np.diff(out, axis=0) >= 0).all()
    assert np.isfinite(out).all()


def test_quantile_normal_output_is_normal():
    z = QuantileNormal(["a", "b", "c"]).fit(skewed(2000)).transform(skewed(2000, 1))
    assert abs(z[:, 0].mean()) < 0.1 and abs(z[:, 0].std() - 1) < 0.1
    assert np.abs(z).max() < 5.3


def test_robust_scale_centres_and_clips_smoothly():
    x = skewed()
    rs = RobustScale(["a", "b", "c"]).fit(x)
    out = rs.transform(np.median(x, 0, keepdims=True))
    np.testing.assert_allclose(out, 0, atol=1e-12)
    far = rs.transform(np.array([[1e5, 1e5, -1e5]]))
    assert (np.abs(far) < 3).all() and (np.abs(far) > 2.9).all()
    const = RobustScale(["k"]).fit(np.ones((10, 1)))
    assert const.scales_[0] == 1.0


def test_wrong_shape_and_unknown_kind():
    q = QuantileNormal(["a"]).fit(np.arange(50.0)[:, None])
    with pytest.raises(ValueError, match="1 columns"):
        q.transform(np.ones((3, 2)))
    with pytest.raises(ValueError, match="unknown continuous scaler"):
        scaler_from_dict({"kind": "minmax"})


def frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    price = rng.lognormal(0, 1.5, n)
    price[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"shop": rng.choice(["a", "b"], n), "price": price,
                         "qty": rng.integers(0, 9, n)})  # fmt: skip


@pytest.mark.parametrize("kind", ["quantile", "robust"])
def test_preprocessor_scaling_round_trip(kind):
    X = frame()
    pre = TabularPreprocessor(cont_scaling=kind).fit(X)
    _, conts = pre.transform(X)
    assert conts.dtype == np.float32 and np.isfinite(conts).all()
    if kind == "quantile":
        assert abs(conts[:, 0].mean()) < 0.2  # lognormal no longer skewed
    else:
        assert np.abs(conts).max() < 3
    back = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(back.transform(X)[1], conts)
    std = TabularPreprocessor().fit(X)
    assert std.cont_scaler_ is None and std.to_dict()["cont_scaler"] is None
    with pytest.raises(ValueError, match="cont_scaling"):
        TabularPreprocessor(cont_scaling="minmax").fit(X)


@pytest.mark.parametrize("kind", ["quantile", "robust"])
def test_streamed_scaler_equals_in_memory_while_the_sample_holds_all(kind):
    X = frame()
    memory = TabularPreprocessor(cont_scaling=kind).fit(X)
    stats = PreprocessorStats(X.iloc[:0], cont_scaling=kind, seed=0)
    for start in range(0, len(X), 64):
        stats.add(X.iloc[start : start + 64])
    streamed = stats.finish()
    np.testing.assert_allclose(
        streamed.transform(X)[1], memory.transform(X)[1], atol=1e-6
    )
