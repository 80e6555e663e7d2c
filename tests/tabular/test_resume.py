"""EmbeddingModel(checkpoint_dir=...): a fit killed after epoch k and started again ends
like an uninterrupted one; corrupted checkpoints and failed saves are clear errors.

The kill is simulated in-process (an exception right after a checkpoint is written);
``benchmarks/fault_injection.py`` does the same with SIGKILL on real subprocesses.
"""

from __future__ import annotations

import errno
import random

import numpy as np
import pandas as pd
import pytest
import torch

from tabtext.core import Checkpoint, CheckpointError
from tabtext.core import io as core_io
from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor

# the kill points and early-stopping scenarios below were read off this network
FAST = dict(epochs=6, layers=(16,), ps=(0.1,), batch_size=32, lr=3e-2, random_state=0,
            num_embedding="none", min_freq=1)  # fmt: skip
VALID = dict(FAST, validation_fraction=0.25)


def make_data(n: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"shop": rng.choice(list("abcde"), n), "x": rng.normal(size=n)})
    noise = rng.random(n) < 0.3  # label noise: validation loss turns up, early stop
    y = (X["shop"].isin(["a", "b"]).to_numpy() ^ (X["x"].to_numpy() > 0)) ^ noise
    return X, y.astype(int)


class Killed(Exception):
    pass


def kill_after(monkeypatch, epoch: int) -> None:
    """Make the fit die right after the checkpoint of ``epoch`` (0-based) is saved."""
    save = Checkpoint.after_epoch

    def after_epoch(self, learn):
        save(self, learn)
        if learn.epoch == epoch:
            raise Killed

    monkeypatch.setattr(Checkpoint, "after_epoch", after_epoch)


def same_weights(a, b) -> bool:
    sa, sb = a.model_.state_dict(), b.model_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.mark.parametrize(
    "params, kill_at",
    [
        ({}, 2),
        # the defaults' epochs of 3 passes each (240 rows in 8 batches of 30)
        (dict(epochs="auto", batch_size="auto"), 2),
        # valid loss .686 .671 .627 .644: stops after epoch 3, best epoch 2
        (dict(VALID, epochs=8, n_iter_no_change=1, lr=0.1), 2),
        # valid loss .719 .845 .990: stops after epoch 2, best epoch 0
        (dict(VALID, epochs=8, n_iter_no_change=2, lr=0.3), 1),
    ],
    ids=[
        "no_valid",
        "auto_passes",
        "early_stop_best_before_kill",
        "early_stop_two_after_kill",
    ],
)
def test_killed_fit_resumes_to_the_same_result(
    data, tmp_path, monkeypatch, params, kill_at
):
    X, y = data
    kw = {**FAST, **params}
    reference = EmbeddingClassifier(**kw).fit(X, y)
    if "validation_fraction" in params:
        assert len(reference.history_) < kw["epochs"]  # early stopping did stop it
    with monkeypatch.context() as m:
        kill_after(m, kill_at)
        with pytest.raises(Killed):
            EmbeddingClassifier(**kw, checkpoint_dir=tmp_path).fit(X, y)
    random.seed(1), np.random.seed(1)
    resumed = EmbeddingClassifier(**kw, checkpoint_dir=tmp_path).fit(X, y)
    assert (random.random(), np.random.random()) == (
        random.seed(1) or random.random(),
        np.random.seed(1) or np.random.random(),
    )  # the global RNGs were left alone
    assert same_weights(reference, resumed)
    cols = [c for c in reference.history_ if c != "time"]
    pd.testing.assert_frame_equal(reference.history_[cols], resumed.history_[cols])
    assert np.array_equal(reference.predict_proba(X), resumed.predict_proba(X))


def test_other_fit_starts_afresh_and_a_finished_one_returns_at_once(
    data, tmp_path, monkeypatch
):
    X, y = data
    X2, y2 = make_data(seed=1)
    short = {**FAST, "epochs": 4}
    first = EmbeddingRegressor(**FAST, checkpoint_dir=tmp_path).fit(X, y * 2.0)
    other = EmbeddingRegressor(**short, checkpoint_dir=tmp_path).fit(X, y * 2.0)
    assert same_weights(other, EmbeddingRegressor(**short).fit(X, y * 2.0))
    again = EmbeddingRegressor(**FAST, checkpoint_dir=tmp_path).fit(X2, y2 * 2.0)
    assert same_weights(again, EmbeddingRegressor(**FAST).fit(X2, y2 * 2.0))
    assert not same_weights(again, first)  # other data: not resumed from `first`
    with monkeypatch.context() as m:  # the same fit again: nothing left to train
        m.setattr(Checkpoint, "after_epoch", lambda *a: pytest.fail("trained again"))
        done = EmbeddingRegressor(**FAST, checkpoint_dir=tmp_path).fit(X2, y2 * 2.0)
    assert same_weights(done, again)


@pytest.mark.parametrize("damage", ["truncate", "flip_byte"])
def test_corrupted_checkpoint_is_refused_naming_the_file(
    data, tmp_path, monkeypatch, damage
):
    X, y = data
    with monkeypatch.context() as m:
        kill_after(m, 1)
        with pytest.raises(Killed):
            EmbeddingClassifier(**FAST, checkpoint_dir=tmp_path).fit(X, y)
    weights = tmp_path / "last" / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw[-3] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"last/model\.safetensors is corrupted"):
        EmbeddingClassifier(**FAST, checkpoint_dir=tmp_path).fit(X, y)


@pytest.mark.parametrize(
    "err", [errno.ENOSPC, errno.EACCES, errno.EFBIG], ids=["ENOSPC", "EACCES", "EFBIG"]
)
def test_failed_save_keeps_the_previous_checkpoint(data, tmp_path, monkeypatch, err):
    X, y = data
    reference = EmbeddingClassifier(**FAST).fit(X, y)
    write, calls = core_io.atomic_write_bytes, []

    def failing_write(path, data):  # the 3rd checkpoint (after epoch 2) fails
        calls.append(path)
        if str(path).endswith("model.safetensors") and len(calls) > 2 * 5:
            raise OSError(err, "simulated")
        write(path, data)

    with monkeypatch.context() as m:
        m.setattr(core_io, "atomic_write_bytes", failing_write)
        with pytest.raises(
            OSError,
            match=r"cannot write .*last: .*previous checkpoint at .*last \(epoch 2",
        ):
            EmbeddingClassifier(**FAST, checkpoint_dir=tmp_path).fit(X, y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # no debris
    state = core_io.read_dir(tmp_path / "last")  # intact, checksums match
    assert b'"epochs_done": 2' in state["learner.json"]
    resumed = EmbeddingClassifier(**FAST, checkpoint_dir=tmp_path).fit(X, y)
    assert same_weights(reference, resumed)
