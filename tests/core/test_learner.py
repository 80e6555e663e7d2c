import math

import pytest
import torch
from torch import nn

from tabtext.core import (
    Callback,
    CancelBatch,
    CancelFit,
    CSVLogger,
    EarlyStopping,
    GradientAccumulation,
    GradientClip,
    Learner,
    NonFiniteLossError,
    SaveBest,
    TensorLoader,
    adamw,
    rmse,
)

from .conftest import TwoGroupModel, make_data, make_learner


@pytest.fixture(scope="module")
def trained():
    learn = make_learner(metrics=[rmse])
    learn.fit_one_cycle(8, 3e-2)
    return learn


def test_loss_falls_on_a_learnable_problem(trained):
    hist = trained.history
    assert list(hist.columns[:3]) == ["epoch", "train_loss", "valid_loss"]
    assert hist["valid_loss"].iloc[-1] < 0.1 * hist["valid_loss"].iloc[0]
    assert hist["rmse"].iloc[-1] == pytest.approx(
        math.sqrt(hist["valid_loss"].iloc[-1]), rel=0.05
    )
    assert (hist["time"] > 0).all()


def test_get_preds_and_targets(trained):
    preds, targs = trained.get_preds()
    assert preds.shape == (64,) and targs.shape == (64,)
    assert torch.mean((preds - targs) ** 2).item() == pytest.approx(
        trained.history["valid_loss"].iloc[-1], rel=1e-4
    )
    x, _ = make_data()
    only_x, none = trained.get_preds(TensorLoader(x[:10], batch_size=4))
    assert only_x.shape == (10,) and none is None


def test_tta_averages_augmented_passes(trained):
    shift = lambda x: x + 1.0  # noqa: E731 - a deterministic "augmentation"
    aug, _ = trained.tta(augment=shift, n=3)
    direct, _ = trained.get_preds(augment=shift)
    assert torch.allclose(aug, direct)
    plain, _ = trained.get_preds()
    blended, _ = trained.tta(augment=shift, n=2, beta=0.25)
    assert torch.allclose(blended, 0.25 * direct + 0.75 * plain, atol=1e-6)


def test_plots_write_png(trained, tmp_path):
    for fn, name in ((trained.plot_lr, "lr.png"), (trained.plot_loss, "loss.png")):
        out = fn(tmp_path / name)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_set_data_swaps_loaders_without_touching_model_or_optimizer():
    learn = make_learner()
    learn.fit_one_cycle(1, 1e-2)
    weights = {k: v.clone() for k, v in learn.model.state_dict().items()}
    opt_step = {k: v["step"].clone() for k, v in learn.opt.state.items()}
    x, y = make_data(64, seed=5)
    new_train = TensorLoader(x, y, batch_size=16)
    learn.set_data(new_train)
    assert learn.train_dl is new_train and learn.valid_dl is not None
    assert all(torch.equal(v, learn.model.state_dict()[k]) for k, v in weights.items())
    assert all(torch.equal(v["step"], opt_step[k]) for k, v in learn.opt.state.items())
    learn.fit_one_cycle(1, 1e-2)
    assert len(learn.recorder.lrs) == len(make_learner().train_dl) + 4


def test_batches_as_dicts_and_tuples():
    class DictModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)

        def forward(self, a, b):
            return self.lin(torch.cat([a, b], 1)).squeeze(-1)

    dl = [({"a": torch.randn(8, 1), "b": torch.randn(8, 1)}, torch.randn(8))] * 3
    learn = Learner(DictModel(), dl, dl, loss_fn=nn.functional.mse_loss, progress=False)
    learn.fit_one_cycle(1, 1e-2)
    tup = [((torch.randn(8, 1), torch.randn(8, 1)), torch.randn(8))] * 3
    learn.set_data(tup, tup)
    learn.fit_one_cycle(1, 1e-2)
    assert len(learn.history) == 2


def test_bad_batches_and_arguments_raise_value_error():
    learn = make_learner()
    with pytest.raises(ValueError, match="n_epochs"):
        learn.fit_one_cycle(0, 1e-2)
    with pytest.raises(ValueError, match="whole number"):
        learn.fit(0.1, 2, cycle_len=0.5, cycle_mult=1.5)
    with pytest.raises(ValueError, match="pct_start"):
        learn.fit_one_cycle(1, 1e-2, pct_start=2)
    learn.set_data([(torch.randn(4, 1), torch.randn(4), torch.randn(4))])
    with pytest.raises(ValueError, match=r"\(x, y\) pair"):
        learn.fit_one_cycle(1, 1e-2)
    with pytest.raises(ValueError, match="loss_fn"):
        Learner(TwoGroupModel(), [])


