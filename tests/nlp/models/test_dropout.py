"""AWD-LSTM regularisers: the right things are dropped, and nothing in eval mode."""

import warnings

import pytest
import torch
from torch import nn

from tabtext.nlp.models.dropout import (
    EmbeddingDropout,
    LockedDropout,
    WeightDrop,
    ar_tar_loss,
)


def test_locked_dropout_shares_mask_over_time():
    torch.manual_seed(0)
    drop = LockedDropout(0.5)
    y = drop(torch.ones(4, 9, 6))  # (bs, seq, feat)
    assert torch.equal(y, y[:, :1].expand_as(y))  # same mask at every step
    assert set(y.unique().tolist()) == {0.0, 2.0}  # dropped or scaled by 1/(1-p)


def test_locked_dropout_masks_differ_between_sequences():
    torch.manual_seed(0)
    y = LockedDropout(0.5)(torch.ones(8, 3, 16))
    assert not torch.equal(y[0, 0], y[1, 0])


def test_locked_dropout_identity_in_eval():
    drop = LockedDropout(0.5).eval()
    x = torch.randn(2, 5, 3)
    assert torch.equal(drop(x), x)


def test_locked_dropout_checks_input():
    with pytest.raises(ValueError, match="probability"):
        LockedDropout(1.0)
    with pytest.raises(ValueError, match="batch-first"):
        LockedDropout(0.5)(torch.ones(3, 4))


def test_embedding_dropout_drops_whole_rows():
    torch.manual_seed(0)
    emb = nn.Embedding(20, 4)
    drop = EmbeddingDropout(emb, 0.5)
    ids = torch.arange(20).repeat(3, 2)  # every word 6 times
    y = drop(ids)  # (3, 40, 4)
    zero = (y == 0).all(-1)  # (3, 40) word vector dropped
    for w in range(20):
        at_w = zero[ids == w]
        assert at_w.all() or not at_w.any()  # a word is dropped everywhere or nowhere
    kept = ~zero
    assert 0 < kept.float().mean() < 1
    assert torch.allclose(y[kept], 2 * emb(ids)[kept])  # kept rows scaled by 1/(1-p)


def test_embedding_dropout_identity_in_eval_and_shares_weight():
    emb = nn.Embedding(10, 3)
    drop = EmbeddingDropout(emb, 0.5).eval()
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(drop(ids), emb(ids))
    assert drop.weight is emb.weight


def _lstm_and_input():
    torch.manual_seed(0)
    return nn.LSTM(8, 16, batch_first=True), torch.randn(3, 7, 8)


def test_weight_drop_changes_output_in_training_only():
    lstm, x = _lstm_and_input()
    wd = WeightDrop(lstm, 0.5)
    out1, _ = wd(x)
    out2, _ = wd(x)
    assert not torch.allclose(out1, out2)
    wd.eval()
    assert torch.equal(wd(x)[0], lstm(x)[0])


def test_weight_drop_grad_reaches_raw_weight_through_mask():
    lstm, x = _lstm_and_input()
    before = lstm.weight_hh_l0.detach().clone()
    out, _ = WeightDrop(lstm, 0.5)(x)
    out.sum().backward()
    g_hh, g_ih = lstm.weight_hh_l0.grad, lstm.weight_ih_l0.grad
    assert g_hh is not None and g_hh.abs().sum() > 0
    # dropped entries get exactly zero gradient; the input weights are not dropped
    assert 0.3 < (g_hh == 0).float().mean() < 0.7
    assert (g_ih == 0).float().mean() < 0.05
    assert torch.equal(lstm.weight_hh_l0.detach(), before)  # raw weight untouched
    assert set(dict(lstm.named_parameters())) == {
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
    }


def test_weight_drop_bidirectional_drops_both_directions():
    lstm = nn.LSTM(4, 6, batch_first=True, bidirectional=True)
    wd = WeightDrop(lstm, 0.5)
    assert wd.names == ("weight_hh_l0", "weight_hh_l0_reverse")
    out, (h, _) = wd(torch.randn(2, 5, 4))
    assert out.shape == (2, 5, 12) and h.shape == (2, 2, 6)


def test_weight_drop_rejects_unknown_weight():
    with pytest.raises(ValueError, match="no parameter"):
        WeightDrop(nn.LSTM(4, 6), 0.5, names=["weight_hh_l1"])


def test_ar_tar_known_values():
    raw = torch.tensor([[[1.0], [3.0], [6.0]]])  # (1, 3, 1): steps 2 and 3
    dropped = torch.tensor([[[2.0], [0.0], [2.0]]])  # mean square 8/3
    assert torch.isclose(ar_tar_loss(raw, dropped, 3.0, 0.0), torch.tensor(8.0))
    assert torch.isclose(ar_tar_loss(raw, dropped, 0.0, 2.0), torch.tensor(13.0))
    both = ar_tar_loss(raw, dropped, 3.0, 2.0)
    assert torch.isclose(both, torch.tensor(21.0))


def test_ar_tar_ignores_masked_positions():
    raw = torch.tensor([[[1.0], [3.0], [100.0]]])
    dropped = torch.tensor([[[2.0], [2.0], [100.0]]])
    mask = torch.tensor([[False, False, True]])
    assert torch.isclose(ar_tar_loss(raw, dropped, 1.0, 1.0, mask), torch.tensor(8.0))


@pytest.mark.gpu
def test_weight_drop_on_cuda_is_quiet_matches_cpu_and_trains():
    lstm, x = _lstm_and_input()
    cpu_out, _ = lstm(x)
    wd = WeightDrop(lstm, 0.5).cuda()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            out, _ = wd(x.cuda())
            out.sum().backward()
    assert not [w for w in caught if "contiguous" in str(w.message)]
    assert lstm.weight_hh_l0.grad.abs().sum() > 0
    wd.eval()
    assert torch.allclose(wd(x.cuda())[0].cpu(), cpu_out, atol=1e-5)
