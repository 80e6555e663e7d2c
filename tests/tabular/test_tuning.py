"""tune(): seeded Optuna search over the estimator's parameters on tiny data."""

import numpy as np
import pytest

from tabtext.tabular import (
    EmbeddingClassifier,
    EmbeddingRegressor,
    default_search_space,
    tune,
)
from tabtext.tabular.tuning import monitor_of

from .test_estimator import make_frame

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = dict(epochs=2, device="cpu")
CALLBACKS = "callbacks" in EmbeddingRegressor().get_params()
EVAL_METRIC = "eval_metric" in EmbeddingRegressor().get_params()


def _split():
    X, v = make_frame(n=200)
    return X[:160], v[:160], X[160:], v[160:]


@pytest.fixture(scope="module")
def tuned():
    X, y, Xv, yv = _split()
    est = EmbeddingRegressor(**TINY)
    return tune(X, y, estimator=est, n_trials=3, eval_set=(Xv, yv), seed=1)


def test_each_trial_is_scored_by_its_best_validation_loss(tuned):
    _, study = tuned
    assert len(study.trials) == 3
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    values = [t.value for t in study.trials]
    assert study.best_value == min(values)
    assert len(set(values)) == 3  # different parameters, different fits


def test_the_refit_is_the_best_trial_again(tuned):
    est, study = tuned
    p = study.best_params
    assert len(est.layers) == p["n_layers"] and est.layers[0] == p["width"]
    assert est.ps == (p["dropout"],) * p["n_layers"]
    assert est.lr == p["lr"] and est.weight_decay == p["weight_decay"]
    assert est.epochs == 2 and est.random_state == 1  # kept from the estimator, seed
    # seeded: the refit reaches the best trial's validation loss exactly
    assert est.history_["valid_loss"].min() == pytest.approx(study.best_value)


def test_the_same_call_gives_the_same_trials(tuned):
    X, y, Xv, yv = _split()
    _, again = tune(X, y, estimator=EmbeddingRegressor(**TINY), n_trials=3,
                    eval_set=(Xv, yv), seed=1, refit=False)  # fmt: skip
    first = tuned[1]
    assert [t.params for t in again.trials] == [t.params for t in first.trials]
    assert [t.value for t in again.trials] == pytest.approx(
        [t.value for t in first.trials]
    )


def test_without_eval_set_a_fraction_validates_and_fixed_wins():
    X, v = make_frame(n=160)
    y = np.where(v > 2.2, "high", "low")
    est, study = tune(X, y, estimator=EmbeddingClassifier(**TINY), n_trials=2,
                      fixed={"batch_size": 16})  # fmt: skip
    assert est.validation_fraction == 0.2 and est.batch_size == 16
    assert est.batch_size_ == 16 and set(est.classes_) == {"high", "low"}
    assert len(study.trials) == 2


def test_default_search_space_builds_estimator_params():
    trial = optuna.trial.FixedTrial(
        {"n_layers": 3, "width": 256, "dropout": 0.2, "lr": 0.01,
         "weight_decay": 0.05, "emb_drop": 0.1, "emb_size_factor": 2.0,
         "batch_size": 1024, "epochs": 6}
    )  # fmt: skip
    params = default_search_space(trial, {"store": 6, "day": 1000}, n_train=50_000)
    assert params["layers"] == (256, 128, 64) and params["ps"] == (0.2, 0.2, 0.2)
    # twice the rule: round(1.6 * 6 ** 0.56) = 4 -> 8; round(1.6 * 1000 ** 0.56) = 77
    assert params["emb_sizes"] == {"store": 8, "day": 154}
    assert params["batch_size"] == 1024 and params["epochs"] == 6
    small = optuna.trial.FixedTrial(
        {"n_layers": 1, "width": 64, "dropout": 0.0, "lr": 0.01,
         "weight_decay": 0.01, "emb_drop": 0.0, "batch_size": "auto"}
    )  # fmt: skip
    params = default_search_space(small, {}, n_train=500)
    assert "epochs" not in params and "emb_sizes" not in params
    assert params["batch_size"] == "auto"  # 128 rows x 8 batches > 500 rows
    with pytest.raises(ValueError):  # 1024 is not among a small table's choices
        default_search_space(trial, {}, n_train=500)


def test_a_custom_space_is_used():
    X, y, Xv, yv = _split()

    def space(trial):
        return {"lr": trial.suggest_float("lr", 1e-3, 1e-2, log=True), "layers": (8,),
                "ps": (0.0,)}  # fmt: skip

    est, study = tune(X, y, estimator=EmbeddingRegressor(**TINY), n_trials=1,
                      eval_set=(Xv, yv), search_space=space, refit=False)  # fmt: skip
    assert est is None and list(study.best_params) == ["lr"]


def test_monitor_and_direction():
    assert monitor_of(None, None) == ("valid_loss", "minimize")
    assert monitor_of("roc_auc", None) == ("roc_auc", "maximize")
    assert monitor_of("rmse", None) == ("rmse", "minimize")

    def gain(y_true, y_pred):
        return 0.0

    assert monitor_of(gain, "maximize") == ("gain", "maximize")
    with pytest.raises(ValueError, match="needs direction="):
        monitor_of(gain, None)
    with pytest.raises(ValueError, match="direction must be"):
        monitor_of("f1", "up")


def test_errors_say_what_to_do():
    X, y, Xv, yv = _split()
    maximizing = optuna.create_study(direction="maximize")
    with pytest.raises(ValueError, match="set to maximize, but valid_loss"):
        tune(X, y, estimator=EmbeddingRegressor(**TINY), study=maximizing,
             eval_set=(Xv, yv))  # fmt: skip
    with pytest.raises(RuntimeError, match="none of the study's 0 trials completed"):
        tune(X, y, estimator=EmbeddingRegressor(**TINY), n_trials=0,
             eval_set=(Xv, yv))  # fmt: skip


@pytest.mark.skipif(not CALLBACKS, reason="the estimators take no callbacks= yet")
def test_pruned_trials_stop_early():
    X, y, Xv, yv = _split()
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.ThresholdPruner(upper=0.0),  # every trial pruned
    )
    with pytest.raises(RuntimeError, match="none of the study's 2 trials completed"):
        tune(X, y, estimator=EmbeddingRegressor(epochs=4, device="cpu"), n_trials=2,
             eval_set=(Xv, yv), study=study)  # fmt: skip
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    assert all(list(t.intermediate_values) == [0] for t in study.trials)


@pytest.mark.skipif(not EVAL_METRIC, reason="the estimators take no eval_metric= yet")
def test_eval_metric_is_passed_and_scored():
    X, v = make_frame(n=200)
    y = v > 2.2
    est, study = tune(X[:160], y[:160], estimator=EmbeddingClassifier(**TINY),
                      n_trials=2, eval_set=(X[160:], y[160:]),
                      eval_metric="roc_auc")  # fmt: skip
    assert est.eval_metric == "roc_auc"
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.best_value == pytest.approx(est.history_["roc_auc"].max())
