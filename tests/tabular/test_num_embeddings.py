"""PLR numerical embeddings and the TabularModel that uses them."""

import pytest
import torch

from tabtext.tabular import TabularConfig, TabularModel
from tabtext.tabular.num_embeddings import PeriodicEmbedding


def test_shapes_and_columns_are_embedded_independently():
    torch.manual_seed(0)
    emb = PeriodicEmbedding(3, n_frequencies=4, dim=5, sigma=0.5)
    x = torch.randn(7, 3)
    out = emb(x)
    assert out.shape == (7, 15) and emb.out_features == 15
    assert (out >= 0).all()  # ReLU
    x2 = x.clone()
    x2[:, 1] += 1.0  # only column 1's block of 5 outputs may change
    changed = (emb(x2) != out).any(0)
    assert not changed[:5].any() and not changed[10:].any() and changed[5:10].any()


def test_gradients_reach_frequencies_weights_and_bias():
    torch.manual_seed(0)
    emb = PeriodicEmbedding(2, n_frequencies=3, dim=4, sigma=1.0)
    emb(torch.randn(16, 2)).sum().backward()
    for name, p in emb.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_frequency_init_follows_sigma():
    torch.manual_seed(0)
    small = PeriodicEmbedding(20, n_frequencies=50, sigma=0.01).frequencies
    large = PeriodicEmbedding(20, n_frequencies=50, sigma=1.0).frequencies
    assert 0.008 < small.std() < 0.012 and 0.8 < large.std() < 1.2


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_cols"):
        PeriodicEmbedding(0)
    with pytest.raises(ValueError, match="sigma"):
        PeriodicEmbedding(2, sigma=0.0)
    with pytest.raises(ValueError, match="num_embedding"):
        TabularConfig((3,), (2,), 2, 1, num_embedding="fourier")


def test_tabular_model_with_plr():
    cfg = TabularConfig((4, 3), (2, 2), n_cont=3, n_out=2, layers=(8,), ps=(0.0,),
                        num_embedding="plr", plr_frequencies=4, plr_dim=6)  # fmt: skip
    model = TabularModel(cfg)
    assert model.bn_cont is None and model.num_embed.out_features == 18
    assert model.body[0].in_features == 2 + 2 + 18
    x_cat, x_cont = torch.randint(0, 3, (5, 2)), torch.randn(5, 3)
    assert model(x_cat, x_cont).shape == (5, 2)
    # transform()'s representation keeps one value per continuous column
    assert model.embed(x_cat, x_cont).shape == (5, 2 + 2 + 3)
    groups = [p for g in model.param_groups() for m in g for p in m.parameters()]
    assert sorted(map(id, groups)) == sorted(id(p) for p in model.parameters())
    assert TabularConfig.from_dict(cfg.to_dict()) == cfg
