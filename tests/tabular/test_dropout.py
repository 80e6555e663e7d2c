"""tabtext.tabular.model.Dropout: nn.Dropout's behaviour from cheaper random bits."""

import pytest
import torch

from tabtext.tabular.model import Dropout, TabularConfig, TabularModel


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.9])
def test_drops_a_fraction_p_and_keeps_the_mean(p):
    torch.manual_seed(0)
    drop = Dropout(p).train()
    x = torch.ones(400, 1000)
    out = drop(x)
    kept = out != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)), rtol=1e-3)
    assert abs(out.mean().item() - 1.0) < 0.01
    # the mask does not repeat across columns or rows (each value has its own bits)
    assert not torch.equal(kept[0], kept[1]) and not torch.equal(kept[:, 0], kept[:, 1])


def test_eval_mode_and_zero_p_are_the_identity():
    x = torch.randn(64, 7)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(1)
    drop = Dropout(0.3).train()
    x = torch.randn(50, 33, requires_grad=True)  # an odd size: the bits are cut to it
    out = drop(x)
    out.sum().backward()
    mask = (out.detach() != 0).float()
    assert torch.allclose(x.grad, mask / 0.7, rtol=1e-3)
    assert torch.allclose(out, x.detach() * mask / 0.7, rtol=1e-3)


def test_masks_repeat_under_the_same_seed_and_differ_between_calls():
    drop, x = Dropout(0.5).train(), torch.ones(30, 30)
    torch.manual_seed(7)
    a, b = drop(x), drop(x)
    torch.manual_seed(7)
    assert torch.equal(drop(x), a) and torch.equal(drop(x), b)
    assert not torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_keeps_the_dtype(dtype):
    out = Dropout(0.2).train()(torch.ones(10, 10, dtype=dtype))
    assert out.dtype == dtype


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_refuses_probabilities_outside_0_1(p):
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(p)
    with pytest.raises(ValueError, match=r"ps\[1\] is a dropout probability"):
        TabularConfig((3,), (2,), 1, 1, layers=(8, 4), ps=(0.1, p))
    with pytest.raises(ValueError, match="emb_drop is a dropout probability"):
        TabularConfig((3,), (2,), 1, 1, emb_drop=p)


def test_the_network_uses_it():
    config = TabularConfig((5,), (3,), 2, 1, layers=(8, 4), ps=(0.1, 0.2), emb_drop=0.1)
    model = TabularModel(config)
    drops = [m for m in model.modules() if isinstance(m, Dropout)]
    assert [d.p for d in drops] == [0.1, 0.1, 0.2]
    assert not any(type(m) is torch.nn.Dropout for m in model.modules())
