"""tabtext.tabular.kernels: Dropout (nn.Dropout's behaviour from cheaper random bits)
and EmbeddingLookup (the concatenated lookup with an index_add_ backward)."""

import pytest
import torch
from torch import nn

from tabtext.tabular.kernels import Dropout, EmbeddingLookup
from tabtext.tabular.model import TabularConfig, TabularModel


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


def test_lookup_gradients_pass_gradcheck_with_repeated_codes():
    gen = torch.Generator().manual_seed(0)
    weights = [
        torch.randn(5, 3, dtype=torch.float64, generator=gen, requires_grad=True),
        torch.randn(4, 2, dtype=torch.float64, generator=gen, requires_grad=True),
    ]
    codes = torch.tensor([[0, 4, 4, 1, 0, 4], [3, 3, 0, 2, 3, 1]])  # (n_cat, batch)
    assert torch.autograd.gradcheck(
        lambda *w: EmbeddingLookup.apply(codes, *w), weights
    )


def test_frozen_weight_gets_no_gradient():
    a = nn.Parameter(torch.randn(5, 3))
    b = torch.randn(4, 2)  # frozen
    codes = torch.tensor([[0, 4, 1], [3, 0, 2]])
    out = EmbeddingLookup.apply(codes, a, b)
    assert out.shape == (3, 5)
    out.sum().backward()
    assert b.grad is None and a.grad is not None
    assert a.grad[4].tolist() == [1.0, 1.0, 1.0] and a.grad[2].tolist() == [0.0] * 3


def model_and_batch():
    torch.manual_seed(0)
    config = TabularConfig(
        cardinalities=(7, 30, 3), emb_sizes=(4, 9, 2), n_cont=2, n_out=1, ps=(0.0, 0.0)
    )
    model = TabularModel(config).train()
    x_cat = torch.stack([torch.randint(0, n, (64,)) for n in (7, 30, 3)], 1)
    return model, x_cat, torch.randn(64, 2)


def test_training_forward_and_gradients_match_the_embedding_modules():
    model, x_cat, x_cont = model_and_batch()
    out = model(x_cat, x_cont)  # training on the CPU: through EmbeddingLookup
    assert out.grad_fn is not None
    out.pow(2).mean().backward()
    fast = [e.weight.grad.clone() for e in model.embeds]
    model.zero_grad()
    # the same network with the lookup done by the modules (as on CUDA)
    parts = [emb(x_cat[:, i]) for i, emb in enumerate(model.embeds)]
    h = torch.cat([model.emb_drop(torch.cat(parts, 1)), model.bn_cont(x_cont)], 1)
    ref = model.head(model.body(h))
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    ref.pow(2).mean().backward()
    for g, e in zip(fast, model.embeds, strict=True):
        torch.testing.assert_close(g, e.weight.grad, rtol=1e-6, atol=1e-9)


def test_inference_takes_the_module_path():
    model, x_cat, x_cont = model_and_batch()
    with torch.no_grad():
        a = model.eval()(x_cat, x_cont)
    b = model(x_cat, x_cont)  # grad enabled: the lookup
    torch.testing.assert_close(a, b, rtol=0, atol=0)
