"""The text callbacks: LR scaled by the BPTT window's length, tokens counted."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tabtext.core import Callback, Learner
from tabtext.nlp import AWDLSTMConfig, LanguageModel, LMLoader
from tabtext.nlp.training.callbacks import BPTTScaleLR, TokenCounter


def fake_learn(xb, training=True, lrs=(0.1, 0.01)):
    opt = SimpleNamespace(param_groups=[{"lr": lr} for lr in lrs])
    return SimpleNamespace(xb=xb, training=training, opt=opt)


def test_bptt_scale_lr_scales_every_group_by_the_window_length():
    learn = fake_learn(torch.zeros(4, 35, dtype=torch.long))
    BPTTScaleLR(bptt=70).before_batch(learn)
    assert [g["lr"] for g in learn.opt.param_groups] == [0.05, 0.005]
    learn = fake_learn(torch.zeros(4, 35, dtype=torch.long), training=False)
    BPTTScaleLR(bptt=70).before_batch(learn)
    assert [g["lr"] for g in learn.opt.param_groups] == [0.1, 0.01]  # eval: as is


def test_bptt_scale_lr_in_a_fit_scales_what_the_scheduler_set():
    class LRs(Callback):
        def __init__(self, order):
            self.order, self.seen = order, []

        def before_batch(self, learn):
            if learn.training:
                self.seen.append((learn.opt.param_groups[0]["lr"], learn.xb.shape[1]))

    torch.manual_seed(0)
    ids = np.random.default_rng(0).integers(2, 30, 2000).astype(np.int32)
    dl = LMLoader(ids, np.array([0, len(ids)]), batch_size=4, bptt=10, seed=0)
    model = LanguageModel(AWDLSTMConfig(vocab_size=30, emb_sz=8, n_hid=8, n_layers=1))
    before, after = LRs(order=11), LRs(order=13)  # either side of BPTTScaleLR (12)
    cbs = [BPTTScaleLR(10), before, after]
    learn = Learner(
        model, dl, loss_fn=model.loss_fn(), callbacks=cbs, device="cpu", progress=False
    )
    learn.fit_one_cycle(1, 1e-3)
    lengths = [n for _, n in before.seen]
    assert len(set(lengths)) > 1  # variable-length windows
    for (lr, n), (scaled, _) in zip(before.seen, after.seen, strict=True):
        assert scaled == pytest.approx(lr * n / 10)


def test_token_counter_counts_non_pad_training_tokens():
    counter = TokenCounter()  # pad_idx 1
    xb = torch.tensor([[5, 6, 7, 1], [8, 1, 1, 1]])
    learn = fake_learn(xb)
    counter.before_train(learn)
    counter.after_batch(learn)
    counter.after_batch(learn)
    counter.after_train(learn)
    assert counter.tokens == 2 * 4 and counter.seconds > 0
    counter.after_batch(fake_learn(xb, training=False))  # validation: not counted
    assert counter.tokens == 8
    other = TokenCounter(pad_idx=0)
    other.after_batch(fake_learn(xb))
    assert other.tokens == 8  # no zero in xb: every token counts
