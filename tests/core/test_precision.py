"""Mixed precision: the choice of dtype per device, fp16's gradient scaler in the
loop (skipped steps, clipping, NaN guard), its state in checkpoints."""

import pytest
import torch
from torch import nn

from tabtext.core import (
    Callback,
    Checkpoint,
    GradientClip,
    Learner,
    NaNGuard,
    NonFiniteLossError,
    TensorLoader,
    predict_batches,
    read_state,
)
from tabtext.core.precision import autocast, resolve

from .conftest import make_learner

BF16, FP16 = torch.bfloat16, torch.float16


def _device(monkeypatch, capability=(8, 0), cpu_bf16=False):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: capability)
    monkeypatch.setattr(
        torch.cpu, "_is_avx512_bf16_supported", lambda: cpu_bf16, raising=False
    )


@pytest.mark.parametrize(
    "precision, device, capability, cpu_bf16, expected",
    [
        ("auto", "cuda", (8, 0), False, (BF16, False)),  # A100, H100
        ("auto", "cuda", (9, 0), False, (BF16, False)),
        ("auto", "cuda", (7, 5), False, (FP16, True)),  # T4
        ("auto", "cuda", (7, 0), False, (FP16, True)),  # V100
        ("auto", "cpu", None, True, (BF16, False)),
        ("auto", "cpu", None, False, (None, False)),
        ("auto", "meta", None, True, (None, False)),  # neither CUDA nor a CPU
        ("bf16", "cuda", (7, 5), False, (BF16, False)),  # forced: emulated there
        ("bf16", "cpu", None, False, (BF16, False)),
        ("fp16", "cuda", (9, 0), False, (FP16, True)),
        ("fp16", "cpu", None, True, (FP16, True)),
        ("fp32", "cuda", (9, 0), True, (None, False)),
        (True, "cpu", None, False, (BF16, False)),  # the former boolean
        (True, "cuda", (7, 5), False, (BF16, False)),
        (False, "cuda", (9, 0), False, (None, False)),
        (None, "cuda", (9, 0), False, (BF16, False)),  # the default: auto on CUDA
        (None, "cuda", (7, 5), False, (FP16, True)),
        (None, "cpu", None, True, (None, False)),  # and fp32 on a CPU
    ],
)
def test_resolve(monkeypatch, precision, device, capability, cpu_bf16, expected):
    _device(monkeypatch, capability, cpu_bf16)
    assert resolve(precision, device) == expected


def test_resolve_refuses_unknown_values_and_what_an_lstm_cannot_run(monkeypatch):
    with pytest.raises(ValueError, match="one of auto, bf16, fp16, fp32.*'half'"):
        resolve("half", "cpu")
    _device(monkeypatch, cpu_bf16=False)
    with pytest.raises(ValueError, match="no AVX512-BF16.*use --precision fp32"):
        resolve("bf16", "cpu", lstm=True)
    with pytest.raises(ValueError, match="no fp16 form.*use --precision fp32"):
        resolve("fp16", "cpu", lstm=True)
    assert resolve("auto", "cpu", lstm=True) == (None, False)
    assert resolve("fp16", "cuda", lstm=True) == (FP16, True)
    _device(monkeypatch, cpu_bf16=True)
    assert resolve("bf16", "cpu", lstm=True) == (BF16, False)


def test_autocast_helper_and_prediction_dtypes():
    x = torch.randn(8, 3)
    with autocast(torch.device("cpu"), FP16):
        assert nn.functional.linear(x, torch.randn(2, 3)).dtype == FP16
    with autocast(torch.device("cpu"), True):  # the former boolean: bf16
        assert nn.functional.linear(x, torch.randn(2, 3)).dtype == BF16
    model, dl = nn.Linear(3, 2), TensorLoader(x, batch_size=4)
    full = predict_batches(model, dl, "cpu")[0]
    assert torch.equal(predict_batches(model, dl, "cpu", False)[0], full)
    for dtype in (FP16, BF16):  # computed in dtype, returned as float32
        out = predict_batches(model, dl, "cpu", dtype)[0]
        assert _in(out, dtype) and not torch.equal(out, full)


def _in(t, dtype):
    """Whether every value of ``t`` is a value of ``dtype`` (computed in it)."""
    return torch.equal(t, t.to(dtype).to(t.dtype))


