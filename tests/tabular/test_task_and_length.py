"""Task inference (floats, log_target and y_range mean regression; too many labels are
refused) and the training length of the defaults (epochs / batch_size "auto"), and
predictions that do not depend on the other rows predicted with them."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from tabtext.core import TensorLoader
from tabtext.tabular import EmbeddingClassifier, EmbeddingModel, EmbeddingRegressor
from tabtext.tabular.tasks import MAX_CLASSES, infer_task
from tabtext.tabular.training import (
    AUTO_BATCH,
    BIG_TABLE,
    MAX_PASSES,
    MIN_STEPS,
    Passes,
    batch_size_for,
    epoch_plan,
)

TINY = dict(layers=(8,), ps=(0.0,), random_state=0)


def make_frame(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"shop": rng.choice(list("abcd"), n), "x": rng.normal(size=n)})
    v = X["x"].to_numpy() * 2 + (X["shop"] == "a").to_numpy()
    return X, v


# ---- task inference ---------------------------------------------------------------
def test_integral_floats_are_regression_integer_codes_classification():
    sales = np.round(np.random.default_rng(0).gamma(5, 1000, 3000))  # 1.0, 2.0, ...
    assert infer_task(sales, "auto") == "regression"
    assert infer_task(np.array([0.0, 1.0, 1.0, 0.0]), "auto") == "regression"
    assert infer_task(np.array([0, 2, 1, 2, 0]), "auto") == "classification"
    assert infer_task(np.array(["a", "b", "a"]), "auto") == "classification"
    # the classifier still takes float-coded labels (sklearn's checks pass them)
    assert infer_task(np.array([0.0, 1.0, 1.0]), "auto_classifier") == "classification"
    onehot = np.eye(3)[[0, 1, 2, 1]]  # a 2-D 0/1 float matrix stays multi-label
    assert infer_task(onehot, "auto") == "multilabel"


def test_log_target_and_y_range_mean_regression_even_for_int_labels():
    X, v = make_frame(40)
    y = (v > 0).astype(int) + 1  # two integer levels: class labels by themselves
    assert EmbeddingModel(**TINY).fit(X, y).task_ == "classification"
    est = EmbeddingModel(log_target=True, epochs=1, **TINY).fit(X, y)
    assert est.task_ == "regression" and not hasattr(est, "predict_proba")
    est = EmbeddingModel(y_range=(0.0, 3.0), epochs=1, **TINY).fit(X, y)
    assert est.task_ == "regression"
    with pytest.raises(ValueError, match="log_target=True or a y_range"):
        EmbeddingModel(log_target=True).fit(X, np.array(["a", "b"] * 20))


@pytest.mark.parametrize("cls", [EmbeddingModel, EmbeddingClassifier])
def test_labels_that_are_too_many_for_classes_are_refused(cls):
    X, _ = make_frame(3000)
    counts = np.arange(3000)  # int labels, one per row: a numeric target
    with pytest.raises(ValueError, match=r"3,000 distinct labels.*task='regression'"):
        cls(**TINY).fit(X, counts)
    many = np.arange(3000) % (MAX_CLASSES + 1)  # 1.5 rows per label, but > 2000
    with pytest.raises(ValueError, match="too many for classification"):
        cls(**TINY).fit(X, many)
    with pytest.raises(ValueError, match="task='classification'"):  # near the rows
        cls(**TINY).fit(X.head(100), np.arange(100) % 60)


def test_class_count_limits_and_the_explicit_escape():
    assert infer_task(np.arange(200) % 60, "auto") == "classification"  # 60 <= 100
    assert infer_task(np.arange(60) % 50, "auto") == "classification"  # <= 50
    assert infer_task(np.arange(100) % 60, "classification") == "classification"
    assert infer_task(np.arange(4000), "classification") == "classification"
    with pytest.raises(ValueError, match="too many"):
        infer_task(np.arange(100) % 51, "auto")


def test_streaming_fit_infers_like_the_in_memory_fit(tmp_path):
    X, v = make_frame(300)
    path = tmp_path / "t.parquet"
    frame = X.assign(y=np.round(np.abs(v) * 1000), k=np.arange(300))
    pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=100)
    est = EmbeddingModel(epochs=1, **TINY).fit_parquet(path, "y", ["shop", "x"])
    assert est.task_ == "regression"  # integral floats
    with pytest.raises(ValueError, match="300 distinct labels.*task='regression'"):
        EmbeddingModel(**TINY).fit_parquet(path, "k", ["shop", "x"])


# ---- training length ----------------------------------------------------------------
def plan(n_rows: int, epochs="auto", batch_size="auto"):
    bs = batch_size_for(batch_size, n_rows)
    n_batches = -(-n_rows // bs)
    epochs, passes = epoch_plan(epochs, n_batches)
    return bs, epochs, passes, epochs * passes * n_batches


def test_auto_length_on_small_mid_and_large_tables():
    assert plan(10) == (10, 5, 4, 20)  # one batch; capped at MAX_PASSES passes
    assert plan(50) == (9, 5, 4, 120)  # 6 balanced batches; capped at 20 passes
    assert plan(1000) == (125, 5, 4, 160)  # capped at 20 passes
    bs, epochs, passes, steps = plan(5000)
    assert bs == AUTO_BATCH and passes == 4 and steps >= MIN_STEPS
    # from about 20,000 rows: plain epochs of 512-row batches, as epochs=5 gave
    assert plan(10_000) == (AUTO_BATCH, 5, 2, 5 * 2 * 20)
    assert plan(20_000) == (AUTO_BATCH, 5, 1, 5 * 40)
    assert plan(100_000) == (AUTO_BATCH, 5, 1, 5 * 196)
    # from BIG_TABLE rows: batches twice as large, half the steps
    assert plan(BIG_TABLE - 1)[0] == AUTO_BATCH
    assert plan(BIG_TABLE) == (2 * AUTO_BATCH, 5, 1, 5 * -(-BIG_TABLE // 1024))
    assert plan(10, epochs=3, batch_size=4) == (4, 3, 1, 9)  # ints taken as given
    for n in (2, 16, 31, 100, 300, 4096, 9000):
        bs, epochs, passes, steps = plan(n)
        assert steps >= MIN_STEPS or epochs * passes == MAX_PASSES


def test_passes_reshuffle_and_see_every_row_once_per_pass():
    loader = TensorLoader(torch.arange(10), torch.zeros(10), batch_size=4, shuffle=True)
    epoch = Passes(loader, 3)
    rows = [x for xb, _ in epoch for x in xb.tolist()]
    assert len(epoch) == 9 and len(rows) == 30
    passes = [rows[i : i + 10] for i in (0, 10, 20)]
    assert all(sorted(p) == list(range(10)) for p in passes)
    assert passes[0] != passes[1]
    assert epoch.state_dict() == loader.state_dict()


def test_default_fit_trains_a_small_table_well():
    X, v = make_frame(200)
    est = EmbeddingRegressor(random_state=0).fit(X, v)
    assert est.batch_size_ == 25 and est.n_steps_ == 160 and len(est.history_) == 5
    assert est.passes_per_epoch_ == 4  # 8 batches a pass, 5 epochs: 4 passes each
    assert est.score(X, v) > 0.9
    old = EmbeddingRegressor(epochs=5, batch_size=512, random_state=0).fit(X, v)
    assert old.n_steps_ == 5  # what the old defaults gave: one step an epoch
    # early stopping counts epochs of several passes: a 40-row validation split
    # still leaves a well-trained fit
    val = EmbeddingRegressor(validation_fraction=0.2, random_state=0).fit(X, v)
    assert val.n_steps_ == 160 and val.score(X, v) > 0.85  # 20 passes of 8 batches


# ---- predictions independent of the batch ---------------------------------------------
def test_a_row_predicts_the_same_alone_or_with_others():
    X, v = make_frame(200)
    reg = EmbeddingRegressor(epochs=1, **TINY).fit(X, v * 1e4)  # outputs ~1e4
    full = reg.predict(X)
    alone = np.array([reg.predict(X.iloc[[i]])[0] for i in range(20)])
    # sklearn's subset check: atol 1e-7 (float32 outputs of 1e4 differ by ~1e-3)
    np.testing.assert_allclose(alone, full[:20], rtol=0, atol=1e-7)
    np.testing.assert_allclose(reg.predict(X.iloc[5:12]), full[5:12], rtol=0, atol=1e-7)
    np.testing.assert_allclose(reg.transform(X.iloc[[3]]), reg.transform(X)[3:4])
    clf = EmbeddingClassifier(epochs=1, **TINY).fit(X, X["shop"])
    p = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(X.iloc[[3]]), p[3:4], atol=1e-7)