class _Counter(Callback):
    def __init__(self):
        self.calls = []

    def before_batch(self, learn):
        if learn.training and learn.iter_in_epoch == 1:
            raise CancelBatch

    def after_cancel_batch(self, learn):
        self.calls.append(("cancel", learn.epoch))

    def after_epoch(self, learn):
        self.calls.append(("epoch", learn.epoch))
        if learn.epoch == 1:
            raise CancelFit


def test_cancel_exceptions():
    cb = _Counter()
    learn = make_learner(callbacks=[cb])
    learn.fit_one_cycle(5, 1e-2)
    assert cb.calls == [("cancel", 0), ("epoch", 0), ("cancel", 1), ("epoch", 1)]


def test_early_stopping_and_save_best_restore():
    learn = make_learner(callbacks=[EarlyStopping(patience=1), SaveBest()])
    learn.fit(
        1.0, 1, cycle_len=30
    )  # far too high an LR: valid loss soon stops improving
    hist = learn.history
    assert len(hist) < 30
    best = hist["valid_loss"].min()
    learn.recorder.epochs.clear()
    assert learn.get_preds()[0].shape == (64,)
    preds, targs = learn.get_preds()
    assert torch.mean((preds - targs) ** 2).item() == pytest.approx(best, rel=1e-4)


def test_gradient_accumulation_matches_a_big_batch():
    """With SGD and no batch norm, 2 accumulated batches of 16 == 1 batch of 32."""

    def run(bs, cbs):
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1), nn.Flatten(0)
        )
        x, y = make_data(64)
        dl = TensorLoader(x, y, batch_size=bs)
        learn = Learner(
            model,
            dl,
            loss_fn=nn.functional.mse_loss,
            callbacks=cbs,
            opt_func=lambda p, lr, weight_decay: torch.optim.SGD(p, lr=lr),
            progress=False,
        )
        learn.fit_schedule(2, 0.05, lambda pos: 1.0)
        return [p.detach() for p in model.parameters()]

    acc = run(16, [GradientAccumulation(2)])
    big = run(32, [])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(acc, big))


def test_gradient_clip_bounds_the_update():
    learn = make_learner(
        callbacks=[GradientClip(1e-3)],
        opt_func=lambda p, lr, weight_decay: torch.optim.SGD(p, lr=lr),
    )
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.set_data([next(iter(learn.train_dl))])
    learn.fit_schedule(1, 1.0, lambda pos: 1.0, validate=False)
    moved = torch.cat(
        [(p - b).flatten() for p, b in zip(learn.model.parameters(), before)]
    )
    assert moved.norm().item() <= 1e-3 + 1e-6


def test_nan_guard_stops_names_step_and_keeps_last_good_weights():
    learn = make_learner()
    x, y = make_data(64)
    y_bad = y.clone()
    y_bad[40:48] = float("nan")
    learn.set_data(TensorLoader(x, y_bad, batch_size=8))
    snapshots = []

    class Snap(Callback):
        def before_batch(self, learn):
            snapshots.append({k: v.clone() for k, v in learn.model.named_parameters()})

    learn.add_cbs([Snap()])
    with pytest.raises(NonFiniteLossError, match=r"epoch 0, batch 5 .*lr \["):
        learn.fit_one_cycle(1, 1e-2)
    state = dict(learn.model.named_parameters())
    assert all(torch.equal(state[k], v) for k, v in snapshots[-1].items())
    assert all(torch.isfinite(v).all() for v in state.values())


def test_csv_logger_writes_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    learn = make_learner(callbacks=[CSVLogger(path)])
    learn.fit_one_cycle(2, 1e-2)
    lines = path.read_text().strip().splitlines()
    assert lines[0].startswith("epoch,train_loss,valid_loss") and len(lines) == 3


def test_default_adamw_is_fused_on_cpu_and_matches_foreach():
    torch.manual_seed(0)
    start = [torch.randn(300, 20), torch.randn(20)]
    grads = [[torch.randn_like(t) for t in start] for _ in range(20)]
    ends = {}
    for name, make in {
        "fused": lambda ps: adamw(({"params": p} for p in [ps]), lr=1e-2),  # generator
        "foreach": lambda ps: torch.optim.AdamW(
            ps, lr=1e-2, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01, foreach=True
        ),
    }.items():
        ps = [nn.Parameter(t.clone()) for t in start]
        opt = make(ps)
        assert opt.defaults["fused"] is (True if name == "fused" else None)
        assert [len(g["params"]) for g in opt.param_groups] == [2]
        for step in grads:
            for p, g in zip(ps, step):
                p.grad = g.clone()
            opt.step()
        ends[name] = ps
    for a, b, t0 in zip(ends["fused"], ends["foreach"], start):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
        assert not torch.equal(a, t0)  # it moved


def test_default_adamw_keeps_foreach_on_other_devices():
    meta = nn.Parameter(torch.empty(3, device="meta"))
    assert adamw([meta]).defaults["foreach"] is True
