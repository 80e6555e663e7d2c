"""ULMFiT classifier model: BPT3C, padding-blind pooling, parameter groups."""

import pytest
import torch

from tabtext.nlp import AWDLSTMConfig, LanguageModel, TextClassifierModel
from tabtext.nlp.models.classifier import masked_concat_pool

from ..conftest import needs_cpu_bf16

V, PAD = 50, 1


def tiny(**kw) -> AWDLSTMConfig:
    base = {"vocab_size": V, "emb_sz": 8, "n_hid": 16, "n_layers": 2, "pad_idx": PAD}
    return AWDLSTMConfig(**{**base, **kw})


def docs(lengths, seed=0, width=None):
    """Right-padded random documents (token ids >= 2)."""
    g = torch.Generator().manual_seed(seed)
    width = width or max(lengths)
    ids = torch.full((len(lengths), width), PAD)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(2, V, (n,), generator=g)
    return ids


def test_masked_concat_pool_ignores_padding():
    out = torch.tensor([[[1.0], [5.0], [3.0], [9.0]]])  # (1, 4, 1), last step is pad
    mask = torch.tensor([[False, False, False, True]])
    assert masked_concat_pool(out, mask).tolist() == [[3.0, 5.0, 3.0]]
    neg = torch.tensor([[[-1.0], [-5.0], [0.0]]])
    got = masked_concat_pool(neg, torch.tensor([[False, False, True]]))
    assert got.tolist() == [[-5.0, -1.0, -3.0]]  # max is not fooled by pad zeros


def test_classifier_is_blind_to_padding_and_batch_mates():
    torch.manual_seed(0)
    model = TextClassifierModel(tiny(), n_classes=3, bptt=8, max_len=20).eval()
    ids = docs([37, 5, 21, 16])
    logits = model(ids)
    assert logits.shape == (4, 3)
    padded = torch.cat([ids, torch.full((4, 11), PAD)], dim=1)
    assert torch.allclose(model(padded), logits, atol=1e-5)
    for i, n in enumerate([37, 5, 21, 16]):
        alone = model(ids[i : i + 1, :n])
        assert torch.allclose(alone, logits[i : i + 1], atol=1e-5)


def test_classifier_trains_and_param_groups_partition():
    torch.manual_seed(0)
    model = TextClassifierModel(tiny(), n_classes=2, bptt=8, max_len=16)
    groups = model.param_groups()
    assert len(groups) == 1 + 2 + 1
    assert groups[0] == [model.encoder.embedding.weight]
    assert groups[-1] == list(model.head.parameters())
    flat = [id(p) for g in groups for p in g]
    assert len(flat) == len(set(flat)) == len(list(model.parameters()))
    # a learnable rule: the label is whether word 2 occurs
    ids = docs([20, 9, 30, 14, 25, 11, 17, 28], seed=1)
    ids[ids == 2] = 3
    ids[::2, 4] = 2
    y = torch.tensor([1, 0] * 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        model.reset()
        loss = torch.nn.functional.cross_entropy(model(ids), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_load_encoder_from_language_model():
    lm = LanguageModel(tiny())
    clas = TextClassifierModel(tiny(input_p=0.4), n_classes=2)
    clas.load_encoder(lm.encoder.state_dict())
    lm.eval()
    clas.eval()
    ids = docs([10, 10])
    lm.reset()
    assert torch.allclose(clas.sentence_encoder(ids)[0], lm.encoder(ids), atol=1e-6)


def test_all_padding_row_is_an_error():
    model = TextClassifierModel(tiny(), n_classes=2).eval()
    with pytest.raises(ValueError, match=r"Rows \[1\] contain only padding"):
        model(docs([5, 0, 3], width=5))


@pytest.mark.gpu
def test_classifier_and_lm_run_on_cuda_like_on_cpu():
    torch.manual_seed(0)
    model = TextClassifierModel(tiny(), n_classes=3, bptt=8, max_len=16).eval()
    ids = docs([37, 5, 21, 16])
    expected = model(ids)
    model.cuda()
    assert torch.allclose(model(ids.cuda()).cpu(), expected, atol=1e-4)
    model.train()
    model(ids.cuda()).sum().backward()
    lm = LanguageModel(tiny()).cuda()
    lm.loss_fn()(lm(ids.cuda()), ids.cuda()).backward()
    assert lm.encoder.rnns[0].module.weight_hh_l0.grad.abs().sum() > 0


@needs_cpu_bf16
def test_classifier_under_autocast_matches_full_precision():
    torch.manual_seed(0)
    model = TextClassifierModel(tiny(), n_classes=3, bptt=8, max_len=16).eval()
    ids = docs([37, 5, 21, 16])  # rows drop out of different chunks
    expected = model(ids)
    with torch.autocast("cpu", torch.bfloat16):
        got = model(ids)
    assert torch.allclose(got.float(), expected, atol=0.05)
