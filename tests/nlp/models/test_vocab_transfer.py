"""Transfer of a pretrained LM to a new vocabulary: embeddings and adaptive head."""

import pytest
import torch

from tabtext.nlp import LanguageModel
from tabtext.nlp.models.awd_lstm import preset
from tabtext.nlp.models.vocab_transfer import align_lm_state, load_pretrained_embeddings

from .test_awd_lstm import V, tiny


def _trained_lm(itos, cutoffs, steps=150):
    """A tiny adaptive-softmax LM that has learnt a deterministic next-token rule."""
    torch.manual_seed(0)
    v = len(itos)
    model = LanguageModel(
        preset("small", v, emb_sz=16, n_hid=24, adaptive_softmax=cutoffs)
    )
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    loss_fn = model.loss_fn()
    for _ in range(steps):
        start = torch.randint(2, v, (8, 1))
        seq = (start + torch.arange(13)) % (v - 2) + 2  # next token = this one + 1
        loss = loss_fn(model(seq[:, :-1]), seq[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.reset()
    return model.eval()


def test_aligned_adaptive_head_keeps_what_it_learnt():
    itos = [f"t{i}" for i in range(40)]
    old = _trained_lm(itos, (10, 25))
    same = LanguageModel(old.config)
    same.load_state_dict(align_lm_state(old.state_dict(), itos, (10, 25), same, itos))
    ids = torch.randint(0, 40, (3, 9))
    assert torch.allclose(
        old.log_probs(old(ids)), same.eval().log_probs(same(ids)), atol=1e-6
    )
    # a new vocabulary: other order, two tokens the LM never saw, another cutoff
    new_itos = itos[:2] + itos[20:] + ["new1", "new2"] + itos[2:20]
    cfg = preset("small", len(new_itos), emb_sz=16, n_hid=24, adaptive_softmax=(15,))
    index = {t: i for i, t in enumerate(new_itos)}
    old_to_new = torch.tensor([index[t] for t in itos])
    seq = (torch.arange(2, 38).view(3, 12) % 38) + 2  # old ids following the rule
    x, y = old_to_new[seq[:, :-1]], old_to_new[seq[:, 1:]]

    def loss_of(state):
        model = LanguageModel(cfg)
        model.load_state_dict(state)
        with torch.no_grad():
            return float(model.eval().loss_fn()(model(x), y))

    torch.manual_seed(1)
    template = LanguageModel(cfg)
    aligned = align_lm_state(old.state_dict(), itos, (10, 25), template, new_itos)
    fresh = load_pretrained_embeddings(old.state_dict(), itos, new_itos)
    fresh.update({k: v for k, v in template.state_dict().items() if "adaptive" in k})
    assert loss_of(aligned) < loss_of(fresh) - 0.5


def test_load_pretrained_embeddings_copies_shared_rows_and_means_new_ones():
    old_itos = ["xxunk", "xxpad", "a", "b", "c"] + [f"w{i}" for i in range(V - 5)]
    new_itos = ["xxunk", "xxpad", "c", "new", "a"] + [f"z{i}" for i in range(V - 5)]
    old = LanguageModel(tiny(tie_weights=False))
    with torch.no_grad():
        old.decoder_bias.normal_()
    state = load_pretrained_embeddings(old.state_dict(), old_itos, new_itos)
    new = LanguageModel(tiny(tie_weights=False))
    new.load_state_dict(state)
    for key, get in [
        ("emb", lambda m: m.encoder.embedding.weight),
        ("dec", lambda m: m.decoder_weight),
        ("bias", lambda m: m.decoder_bias),
    ]:
        o, n = get(old).detach(), get(new).detach()
        assert torch.equal(n[0], o[0]) and torch.equal(n[2], o[4]), key
        assert torch.equal(n[4], o[2]), key
        assert torch.allclose(n[3], o.mean(0)), key  # a new token: the mean row
    assert torch.equal(
        new.encoder.rnns[0].module.weight_hh_l0, old.encoder.rnns[0].module.weight_hh_l0
    )
    with pytest.raises(ValueError, match="old_itos"):
        load_pretrained_embeddings(old.state_dict(), old_itos[:-1], new_itos)
