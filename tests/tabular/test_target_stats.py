"""Out-of-fold target statistics: leakage, smoothing, persistence, in the estimator."""

import json

import numpy as np
import pandas as pd
import pytest

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor
from tabtext.tabular.target_stats import TargetStatistics, target_columns


def data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, 30, n), rng.integers(0, 4, n)], 1)
    y = (rng.random(n) < (codes[:, 0] / 30)).astype(float)[:, None]
    return codes, y


def raw(ts, z):
    return z * ts.std_ + ts.mean_  # undo the standardization


def stats(**kw):
    return TargetStatistics([0, 1], ["id", "grp"], [30, 4], 1, **kw)


def test_out_of_fold_values_never_use_the_rows_own_target():
    codes, y = data()
    ts = stats()
    before = raw(ts, ts.fit_transform(codes, y, seed=0))
    for i in (0, 17, 123):
        flipped = y.copy()
        flipped[i] = 1 - flipped[i]
        ts2 = stats()
        after = raw(ts2, ts2.fit_transform(codes, flipped, seed=0))
        np.testing.assert_allclose(after[i], before[i], rtol=1e-6)  # float32
        assert not np.allclose(after, before)  # other folds' rows do see it


def test_full_data_table_is_the_smoothed_mean():
    codes, y = data()
    ts = stats(prior_weight=5.0)
    ts.fit_transform(codes, y, seed=0)
    level = codes[:, 0] == 7
    expected = (y[level, 0].sum() + 5.0 * y.mean()) / (level.sum() + 5.0)
    assert ts.tables_[0][7, 0] == pytest.approx(expected)
    unseen = TargetStatistics([0], ["id"], [40], 1, prior_weight=5.0)
    unseen.fit_transform(codes[:, :1], y, seed=0)
    assert unseen.tables_[0][35, 0] == pytest.approx(y.mean())  # no rows: the prior


def test_predict_time_values_and_json_round_trip():
    codes, y = data()
    ts = stats()
    oof = ts.fit_transform(codes, y, seed=0)
    assert oof.shape == (200, 2) and oof.dtype == np.float32
    np.testing.assert_allclose(oof.mean(0), 0, atol=1e-6)
    back = TargetStatistics.from_dict(json.loads(json.dumps(ts.to_dict())))
    np.testing.assert_array_equal(back.transform(codes), ts.transform(codes))
    assert ts.feature_names() == ["id_te", "grp_te"]


def test_multiclass_targets_are_one_hot_columns():
    t = target_columns(np.array([0, 2, 1, 2]), 3, "classification")
    np.testing.assert_array_equal(t.sum(1), 1)
    assert t.shape == (4, 3) and t[1, 2] == 1


def _frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 60, n)
    X = pd.DataFrame({"id": ids.astype(str), "x": rng.normal(size=n)})
    return X, (ids % 3 == 0) ^ (X["x"] > 1)


def test_estimator_with_target_stats_saves_and_loads(tmp_path):
    X, y = _frame()
    est = EmbeddingClassifier(target_stats=10, epochs=3, batch_size=32,
                              random_state=0).fit(X, y)  # fmt: skip
    assert est.target_stats_.names == ["id"]
    assert est.config_.n_cont == 2  # x and id_te
    names = est.get_feature_names_out()
    assert names[-1] == "id_te" and len(names) == est.transform(X).shape[1]
    back = EmbeddingClassifier.load(est.save(tmp_path / "m"))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    off = EmbeddingClassifier(target_stats=100, epochs=1, random_state=0).fit(X, y)
    assert off.target_stats_ is None  # no column has 100 categories
    with pytest.raises(ValueError, match="target_stats"):
        EmbeddingRegressor(target_stats=1, epochs=1).fit(X, X["x"])
