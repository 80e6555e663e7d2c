"""Transfer of a pretrained LM to a new vocabulary: embeddings and adaptive head."""

import torch

from tabtext.nlp import LanguageModel
from tabtext.nlp.models.awd_lstm import load_pretrained_embeddings, preset
from tabtext.nlp.models.vocab_transfer import align_lm_state


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
