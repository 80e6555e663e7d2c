import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from tabtext.core import Callback
from tabtext.tabular import EmbeddingRegressor, TabularPreprocessor, TargetEncoder
from tabtext.tabular.training import (
    fit_seed,
    network_config,
    tensor_data,
    train_network,
)


def test_fit_seed():
    assert fit_seed(EmbeddingRegressor(random_state=7)) == 7
    a = fit_seed(EmbeddingRegressor(random_state=np.random.RandomState(0)))
    b = fit_seed(EmbeddingRegressor(random_state=np.random.RandomState(0)))
    assert a == b


def test_train_network_returns_the_fitted_state_and_keeps_the_global_rng():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"c": rng.choice(list("abc"), 64), "x": rng.normal(size=64)})
    y = frame["x"].to_numpy() * 2
    est = EmbeddingRegressor(layers=(8,), ps=(0.0,), epochs=2, batch_size=16)
    est.task_ = "regression"
    est.preprocessor_ = TabularPreprocessor().fit(frame)
    est.target_ = TargetEncoder.fit(y, "regression", False, scale=True)
    est.config_ = network_config(est)
    assert est.config_.n_cont == 1 and len(est.config_.cardinalities) == 1
    before = torch.get_rng_state()
    result = train_network(est, tensor_data(est, frame, y, None, seed=0), seed=0)
    assert torch.equal(before, torch.get_rng_state())
    assert len(result.history) == 2 and result.lr == est.lr
    assert (
        not result.model.training
        and next(result.model.parameters()).device.type == "cpu"
    )
    assert not hasattr(est, "model_")  # the estimator's fit assigns it


class CountEpochs(Callback):
    def __init__(self):
        self.epochs = 0

    def after_epoch(self, learn):
        self.epochs += 1


def test_callbacks_are_used_as_given_and_copied_by_clone():
    X = pd.DataFrame({"x": np.linspace(-1, 1, 40)})
    counter = CountEpochs()
    est = EmbeddingRegressor(layers=(4,), ps=(0.0,), epochs=3, callbacks=[counter])
    est.fit(X, X["x"] * 2)
    assert counter.epochs == 3 and est.callbacks[0] is counter  # the fit used it
    copied = clone(est).callbacks[0]
    assert copied is not counter and copied.epochs == 3
    seen = []

    class Spy(Callback):
        def after_fit(self, learn):
            seen.append(len(learn.history))

    EmbeddingRegressor(layers=(4,), ps=(0.0,), epochs=2, callbacks=[Spy()]).fit(
        X, X["x"]
    )
    assert seen == [2]
    with pytest.raises(TypeError, match=r"callbacks\[0\] is a str"):
        EmbeddingRegressor(callbacks=["log"]).fit(X, X["x"])
