"""ONNX export of EmbeddingModel: onnxruntime predicts what the estimator predicts."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from tabtext.tabular import EmbeddingClassifier, EmbeddingModel, EmbeddingRegressor
from tabtext.tabular.export import main as export_main

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

FAST = dict(epochs=2, batch_size=32, layers=(16, 8), ps=(0.0, 0.1), random_state=0)
BATCHES = (1, 7, 120)


def make_frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "store": rng.choice(["a", "b", "c", "d"], n),
            "day": rng.integers(0, 7, n),
            "temp": rng.normal(20, 5, n),
        }
    )
    X.loc[::9, "temp"] = np.nan  # a <col>_na indicator column
    value = X["store"].map(dict(a=0.0, b=1.0, c=2.0, d=3.0)) + 0.1 * X["temp"].fillna(
        20
    )
    return X, value.to_numpy()


def new_rows(X):
    """Rows as at predict time: an unseen category, a missing one, a new NaN."""
    X = X.copy()
    X.loc[0, "store"], X.loc[1, "store"] = "zzz", None
    X.loc[2, "day"], X.loc[3, "temp"] = 99, np.nan
    return X


def session(est, path):
    out = est.export_onnx(path)
    assert out == path and path.exists()
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run(sess, est, X):
    cats, conts = est.preprocessor_.transform(X)
    return sess.run(None, {"cats": cats, "conts": conts})


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    """Exported with the CLI from a saved model directory."""
    X, v = make_frame()
    est = EmbeddingClassifier(cat_cols=["day"], **FAST).fit(
        X, np.where(v > 2, "hi", "lo")
    )
    tmp = tmp_path_factory.mktemp("binary")
    est.save(tmp / "model")
    out = export_main([str(tmp / "model"), str(tmp / "m.onnx")])
    assert out == tmp / "m.onnx"
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return est, sess, new_rows(X)


@pytest.mark.parametrize("n", BATCHES)
def test_binary_probabilities_and_labels_match(binary, n):
    est, sess, X = binary
    proba, idx = run(sess, est, X.head(n))
    assert proba.shape == (n, 2) and idx.shape == (n,) and idx.dtype == np.int64
    np.testing.assert_allclose(proba, est.predict_proba(X.head(n)), atol=1e-6, rtol=0)
    np.testing.assert_array_equal(est.classes_[idx], est.predict(X.head(n)))


def test_graph_has_a_dynamic_batch_axis_and_metadata(binary):
    est, sess, _ = binary
    inputs = {i.name: i for i in sess.get_inputs()}
    assert set(inputs) == {"cats", "conts"}
    assert isinstance(inputs["cats"].shape[0], str)  # symbolic: any batch size
    assert inputs["cats"].shape[1] == len(est.preprocessor_.cat_names_)
    assert inputs["conts"].shape[1] == len(est.preprocessor_.cont_names_)
    assert [o.name for o in sess.get_outputs()] == ["probabilities", "class_index"]
    meta = json.loads(sess.get_modelmeta().custom_metadata_map["tabtext"])
    assert meta["task"] == "classification" and meta["classes"] == ["hi", "lo"]
    assert meta["cat_names"] == list(est.preprocessor_.cat_names_)
    assert meta["cont_names"] == list(est.preprocessor_.cont_names_)
    assert "temp_na" in meta["cat_names"]  # the missing-value indicator


def test_multiclass_without_categorical_columns(tmp_path):
    X, v = make_frame()
    X = X[["temp"]]  # no categorical input: cats has zero columns
    y = np.digitize(v, [1.5, 2.5])
    est = EmbeddingClassifier(**FAST).fit(X, y)
    sess = session(est, tmp_path / "m.onnx")
    for n in BATCHES:
        proba, idx = run(sess, est, X.head(n))
        assert proba.shape == (n, 3)
        np.testing.assert_allclose(proba, est.predict_proba(X.head(n)), atol=1e-6)
        np.testing.assert_array_equal(est.classes_[idx], est.predict(X.head(n)))


def test_regression_decodes_log_target_in_the_graph(tmp_path):
    X, v = make_frame()
    est = EmbeddingRegressor(log_target=True, **FAST).fit(X, np.exp(v))
    sess = session(est, tmp_path / "m.onnx")
    assert [o.name for o in sess.get_outputs()] == ["prediction"]
    for n in BATCHES:
        (pred,) = run(sess, est, new_rows(X).head(n))
        assert pred.shape == (n, 1) and pred.dtype == np.float64
        np.testing.assert_allclose(
            pred[:, 0], est.predict(new_rows(X).head(n)), rtol=1e-5, atol=0
        )


def test_multilabel_probabilities_match(tmp_path):
    X, v = make_frame()
    y = np.stack([v > 1, v > 2], 1).astype(int)
    est = EmbeddingModel(task="multilabel", **FAST).fit(X, y)
    sess = session(est, tmp_path / "m.onnx")
    (proba,) = run(sess, est, X)
    np.testing.assert_allclose(proba, est.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal((proba > 0.5).astype(int), est.predict(X))


def test_missing_onnx_extra_says_what_to_install(binary, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import now fails
    with pytest.raises(ImportError, match=r"tabtext\[onnx\]"):
        binary[0].export_onnx(tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_quantile_regression_exports_median_and_quantiles(tmp_path):
    X, v = make_frame()
    est = EmbeddingRegressor(loss="quantile", quantiles=(0.2, 0.5, 0.8), **FAST)
    est.fit(X, v)
    sess = session(est, tmp_path / "m.onnx")
    assert [o.name for o in sess.get_outputs()] == ["prediction", "quantiles"]
    meta = json.loads(sess.get_modelmeta().custom_metadata_map["tabtext"])
    assert meta["quantiles"] == [0.2, 0.5, 0.8]
    for n in BATCHES:
        pred, quantiles = run(sess, est, new_rows(X).head(n))
        assert pred.shape == (n, 1) and quantiles.shape == (n, 3)
        expected = est.predict_quantiles(new_rows(X).head(n))
        np.testing.assert_allclose(quantiles, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(pred[:, 0], est.predict(new_rows(X).head(n)))
