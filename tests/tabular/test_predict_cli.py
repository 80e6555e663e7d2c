"""python -m tabtext.tabular.predict: predictions and scores of a saved model."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tabtext.core.io import save_model_dir
from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor
from tabtext.tabular.persistence import KIND
from tabtext.tabular.predict import build_parser, main

FAST = dict(epochs=3, batch_size=32, layers=(16, 8), ps=(0.0, 0.0), random_state=0)


def make_frame(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "shop": rng.choice(["a", "b", "c"], n),
            "price": rng.normal(10, 2, n),
            "day": pd.Timestamp("2015-01-01")
            + pd.to_timedelta(rng.integers(0, 90, n), "D"),  # text in a CSV file
        }
    )
    value = X["shop"].map(dict(a=0.0, b=1.0, c=2.0)) + 0.3 * (X["price"] - 10)
    return X, value.to_numpy()


@pytest.fixture(scope="module")
def clf_dir(tmp_path_factory):
    X, v = make_frame()
    y = pd.Series(np.where(v > 1, "yes", "no"), name="bought")
    est = EmbeddingClassifier(**FAST).fit(X, y)
    assert est.target_column_ == "bought"
    tmp = tmp_path_factory.mktemp("clf")
    est.save(tmp / "model")
    data = X.assign(bought=y, extra=1)  # an extra column is ignored
    data.to_parquet(tmp / "data.parquet")
    data.to_csv(tmp / "data.csv", index=False)
    return tmp, est, X, y


def test_parquet_in_parquet_out_with_scores(clf_dir, capsys):
    tmp, est, X, y = clf_dir
    m = main(
        [str(tmp / "model"), str(tmp / "data.parquet"), "--out", str(tmp / "p.parquet")]
    )
    out = pd.read_parquet(tmp / "p.parquet")
    assert list(out.columns) == ["prediction", "proba_no", "proba_yes"]
    np.testing.assert_array_equal(out["prediction"], est.predict(X))
    np.testing.assert_allclose(out[["proba_no", "proba_yes"]], est.predict_proba(X))
    assert m["accuracy"] == pytest.approx(est.score(X, y))
    assert m["auc"] == pytest.approx(roc_auc_score(y == "yes", out["proba_yes"]))
    assert m["n"] == len(X) and m["scored_rows"] == len(X)
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "auc" in printed and f"{len(X)} rows" in printed


def test_csv_in_csv_out_and_json(clf_dir, capsys):
    tmp, est, X, _ = clf_dir
    argv = [str(tmp / "model"), str(tmp / "data.csv"), "--out", str(tmp / "p.csv")]
    m = main([*argv, "--json"])
    assert json.loads(capsys.readouterr().out)["accuracy"] == m["accuracy"]
    out = pd.read_csv(tmp / "p.csv")
    np.testing.assert_array_equal(out["prediction"], est.predict(X))


def test_unlabeled_file_is_predicted_without_a_score(clf_dir):
    tmp, _, X, _ = clf_dir
    X.to_parquet(tmp / "unlabeled.parquet")
    m = main([str(tmp / "model"), str(tmp / "unlabeled.parquet")])
    assert "accuracy" not in m and m["n"] == len(X)


def test_regression_rmse_mae_and_old_model_dirs(tmp_path):
    X, v = make_frame()
    y = pd.Series(v * 10, name="sales")
    est = EmbeddingRegressor(**FAST).fit(X, y)
    est.save(tmp_path / "model")
    X.assign(sales=y).to_parquet(tmp_path / "d.parquet")
    m = main([str(tmp_path / "model"), str(tmp_path / "d.parquet")])
    err = est.predict(X) - y.to_numpy()
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(err)))
    # a directory saved before the target column was stored: loads, scores with --target
    state = json.loads((tmp_path / "model" / "estimator.json").read_text())
    del state["target_column"]
    save_model_dir(tmp_path / "old", KIND, est.model_, {"estimator.json": state})
    assert "rmse" not in main([str(tmp_path / "old"), str(tmp_path / "d.parquet")])
    m_old = main(
        [str(tmp_path / "old"), str(tmp_path / "d.parquet"), "--target", "sales"]
    )
    assert m_old["rmse"] == pytest.approx(m["rmse"])


def test_fit_parquet_keeps_the_target_column(tmp_path):
    X, v = make_frame()
    X.assign(label=v > 1).to_parquet(tmp_path / "t.parquet")
    est = EmbeddingClassifier(**{**FAST, "epochs": 1}).fit_parquet(
        tmp_path / "t.parquet", "label"
    )
    assert est.target_column_ == "label"


def fails(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return str(e.value.code)


def test_missing_columns_are_named(clf_dir, tmp_path):
    tmp, _, X, _ = clf_dir
    X.drop(columns=["price"]).to_csv(tmp_path / "no_price.csv", index=False)
    msg = fails([str(tmp / "model"), str(tmp_path / "no_price.csv")])
    assert "lacks the model's input columns ['price']" in msg and "no_price.csv" in msg


def test_unreadable_files_and_wrong_model_dirs(clf_dir, tmp_path):
    tmp, *_ = clf_dir
    (tmp_path / "junk.parquet").write_bytes(b"not a parquet file at all")
    msg = fails([str(tmp / "model"), str(tmp_path / "junk.parquet")])
    assert "junk.parquet cannot be read as parquet" in msg
    msg = fails([str(tmp / "model"), str(tmp_path / "missing.csv")])
    assert "missing.csv: no such file" in msg
    msg = fails([str(tmp_path / "nowhere"), str(tmp / "data.csv")])
    assert "nowhere: no such directory" in msg
    (tmp_path / "empty").mkdir()
    msg = fails([str(tmp_path / "empty"), str(tmp / "data.csv")])
    assert "is not a saved EmbeddingModel" in msg and "manifest.json is missing" in msg
    msg = fails([str(tmp / "model"), str(tmp / "data.csv"), "--target", "nope"])
    assert "no target column 'nope'" in msg


def test_help_names_each_default_once():
    text = build_parser().format_help()
    assert text.count("(default") == 1  # --target's, written by hand
    assert all(line.count("default") <= 1 for line in text.splitlines())
