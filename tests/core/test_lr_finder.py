import pytest
import torch

from .conftest import make_learner


def _state(learn):
    model = {k: v.clone() for k, v in learn.model.state_dict().items()}
    opt = {
        i: {k: v.clone() for k, v in s.items()}
        for i, s in enumerate(learn.opt.state.values())
    }
    return model, opt


def test_lr_find_restores_weights_and_optimizer_bitwise(tmp_path):
    learn = make_learner()
    learn.fit_one_cycle(1, 1e-2)  # so the optimizer has state to preserve
    model, opt = _state(learn)
    lrs = [g["lr"] for g in learn.opt.param_groups]
    rng = torch.get_rng_state()
    n_epochs_logged = len(learn.history)
    res = learn.lr_find(num_it=40)
    model2, opt2 = _state(learn)
    assert all(torch.equal(model[k], model2[k]) for k in model)
    assert all(torch.equal(opt[i][k], opt2[i][k]) for i in opt for k in opt[i])
    assert [g["lr"] for g in learn.opt.param_groups] == lrs
    assert torch.equal(rng, torch.get_rng_state())
    assert len(learn.history) == n_epochs_logged
    assert len(res.lrs) == len(res.losses) <= 40
    assert set(res.suggestions) == {"valley", "steepest", "minimum"}
    assert res.plot(tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


def test_lr_find_stops_on_divergence():
    learn = make_learner()
    res = learn.lr_find(start_lr=1e-4, end_lr=1e4, num_it=200)
    assert len(res.lrs) < 200


def _final_loss(lr: float) -> float:
    learn = make_learner(seed=1)
    learn.fit_schedule(3, lr, lambda pos: 1.0)
    return learn.history["valid_loss"].iloc[-1]


def test_suggestion_within_10x_of_best_fixed_lr():
    grid = [10.0**e for e in (-4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5, 0)]
    losses = [_final_loss(lr) for lr in grid]
    best = grid[min(range(len(grid)), key=lambda i: losses[i])]
    res = make_learner(seed=1).lr_find(num_it=100)
    assert best / 10 <= res.suggestion <= best * 10, (best, res.suggestions)


def test_lr_find_bad_arguments():
    learn = make_learner()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        learn.lr_find(start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="suggest"):
        learn.lr_find(suggest="magic")


def test_lr_find_sweeps_exponentially_from_start_to_end():
    learn = make_learner()
    callbacks = list(learn.callbacks)
    res = learn.lr_find(start_lr=1e-5, end_lr=1.0, num_it=30, stop_div=False)
    assert len(res.lrs) == 30
    for k in (0, 7, 29):
        assert res.lrs[k] == pytest.approx(1e-5 * (1.0 / 1e-5) ** (k / 29), rel=1e-12)
    assert learn.callbacks == callbacks  # the same callbacks, in the same order
