import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from tabtext.core import CheckpointError
from tabtext.tabular import EmbeddingClassifier, EmbeddingModel, EmbeddingRegressor

FAST = dict(
    epochs=8, batch_size=32, layers=(32, 16), ps=(0.0, 0.1), lr=2e-2, random_state=0
)


def make_frame(n=240, seed=0):
    """A store/day table where the target depends on the categories and a number."""
    rng = np.random.default_rng(seed)
    store = rng.choice(["a", "b", "c", "d", "e"], n)
    day = rng.integers(0, 7, n)
    temp = rng.normal(20, 5, n)
    effect = pd.Series(store).map({"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0, "e": 4.0})
    value = effect.to_numpy() + 0.5 * (day >= 5) + 0.1 * (temp - 20)
    X = pd.DataFrame(
        {
            "store": store,
            "day": pd.Categorical(day),
            "temp": temp,
            "date": pd.Timestamp("2015-01-01")
            + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        }
    )
    return X, value


@pytest.fixture(scope="module")
def clf_fitted():
    X, v = make_frame()
    y = np.where(v > 2.2, "high", "low")
    return EmbeddingClassifier(**FAST).fit(X, y), X, y


@pytest.fixture(scope="module")
def reg_fitted():
    X, v = make_frame()
    return EmbeddingRegressor(**FAST).fit(X, v * 100), X, v * 100


def test_classifier_learns_and_predicts_labels(clf_fitted):
    est, X, y = clf_fitted
    assert set(est.classes_) == {"high", "low"}
    assert est.score(X, y) > 0.85
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(1), 1)
    assert est.task_ == "classification"


def test_regressor_learns(reg_fitted):
    est, X, y = reg_fitted
    assert est.score(X, y) > 0.7
    assert not hasattr(est, "predict_proba")


def test_auto_task_inference():
    X, v = make_frame(80)
    assert EmbeddingModel(**FAST).fit(X, v).task_ == "regression"
    assert EmbeddingModel(**FAST).fit(X, v > 2).task_ == "classification"
    multi = np.stack([v > 1, v > 2, v > 3], 1).astype(int)
    est = EmbeddingModel(**FAST).fit(X, multi)
    assert est.task_ == "multilabel"
    assert est.predict(X).shape == (80, 3) and est.predict_proba(X).shape == (80, 3)


def test_unseen_categories_and_new_nans_never_crash(clf_fitted):
    est, X, _ = clf_fitted
    X2 = X.head(5).copy()
    X2["store"] = ["zzz", None, "a", "qq", np.nan]
    X2["temp"] = [np.nan, np.inf, 20.0, -np.inf, np.nan]
    pred = est.predict(X2)
    assert len(pred) == 5 and np.isfinite(est.predict_proba(X2)).all()


def test_columns_missing_at_predict_are_named(clf_fitted):
    est, X, _ = clf_fitted
    with pytest.raises(ValueError, match="store"):
        est.predict(X.drop(columns=["store"]))


@pytest.mark.parametrize(
    "y, match",
    [
        (np.array([1.0, np.nan] * 40), "NaN"),
        (np.arange(79), "same length"),
        (None, "requires y"),
    ],
)
def test_bad_targets(y, match):
    X, _ = make_frame(80)
    with pytest.raises(ValueError, match=match):
        EmbeddingRegressor(**FAST).fit(X, y)


def test_target_type_that_does_not_fit_the_task():
    X, v = make_frame(80)
    with pytest.raises(ValueError, match="Unknown label type"):
        EmbeddingClassifier(**FAST).fit(X, v)
    with pytest.raises(ValueError, match="multilabel"):
        EmbeddingModel(task="multilabel", **FAST).fit(X, v > 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        EmbeddingClassifier(**FAST).fit(X, ["same"] * 80)


def test_empty_input_and_bad_params():
    X, v = make_frame(80)
    with pytest.raises(ValueError, match="0 rows"):
        EmbeddingRegressor(**FAST).fit(X.iloc[:0], v[:0])
    with pytest.raises(ValueError, match="epochs"):
        EmbeddingRegressor(epochs=0).fit(X, v)
    with pytest.raises(ValueError, match="validation_fraction"):
        EmbeddingRegressor(validation_fraction=1.5).fit(X, v)


def test_clone_pipeline_grid_search_cross_val():
    X, v = make_frame(160)
    y = v > 2.2
    est = EmbeddingClassifier(**FAST)
    assert clone(est).get_params() == est.get_params()
    scores = cross_val_score(est, X, y, cv=2)
    assert len(scores) == 2 and (scores > 0.6).all()
    grid = GridSearchCV(est, {"lr": [1e-3, 2e-2]}, cv=2).fit(X, y)
    assert grid.best_params_["lr"] in (1e-3, 2e-2)
    Xn = X[["temp"]].to_numpy()
    pipe = make_pipeline(
        EmbeddingRegressor(**FAST), HistGradientBoostingRegressor(max_iter=20)
    )
    pipe.fit(Xn, v)
    assert pipe.predict(Xn).shape == (160,)


def test_embeddings_transform_and_plot(reg_fitted, tmp_path):
    est, X, _ = reg_fitted
    emb = est.embeddings_
    assert set(emb) >= {"store", "day"}
    store = emb["store"]
    assert list(store.index[1:]) == ["a", "b", "c", "d", "e"]
    assert (
        store.shape[1]
        == est.config_.emb_sizes[est.preprocessor_.cat_names_.index("store")]
    )
    Z = est.transform(X)
    assert Z.shape == (
        len(X),
        sum(est.config_.emb_sizes) + len(est.preprocessor_.cont_names_),
    )
    assert Z.dtype == np.float32
    assert len(est.get_feature_names_out()) == Z.shape[1]
    png = est.plot_embedding("store", tmp_path / "store.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="not an embedded column"):
        est.plot_embedding("temp", tmp_path / "x.png")


def test_emb_size_override_and_date_parts():
    X, v = make_frame(80)
    est = EmbeddingRegressor(**FAST, emb_sizes={"day": 4}).fit(X, v)
    names = est.preprocessor_.cat_names_
    assert est.config_.emb_sizes[names.index("day")] == 4
    assert any(n.startswith("date_") for n in names + est.preprocessor_.cont_names_)
    with pytest.raises(ValueError, match="not categorical inputs"):
        EmbeddingRegressor(**FAST, emb_sizes={"temp": 3}).fit(X, v)


def test_log_target_and_y_range():
    X, v = make_frame(160)
    y = np.exp(v)
    est = EmbeddingRegressor(**FAST, log_target=True).fit(X, y)
    pred = est.predict(X)
    assert (pred > 0).all()
    assert np.corrcoef(np.log1p(pred), np.log1p(y))[0, 1] > 0.8
    bounded = EmbeddingRegressor(**FAST, y_range=(0.0, 5.0)).fit(X, v)
    pred = bounded.predict(X)
    assert pred.min() >= 0 and pred.max() <= 5
    with pytest.raises(ValueError, match="log1p"):
        EmbeddingRegressor(**FAST, log_target=True).fit(X, v - 10)


def test_class_weight_shifts_predictions():
    X, v = make_frame(200)
    y = (v > 3.2).astype(int)  # imbalanced
    plain = EmbeddingClassifier(**FAST).fit(X, y).predict(X).mean()
    weighted = (
        EmbeddingClassifier(**FAST, class_weight="balanced").fit(X, y).predict(X).mean()
    )
    assert weighted >= plain


def test_early_stopping_with_validation():
    X, v = make_frame(200)
    est = EmbeddingRegressor(
        **{**FAST, "epochs": 30, "lr": 0.5}, validation_fraction=0.2, n_iter_no_change=2
    ).fit(X, v)
    assert "valid_loss" in est.history_ and len(est.history_) < 30
    Xv, vv = make_frame(50, seed=1)
    est2 = EmbeddingRegressor(**FAST).fit(X, v, eval_set=(Xv, vv))
    assert est2.history_["valid_loss"].notna().all()


def test_lr_auto_uses_the_finder():
    X, v = make_frame(200)
    est = EmbeddingRegressor(**{**FAST, "lr": "auto"}).fit(X, v)
    assert 1e-6 < est.lr_ < 10


def test_random_state_makes_fits_reproducible():
    X, v = make_frame(80)
    a = EmbeddingRegressor(**FAST).fit(X, v).predict(X)
    b = EmbeddingRegressor(**FAST).fit(X, v).predict(X)
    assert np.array_equal(a, b)


def test_save_load_and_pickle_round_trip(clf_fitted, tmp_path):
    est, X, _ = clf_fitted
    est.save(tmp_path / "m")
    loaded = EmbeddingModel.load(tmp_path / "m")
    assert type(loaded) is EmbeddingClassifier
    assert np.array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert np.array_equal(loaded.predict(X), est.predict(X))
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.predict(X), est.predict(X))
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["estimator.json", "manifest.json", "model.safetensors"]


def test_load_refuses_a_corrupted_model(clf_fitted, tmp_path):
    est, _, _ = clf_fitted
    est.save(tmp_path / "m")
    (tmp_path / "m" / "estimator.json").write_text("{}")
    with pytest.raises(CheckpointError, match="estimator.json is corrupted"):
        EmbeddingModel.load(tmp_path / "m")
