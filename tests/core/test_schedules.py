import math

import pytest

from tabtext.core import (
    combine,
    one_cycle_lr,
    one_cycle_mom,
    sched_cos,
    sgdr,
    slanted_triangular,
)

from .conftest import make_learner


def test_sched_cos_ends_and_middle():
    f = sched_cos(1.0, 0.0)
    assert f(0) == 1.0 and f(1) == pytest.approx(0.0, abs=1e-12)
    assert f(0.5) == pytest.approx(0.5)


def test_combine_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 fractions for 1 schedules"):
        combine([0.5, 0.5], [sched_cos(1, 0)])


def test_one_cycle_values():
    f = one_cycle_lr(div=25, div_final=1e4, pct_start=0.25)
    assert f(0) == pytest.approx(1 / 25)
    assert f(0.25) == pytest.approx(1.0)
    assert f(1.0) == pytest.approx(1e-4)
    m = one_cycle_mom((0.95, 0.85, 0.95), 0.25)
    assert m(0) == pytest.approx(0.95) and m(0.25) == pytest.approx(0.85)
    assert m(1) == pytest.approx(0.95)


def test_slanted_triangular_matches_paper_formula():
    f = slanted_triangular(cut_frac=0.1, ratio=32)
    assert f(0) == pytest.approx(1 / 32)
    assert f(0.1) == pytest.approx(1.0)
    assert f(0.05) == pytest.approx((1 + 0.5 * 31) / 32)
    assert f(0.55) == pytest.approx((1 + 0.5 * 31) / 32)
    assert f(1.0) == pytest.approx(1 / 32)


@pytest.mark.parametrize("bad", [dict(cut_frac=0), dict(cut_frac=1.5), dict(ratio=0.5)])
def test_slanted_triangular_rejects_bad_args(bad):
    with pytest.raises(ValueError):
        slanted_triangular(**bad)


def test_sgdr_rejects_bad_cycles():
    with pytest.raises(ValueError, match="n_cycles"):
        sgdr(0)


def _lrs(learn, group=-1):
    return [row[group] for row in learn.recorder.lrs]


def test_fit_sgdr_brief_example_restarts_exactly():
    """fit(0.1, 3, cycle_len=1, cycle_mult=2): 7 epochs, restarts at epochs 2 and 4."""
    learn = make_learner()
    nb = len(learn.train_dl)  # 6 batches per epoch
    learn.fit(0.1, 3, cycle_len=1, cycle_mult=2)
    lrs = _lrs(learn)
    assert len(learn.history) == 7 and len(lrs) == 7 * nb
    # restarts: first batch of epoch 1, 2 and 4 (1-based) is exactly lr
    assert lrs[0] == 0.1 and lrs[nb] == 0.1 and lrs[3 * nb] == 0.1
    # midpoints of the cycles: half the LR
    assert lrs[nb // 2] == pytest.approx(0.05)
    assert lrs[nb + nb] == pytest.approx(0.05)  # cycle 2 spans 2 epochs
    assert lrs[3 * nb + 2 * nb] == pytest.approx(0.05)  # cycle 3 spans 4 epochs
    # just before each restart the LR is near zero, and it only falls inside a cycle
    for end in (nb - 1, 3 * nb - 1, 7 * nb - 1):
        assert lrs[end] < 0.1 * 0.1
    cycle3 = lrs[3 * nb :]
    assert all(a > b for a, b in zip(cycle3, cycle3[1:]))


def test_fit_single_cycle_is_one_cosine_epoch():
    learn = make_learner()
    nb = len(learn.train_dl)
    learn.fit(0.1, 1)
    lrs = _lrs(learn)
    assert len(lrs) == nb and len(learn.history) == 1
    expected = [0.1 * (1 + math.cos(math.pi * i / nb)) / 2 for i in range(nb)]
    assert lrs == pytest.approx(expected)


def test_fit_one_cycle_schedules_lr_and_adam_beta1():
    learn = make_learner()
    learn.fit_one_cycle(4, 1e-2, pct_start=0.25)
    nb = len(learn.train_dl)
    lrs, moms = _lrs(learn), [r[0] for r in learn.recorder.moms]
    assert lrs[0] == pytest.approx(1e-2 / 25)
    assert lrs[nb] == pytest.approx(1e-2)  # peak after 25% of 4 epochs
    assert moms[0] == pytest.approx(0.95) and moms[nb] == pytest.approx(0.85)
    assert lrs[-1] < 1e-4


def test_fit_stlr_peak_at_cut_frac():
    learn = make_learner()
    learn.fit_stlr(5, 1e-2, cut_frac=0.2, ratio=32)
    lrs = _lrs(learn)
    nb = len(learn.train_dl)
    assert lrs[0] == pytest.approx(1e-2 / 32)
    assert (
        max(lrs) == pytest.approx(1e-2) and lrs.index(max(lrs)) == nb
    )  # 20% of 5 epochs
