"""eval_metric: names, EvalMetric and (callable, direction) resolve per task; the
metric picks the restored best epoch and drives early stopping; it is weighted by
the validation rows' weights; a custom one does not stop save/load."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, root_mean_squared_error

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor, EvalMetric
from tabtext.tabular.eval_metric import monitor, resolve

TINY = dict(layers=(8,), ps=(0.0,), random_state=0)


def make_frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"c": rng.choice(list("abc"), n), "x": rng.normal(size=n)})
    return X, X["x"].to_numpy() * 3 + (X["c"] == "a").to_numpy()


def test_names_resolve_per_task():
    assert resolve("loss", "regression") is None
    assert monitor(None) == ("valid_loss", "min")
    assert monitor(resolve("roc_auc", "classification")) == ("roc_auc", "max")
    assert monitor(resolve("mae", "regression")) == ("mae", "min")
    assert monitor(resolve((f1_score, "max"), "classification")) == ("f1_score", "max")
    with pytest.raises(ValueError, match="is for regression.*'accuracy'"):
        resolve("rmse", "classification")
    with pytest.raises(ValueError, match="one of"):
        resolve("auc", "classification")
    with pytest.raises(ValueError, match="needs its direction"):
        resolve(f1_score, "classification")
    with pytest.raises(ValueError, match="'max' or 'min'"):
        resolve((f1_score, "up"), "classification")


class Recorded:
    """A metric whose value per epoch is given, recording the predictions it saw."""

    def __init__(self, values):
        self.values, self.seen = values, []
        self.__name__ = "recorded"

    def __call__(self, y_true, y_pred):
        self.seen.append(np.array(y_pred))
        return self.values[len(self.seen) - 1]


def test_the_metric_picks_the_restored_epoch():
    X, y = make_frame()
    metric = Recorded([0.1, 0.9, 0.2, 0.3])
    est = EmbeddingRegressor(epochs=4, eval_metric=(metric, "max"), **TINY)
    est.fit(X[:80], y[:80], eval_set=(X[80:], y[80:]))
    assert est.history_["recorded"].tolist() == [0.1, 0.9, 0.2, 0.3]
    got = est.predict(X[80:])
    np.testing.assert_allclose(got, metric.seen[1], rtol=1e-4, atol=1e-4)
    assert not np.allclose(got, metric.seen[3], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("direction, epochs_run", [("max", 3), ("min", 6)])
def test_the_metric_drives_early_stopping(direction, epochs_run):
    X, y = make_frame()
    falling = EvalMetric(Recorded([6.0, 5.0, 4.0, 3.0, 2.0, 1.0]), direction)
    est = EmbeddingRegressor(epochs=6, n_iter_no_change=2, eval_metric=falling, **TINY)
    est.fit(X, y, eval_set=(X[80:], y[80:]))
    assert len(est.history_) == epochs_run


def test_a_builtin_metric_is_weighted_by_the_validation_weights():
    X, y = make_frame()
    w = np.random.default_rng(1).uniform(0.1, 3, 40)
    est = EmbeddingRegressor(epochs=2, eval_metric="rmse", **TINY)
    est.fit(X[:80], y[:80], eval_set=(X[80:], y[80:], w))
    expected = root_mean_squared_error(y[80:], est.predict(X[80:]), sample_weight=w)
    assert est.history_["rmse"].iloc[-1] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("name", ["accuracy", "roc_auc", "f1"])
def test_classification_metrics_on_string_labels(name):
    X, y = make_frame()
    labels = np.where(y > 0.5, "yes", "no")
    est = EmbeddingClassifier(
        epochs=3, validation_fraction=0.3, eval_metric=name, **TINY
    )
    est.fit(X, labels)
    scores = est.history_[name]
    assert scores.notna().all() and (scores > 0.5).all()


def test_a_custom_metric_is_left_out_of_the_saved_parameters(tmp_path):
    X, y = make_frame()
    est = EmbeddingRegressor(epochs=1, eval_metric=(root_mean_squared_error, "min"))
    est.set_params(**TINY).fit(X, y, eval_set=(X[80:], y[80:]))
    back = EmbeddingRegressor.load(est.save(tmp_path / "m"))
    assert back.eval_metric == "loss"
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
