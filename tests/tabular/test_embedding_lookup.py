import torch
from torch import nn

from tabtext.tabular.model import EmbeddingLookup, TabularConfig, TabularModel


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