def test_learner_precisions_and_the_former_boolean():
    dtypes = {}

    class Dtype(Callback):
        def after_pred(self, learn):
            dtypes[learn.mixed_precision] = learn.pred.dtype

    for mp in (None, False, True, "bf16", "fp16", "fp32"):
        learn = make_learner(mixed_precision=mp, callbacks=[Dtype()])
        learn.fit_one_cycle(1, 1e-2)
        assert (learn.scaler is not None) == (mp == "fp16")
        if learn.mixed_precision is not None:  # prediction as training did
            assert _in(learn.get_preds()[0], learn.mixed_precision)
    assert dtypes == {None: torch.float32, BF16: BF16, FP16: FP16}
    assert isinstance(make_learner(mixed_precision="fp16").scaler, torch.amp.GradScaler)


def test_fp16_training_with_the_scaler_learns():
    learn = make_learner(mixed_precision="fp16")
    learn.fit_one_cycle(5, 3e-2)
    losses = learn.history["valid_loss"].tolist()
    assert losses[-1] < 0.05 * losses[0], losses  # as in fp32
    assert learn.scaler.get_scale() < 2.0**16  # the first steps overflowed


class _InfGrad(Callback):
    """Sets one gradient to inf after the backward pass of the given steps."""

    def __init__(self, steps):
        self.steps, self.skipped, self.unchanged = set(steps), [], []

    def after_backward(self, learn):
        if learn.iter in self.steps:
            learn.model.head.weight.grad[0, 0] = float("inf")
            self._before = learn.model.head.weight.detach().clone()

    def after_step(self, learn):
        self.skipped.append(learn.step_skipped)
        if learn.iter in self.steps:
            self.unchanged.append(torch.equal(self._before, learn.model.head.weight))


def test_an_inf_gradient_skips_the_step_and_is_no_nan_for_the_guard():
    inf = _InfGrad({3, 7})
    learn = make_learner(
        mixed_precision="fp16", callbacks=[inf, NaNGuard(check_grads=True)]
    )
    scale = 2.0**8  # low enough that no gradient overflows by itself
    learn.amp.scaler = torch.amp.GradScaler("cpu", init_scale=scale)
    learn.fit_one_cycle(2, 1e-2)  # 12 steps, two of them inf
    assert [i for i, s in enumerate(inf.skipped) if s] == [3, 7]
    assert inf.unchanged == [True, True]  # the skipped steps changed nothing
    assert learn.scaler.get_scale() == scale / 4  # halved at each
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())
    # without the scaler the same gradient is a NaN for the guard
    plain = make_learner(callbacks=[_InfGrad({3}), NaNGuard(check_grads=True)])
    with pytest.raises(NonFiniteLossError, match="a gradient is not finite"):
        plain.fit_one_cycle(2, 1e-2)


def test_the_guard_stops_when_every_step_is_skipped():
    learn = make_learner(
        mixed_precision="fp16", callbacks=[_InfGrad(range(100)), NaNGuard(max_skips=5)]
    )
    with pytest.raises(NonFiniteLossError, match="skipped 5 steps in a row"):
        learn.fit_one_cycle(2, 1e-2)
    assert learn.iter == 4  # the fifth step (iter 4) raised
    with pytest.raises(ValueError, match="max_skips must be an int >= 1"):
        NaNGuard(max_skips=0)


def test_clipping_sees_unscaled_gradients():
    """With plain SGD at lr 1 an update is minus the clipped gradient: its norm is
    max_norm. Clipping the scaled gradients would leave max_norm / scale."""
    norms = []

    class Update(Callback):
        order = GradientClip.order - 1

        def before_step(self, learn):
            self.w = [p.detach().clone() for p in learn.trainable_params()]
            self.grad_norm = torch.nn.utils.get_total_norm(
                [p.grad for p in learn.trainable_params()]
            )

        def after_step(self, learn):
            delta = [p.detach() - w for p, w in zip(learn.trainable_params(), self.w)]
            norms.append((float(self.grad_norm), float(torch.cat(
                [d.reshape(-1) for d in delta]).norm())))  # fmt: skip

    def sgd(groups, lr, weight_decay):
        return torch.optim.SGD(groups, lr=1.0)

    learn = make_learner(
        mixed_precision="fp16",
        opt_func=sgd,
        callbacks=[Update(), GradientClip(max_norm=1e-2)],
    )
    learn.amp.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)  # no overflow
    learn.fit_epochs(1)  # no scheduler: the optimizer's lr 1 stays
    assert learn.scaler.get_scale() == 2.0**10 and len(norms) == 6
    assert all(g > 1e-2 for g, _ in norms)  # clipping acted on every step
    assert [u for _, u in norms] == pytest.approx([1e-2] * len(norms), rel=1e-3)


