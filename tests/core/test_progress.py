"""Progress: a bar on a terminal, one readable line per epoch everywhere else."""

import re

import pytest
from torch import nn

from tabtext.core import ProgressBar, rmse

from .conftest import make_learner


def _fit(progress, epochs=2, **bar):
    learn = make_learner(metrics=[rmse], progress=progress)
    for k, v in bar.items():
        setattr(learn.progress, k, v)
    learn.fit_one_cycle(epochs, 1e-2)
    return learn


def test_lines_without_a_terminal(capsys):
    _fit(None, label="warm-up")  # capsys' stderr is not a terminal: lines
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    for i, line in enumerate(lines, start=1):
        assert line.startswith(f"warm-up  epoch {i}/2  train_loss ")
        assert "valid_loss " in line and "rmse " in line
        assert re.search(r"[\d,]+ rows/s", line)
        assert re.search(r"\d+s elapsed, ~\d+s left$", line)
    assert lines[-1].endswith("~0s left")


def test_quiet_prints_nothing(capsys):
    _fit(False)
    assert capsys.readouterr().err == ""


def test_throughput_counts_what_the_learner_says():
    learn = make_learner(progress="lines")
    learn.progress.unit, learn.progress.count = "tokens", lambda lrn: 1000
    learn.fit_one_cycle(1, 1e-2)
    assert learn.progress._items == 1000 * len(learn.train_dl)
    assert " tokens/s " in learn.progress.line(learn)


def test_lines_within_a_long_epoch(capsys):
    _fit("lines", epochs=1, every_s=0.0)  # a line after every training batch
    lines = capsys.readouterr().err.strip().splitlines()
    interim = [ln for ln in lines if " batch " in ln]
    assert len(interim) == 6  # 192 rows / batch size 32
    assert interim[0].startswith("epoch 1/1  batch 1/6  train_loss ")
    assert "left in this epoch's training" in interim[-1]
    assert lines[-1].startswith("epoch 1/1  train_loss ")


def test_bar_and_line_count_epochs_alike(capsys):
    learn = _fit(True, epochs=1)  # a bar even without a terminal
    err = capsys.readouterr().err
    assert "epoch 1/1 train" in err and "epoch 1/1  train_loss" in err
    assert "epoch 0" not in err
    assert learn.progress.bar is None  # closed after the fit


def test_bad_setting_is_refused():
    with pytest.raises(ValueError, match="progress must be"):
        ProgressBar("loud")
    with pytest.raises(ValueError, match="progress must be"):
        make_learner(progress="loud", loss_fn=nn.functional.mse_loss)
