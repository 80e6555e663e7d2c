"""EmbeddingModel.fit_parquet: streaming statistics, the chunk loader, errors, quality."""

import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import r2_score

from tabtext.tabular import (
    EmbeddingClassifier,
    EmbeddingRegressor,
    TabularPreprocessor,
    TargetEncoder,
)
from tabtext.tabular.streaming_stats import Reservoir

FAST = dict(
    epochs=6, batch_size=32, layers=(32, 16), ps=(0.0, 0.0), lr=2e-2, random_state=0
)
ROW_GROUP = 64  # 600 rows -> 10 row groups
CHUNK = dict(batch_rows=50, shuffle_rows=100)


def make_table(n=600, seed=0) -> pd.DataFrame:
    """Every kind of column the preprocessor handles, with gaps; y learnable."""
    rng = np.random.default_rng(seed)
    shop = rng.choice(["a", "b", "c", "d", "e"], n).astype(object)
    shop[rng.random(n) < 0.05] = None
    temp = rng.normal(20, 5, n)
    temp[rng.random(n) < 0.1] = np.nan
    when = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D")
    effect = pd.Series(shop).map({"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0, "e": 4.0})
    code = rng.integers(0, 4, n)
    y = effect.fillna(2.0).to_numpy() + 0.1 * (np.nan_to_num(temp, nan=20) - 20)
    return pd.DataFrame(
        {
            "shop": shop,
            "code": code,
            "temp": temp,
            "count": rng.integers(0, 50, n),
            "flag": rng.random(n) < 0.3,
            "size": pd.Categorical(rng.choice(["S", "M", "L"], n), ["S", "M", "L"]),
            "when": pd.Series(when).where(rng.random(n) > 0.03),
            "y": 10 * (y + code) + 30,
            "label": np.where(y + 0.3 * code > 2.5, "high", "low"),
        }
    )


FEATURES = ["shop", "code", "temp", "count", "flag", "size", "when"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streaming")
    frame = make_table()
    frame.iloc[:500].to_parquet(folder / "train.parquet", row_group_size=ROW_GROUP)
    frame.iloc[500:].to_parquet(folder / "valid.parquet", row_group_size=ROW_GROUP)
    train = pd.read_parquet(folder / "train.parquet")  # the dtypes parquet gives back
    valid = pd.read_parquet(folder / "valid.parquet")
    return folder, train, valid


def _fit(path, **kw):
    params = {**FAST, "cat_cols": ["code"], "log_target": True}
    fit_kw = {
        k: kw.pop(k) for k in ("eval_set", "batch_rows", "shuffle_rows") if k in kw
    }
    est = EmbeddingRegressor(**{**params, **kw})
    return est.fit_parquet(path, "y", FEATURES, **{**CHUNK, **fit_kw})


@pytest.fixture(scope="module")
def streamed(table):
    folder, _, _ = table
    return _fit(folder / "train.parquet", eval_set=folder / "valid.parquet")


def _close(a, b, path="") -> None:
    """Equal dicts/lists, floats to 1e-9 relative (Welford vs numpy rounding)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (path, a, b)
    else:
        assert a == b and type(a) is type(b), (path, a, b)


# ---- statistics ---------------------------------------------------------------------
def test_streamed_preprocessor_equals_in_memory_fit(streamed, table):
    _, train, valid = table
    memory = TabularPreprocessor(cat_cols=["code"], min_freq=streamed.min_freq)
    memory = memory.fit(train[FEATURES])
    pre = streamed.preprocessor_
    assert pre.cat_names_ == memory.cat_names_  # dates, indicators, order
    assert pre.cardinalities_ == memory.cardinalities_
    assert "temp_na" in pre.cat_names_ and "when_elapsed" in pre.cont_names_
    # 500 rows < median_sample: the reservoir holds every value, medians are exact
    assert pre.fill_missing_.fill_values_ == memory.fill_missing_.fill_values_
    _close(pre.to_dict(), memory.to_dict())
    cats, conts = pre.transform(valid[FEATURES])
    cats_m, conts_m = memory.transform(valid[FEATURES])
    np.testing.assert_array_equal(cats, cats_m)
    np.testing.assert_allclose(conts, conts_m, rtol=1e-6, atol=1e-6)


def test_streamed_target_scaling_equals_in_memory(streamed, table):
    _, train, _ = table
    memory = TargetEncoder.fit(train["y"].to_numpy(), "regression", True, scale=True)
    assert streamed.task_ == "regression" and streamed.target_.log_target
    np.testing.assert_allclose(streamed.target_.mean, memory.mean, rtol=1e-12)
    np.testing.assert_allclose(streamed.target_.std, memory.std, rtol=1e-12)


def test_small_reservoir_median_is_close_and_seeded(streamed, table):
    folder, train, _ = table
    path = folder / "train.parquet"
    exact = streamed.preprocessor_.fill_missing_.fill_values_["temp"]
    ests = [
        EmbeddingRegressor(**{**FAST, "epochs": 1, "random_state": seed}).fit_parquet(
            path, "y", FEATURES, median_sample=40, **CHUNK
        )
        for seed in (0, 0, 1)
    ]
    fills = [e.preprocessor_.fill_missing_.fill_values_["temp"] for e in ests]
    finite = train["temp"].dropna()
    lo, hi = finite.quantile([0.3, 0.7])  # a 40-value sample's median: rank sd ~8%
    assert all(lo <= f <= hi for f in fills)
    assert fills[0] == fills[1] != fills[2]
    assert fills[0] != exact  # really sampled


def test_reservoir_is_a_uniform_sample():
    res = Reservoir(500, seed=0)
    for lo in range(0, 100_000, 7_000):  # chunks of uneven size
        res.add(np.arange(lo, min(lo + 7_000, 100_000), dtype=float))
    sample = res.values[: res.filled]
    assert res.filled == 500 and res.seen == 100_000
    assert len(np.unique(sample)) == 500  # without replacement
    # a uniform sample of 0..99,999: mean 50,000 with sd 28,868 / sqrt(500) = 1,291
    assert abs(sample.mean() - 50_000) < 4 * 1_291
    assert (sample >= 90_000).sum() > 20  # late items do get in


def test_fit_holds_at_most_a_few_chunks(streamed):
    info = streamed.stream_info_
    assert info["train_rows"] == 500 and info["row_groups"] == 8
    assert info["max_frame_rows"] <= CHUNK["batch_rows"]
    assert info["max_rows_held"] <= CHUNK["shuffle_rows"] + CHUNK["batch_rows"] - 1


# ---- training -----------------------------------------------------------------------
def test_streaming_fit_reaches_in_memory_quality(streamed, table):
    _, train, valid = table
    memory = EmbeddingRegressor(**FAST, cat_cols=["code"], log_target=True)
    memory.fit(train[FEATURES], train["y"], eval_set=(valid[FEATURES], valid["y"]))
    r2_mem = r2_score(valid["y"], memory.predict(valid[FEATURES]))
    r2_stream = r2_score(valid["y"], streamed.predict(valid[FEATURES]))
    # a learnable problem: both fit it, and streaming costs at most 0.05 of R^2
    assert r2_mem > 0.85 and r2_stream > 0.85
    assert r2_stream > r2_mem - 0.05
    assert "valid_loss" in streamed.history_  # the parquet eval_set was used


def test_same_seed_same_fit_other_seed_differs(streamed, table):
    folder, _, valid = table
    again = _fit(folder / "train.parquet", eval_set=folder / "valid.parquet")
    other = _fit(folder / "train.parquet", random_state=1)
    X = valid[FEATURES]
    np.testing.assert_array_equal(again.predict(X), streamed.predict(X))
    pd.testing.assert_frame_equal(
        again.history_.drop(columns="time"), streamed.history_.drop(columns="time")
    )
    assert not np.array_equal(other.predict(X), streamed.predict(X))


def test_save_load_and_predict_parquet(streamed, table, tmp_path):
    folder, _, valid = table
    loaded = EmbeddingRegressor.load(streamed.save(tmp_path / "model"))
    expected = streamed.predict(valid[FEATURES])
    np.testing.assert_array_equal(loaded.predict(valid[FEATURES]), expected)
    assert loaded.preprocessor_.to_dict() == streamed.preprocessor_.to_dict()
    preds = loaded.predict_parquet(folder / "valid.parquet", batch_rows=30)
    np.testing.assert_allclose(preds, expected, rtol=1e-6)
    out = loaded.predict_parquet(folder / "valid.parquet", tmp_path / "p.parquet")
    written = pq.read_table(out).column("prediction").to_numpy()
    np.testing.assert_allclose(written, expected, rtol=1e-6)


def test_classifier_from_parquet_with_held_out_row_groups(table):
    folder, train, valid = table
    est = EmbeddingClassifier(
        **FAST, cat_cols=["code"], class_weight="balanced", validation_fraction=0.25
    ).fit_parquet(folder / "train.parquet", "label", FEATURES, **CHUNK)
    assert list(est.classes_) == ["high", "low"]
    assert est.stream_info_["row_groups"] == 6  # 2 of 8 row groups held out
    assert est.stream_info_["train_rows"] < len(train)
    assert "valid_loss" in est.history_
    assert est.score(valid[FEATURES], valid["label"]) > 0.8


def test_in_memory_eval_set(table):
    folder, _, valid = table
    est = _fit(folder / "train.parquet", eval_set=(valid[FEATURES], valid["y"]))
    assert est.history_["valid_loss"].notna().all()


# ---- errors -------------------------------------------------------------------------
def test_missing_target_or_column_names_file_and_column(table, tmp_path):
    folder, train, _ = table
    path = folder / "train.parquet"
    with pytest.raises(ValueError, match=r"train\.parquet.*no target column 'Sales'"):
        EmbeddingRegressor().fit_parquet(path, "Sales")
    train[["shop", "y"]].to_parquet(tmp_path / "b.parquet")
    train.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(ValueError, match=r"b\.parquet.*lacks the columns \['code'"):
        EmbeddingRegressor().fit_parquet(tmp_path, "y", ["shop", "code"])


def test_empty_and_non_parquet_inputs(table, tmp_path):
    _, train, _ = table
    train.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(ValueError, match=r"empty\.parquet.*0 rows"):
        EmbeddingRegressor().fit_parquet(tmp_path / "empty.parquet", "y")
    train.to_csv(tmp_path / "t.csv")
    with pytest.raises(ValueError, match=r"t\.csv.*not a readable parquet file"):
        EmbeddingRegressor().fit_parquet(tmp_path / "t.csv", "y")
    with pytest.raises(FileNotFoundError, match="nope"):
        EmbeddingRegressor().fit_parquet(tmp_path / "nope", "y")
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="holds no parquet files"):
        EmbeddingRegressor().fit_parquet(tmp_path / "none", "y")


def test_bad_values_name_their_row_group(table, tmp_path):
    _, train, _ = table
    bad = train.copy()
    bad.loc[200, "y"] = np.nan
    bad.to_parquet(tmp_path / "nan.parquet", row_group_size=ROW_GROUP)
    with pytest.raises(ValueError, match=r"nan\.parquet', row group 3: y has NaN"):
        EmbeddingRegressor().fit_parquet(tmp_path / "nan.parquet", "y", FEATURES)
    train.to_parquet(tmp_path / "one.parquet")  # a single row group
    with pytest.raises(ValueError, match="only 1; write it with smaller row groups"):
        EmbeddingRegressor(validation_fraction=0.2).fit_parquet(
            tmp_path / "one.parquet", "y", FEATURES
        )


def test_checkpointed_fit_resumes_only_on_the_same_files(table, tmp_path, monkeypatch):
    from tabtext.core import Checkpoint

    folder, _, valid = table
    path = tmp_path / "train.parquet"
    pd.read_parquet(folder / "train.parquet").to_parquet(path, row_group_size=ROW_GROUP)
    reference = _fit(path, epochs=3)
    save = Checkpoint.after_epoch

    def killed_after_epoch_1(self, learn):
        save(self, learn)
        if learn.epoch == 1:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Checkpoint, "after_epoch", killed_after_epoch_1)
        with pytest.raises(KeyboardInterrupt):
            _fit(path, epochs=3, checkpoint_dir=tmp_path / "ckpt")
    resumed = _fit(path, epochs=3, checkpoint_dir=tmp_path / "ckpt")
    X = valid[FEATURES]
    np.testing.assert_array_equal(resumed.predict(X), reference.predict(X))
    assert len(resumed.history_) == 3
    pd.read_parquet(path).iloc[::-1].to_parquet(path, row_group_size=ROW_GROUP)
    other = _fit(path, epochs=3, checkpoint_dir=tmp_path / "ckpt")  # new data: afresh
    assert not np.array_equal(other.predict(X), resumed.predict(X))