class _Interrupt(Exception):
    pass


class _KillAfter1(Checkpoint):
    """Checkpoints, then kills the fit after its first epoch."""

    def after_epoch(self, learn):
        super().after_epoch(learn)
        if learn.epoch == 0:
            raise _Interrupt


def _scaled_learner(device="cpu", **kwargs):
    """An fp16 learner whose scale moves every few steps (overflows at 2**20,
    grows every 2 good steps), so that a lost scaler state would show."""
    learn = make_learner(mixed_precision="fp16", **kwargs)
    if device != "cpu":
        learn = Learner(
            learn.model, learn.train_dl, learn.valid_dl, loss_fn=learn.loss_fn,
            mixed_precision="fp16", device=device, progress=False,
            callbacks=kwargs.get("callbacks", ()),
        )  # fmt: skip
    learn.amp.scaler = torch.amp.GradScaler(
        learn.device.type, init_scale=2.0**20, growth_interval=2
    )
    return learn


def _killed_and_resumed(tmp_path, device="cpu"):
    """A 4-epoch fit killed after epoch 1 and resumed in a new learner."""
    first = _scaled_learner(device, callbacks=[_KillAfter1(tmp_path / "ck")])
    with pytest.raises(_Interrupt):
        first.fit_one_cycle(4, 1e-2)
    resumed = _scaled_learner(device, seed=5)
    resumed.load(tmp_path / "ck")
    return first, resumed


def test_fp16_resume_is_bit_identical(tmp_path):
    full = _scaled_learner()
    skips = []

    class Skips(Callback):
        def after_step(self, learn):
            skips.append(learn.step_skipped)

    full.add_cbs([Skips()])
    full.fit_one_cycle(4, 1e-2)
    assert sum(skips[6:]) > 0  # the scale keeps moving after the first epoch
    first, resumed = _killed_and_resumed(tmp_path)
    saved = read_state(tmp_path / "ck")["scaler"]
    assert saved["scale"] == first.scaler.get_scale() != 2.0**20
    assert resumed.scaler.get_scale() == saved["scale"]
    resumed.fit_one_cycle(4, 1e-2, start_epoch=resumed.resume_epoch)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert resumed.scaler.state_dict() == full.scaler.state_dict()


def test_lr_find_restores_the_scale():
    learn = make_learner(mixed_precision="fp16")
    scale = learn.scaler.get_scale()
    learn.lr_find(num_it=20, end_lr=1e6)  # diverges: inf gradients, scale lowered
    assert learn.scaler.get_scale() == scale


@pytest.mark.gpu
def test_auto_on_this_gpu_and_both_precisions_train_there():
    major, _ = torch.cuda.get_device_capability()
    assert resolve("auto", "cuda") == ((BF16, False) if major >= 8 else (FP16, True))
    for mp in ("fp16", "bf16"):
        base = make_learner()
        learn = Learner(
            base.model, base.train_dl, base.valid_dl, loss_fn=base.loss_fn,
            mixed_precision=mp, device="cuda", progress=False,
        )  # fmt: skip
        learn.fit_one_cycle(5, 3e-2)
        losses = learn.history["valid_loss"].tolist()
        assert losses[-1] < 0.05 * losses[0], (mp, losses)
        assert (learn.scaler is not None) == (mp == "fp16")


@pytest.mark.gpu
def test_fp16_resume_on_the_gpu(tmp_path):
    full = _scaled_learner("cuda")
    full.fit_one_cycle(4, 1e-2)
    _, resumed = _killed_and_resumed(tmp_path, "cuda")
    assert resumed.scaler.get_scale() == read_state(tmp_path / "ck")["scaler"]["scale"]
    resumed.fit_one_cycle(4, 1e-2, start_epoch=resumed.resume_epoch)
    for k, v in full.model.state_dict().items():
        assert torch.allclose(v, resumed.model.state_dict()[k], atol=1e-6), k
