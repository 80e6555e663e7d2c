"""AWD-LSTM encoder, language model, config, pretrained-embedding transfer, sampling."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from tabtext.nlp import AWDLSTM, AWDLSTMConfig, LanguageModel
from tabtext.nlp.models.awd_lstm import (
    LMOutput,
    generate,
    preset,
)

from ..conftest import needs_cpu_bf16

V = 50


def tiny(**kw) -> AWDLSTMConfig:
    return AWDLSTMConfig(
        **{"vocab_size": V, "emb_sz": 8, "n_hid": 16, "n_layers": 2, **kw}
    )


def assert_partition(model, groups):
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in model.parameters()}, "a parameter is missing"


# --- config ---------------------------------------------------------------------------


def test_config_round_trips_through_json():
    cfg = preset("small", 1000, adaptive_softmax=(100, 400), drop_mult=0.5)
    back = AWDLSTMConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.adaptive_softmax == (100, 400)


def test_presets_sizes_dropouts_and_drop_mult():
    paper = preset("paper", 100)
    assert (paper.emb_sz, paper.n_hid, paper.n_layers) == (400, 1152, 3)
    assert (paper.output_p, paper.hidden_p, paper.input_p) == (0.1, 0.15, 0.25)
    assert (paper.embed_p, paper.weight_p) == (0.02, 0.2)
    small = preset("small", 100, task="classifier", drop_mult=0.5)
    assert (small.emb_sz, small.n_hid, small.n_layers) == (200, 400, 2)
    assert small.weight_p == pytest.approx(0.25) and small.input_p == pytest.approx(0.2)
    assert small.layer_sizes == [(200, 400), (400, 200)]
    assert not preset("small", 100, adaptive_softmax=(10, 50)).tie_weights


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(emb_sz=0), "emb_sz"),
        (dict(pad_idx=V), "pad_idx"),
        (dict(weight_p=1.0), "weight_p"),
        (dict(adaptive_softmax=(30, 20), tie_weights=False), "cutoffs"),
        (dict(adaptive_softmax=(20,)), "tie_weights=False"),
        (dict(adaptive_softmax=(10, 20, 30), tie_weights=False), "div"),
    ],
)
def test_config_rejects_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        tiny(**kw)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="Unknown"):
        AWDLSTMConfig.from_dict({"vocab_size": 5, "n_hidden": 3})


# --- encoder --------------------------------------------------------------------------


@pytest.fixture
def ids():
    return torch.randint(2, V, (3, 16), generator=torch.Generator().manual_seed(0))


def test_encoder_shapes(ids):
    enc = AWDLSTM(tiny())
    out = enc(ids)
    assert out.shape == (3, 16, 8)
    assert [h.shape for h, _ in enc.hidden] == [(1, 3, 16), (1, 3, 8)]
    assert not enc.hidden[0][0].requires_grad  # detached: truncated BPTT


def test_encoder_carries_state_across_calls(ids):
    torch.manual_seed(0)
    enc = AWDLSTM(tiny()).eval()
    whole = enc(ids)
    enc.reset()
    parts = torch.cat([enc(ids[:, :8]), enc(ids[:, 8:])], dim=1)
    assert torch.allclose(whole, parts, atol=1e-5)
    enc.reset()
    assert torch.equal(enc(ids[:, :8]), whole[:, :8])  # reset starts from zeros
    assert not torch.allclose(
        enc(ids[:, :8]), whole[:, :8]
    )  # ... not resetting doesn't


def test_encoder_restarts_on_batch_size_change(ids):
    enc = AWDLSTM(tiny()).eval()
    enc(ids)
    fresh = AWDLSTM(tiny()).eval()
    fresh.load_state_dict(enc.state_dict())
    assert torch.equal(enc(ids[:2]), fresh(ids[:2]))


def test_packed_run_gives_each_rows_own_final_state(ids):
    enc = AWDLSTM(tiny()).eval()
    lengths = torch.tensor([16, 5, 11])
    out, state = enc.run(ids, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        alone, alone_state = enc.run(ids[i : i + 1, :n])
        assert torch.allclose(out[i, :n], alone[0], atol=1e-6)
        for (h, c), (ha, ca) in zip(state, alone_state, strict=True):
            assert torch.allclose(h[:, i], ha[:, 0], atol=1e-6)
            assert torch.allclose(c[:, i], ca[:, 0], atol=1e-6)


# --- language model -------------------------------------------------------------------


def test_lm_output_and_tied_weights(ids):
    model = LanguageModel(tiny())
    out = model(ids)
    assert isinstance(out, LMOutput) and out.logits.shape == (3, 16, V)
    assert out.raw is not None  # training mode carries AR/TAR inputs
    assert model.decoder_weight is None  # tied: one weight, in the embedding
    model.loss_fn()(out, ids).backward()
    emb_grad = model.encoder.embedding.weight.grad
    unseen = torch.ones(V, dtype=torch.bool)
    unseen[ids.flatten()] = False
    assert emb_grad[unseen].abs().sum() > 0  # only the tied decoder reaches these rows
    model.eval()
    model.reset()
    out = model(ids)
    assert out.raw is None
    expected = F.linear(out.hidden, model.encoder.embedding.weight, model.decoder_bias)
    assert torch.allclose(out.logits, expected)


@pytest.mark.parametrize(
    "kw",
    [dict(), dict(tie_weights=False), dict(tie_weights=False, adaptive_softmax=(20,))],
)
def test_lm_param_groups_cover_every_parameter_once(kw):
    model = LanguageModel(tiny(**kw))
    groups = model.param_groups()
    assert len(groups) == 1 + 2 + 1
    assert groups[0] == [model.encoder.embedding.weight]
    assert_partition(model, groups)


def test_lm_state_dict_holds_the_tied_weight_once():
    keys = LanguageModel(tiny()).state_dict().keys()
    assert sum(k.endswith("weight") and "embed" in k for k in keys) == 1
    assert "decoder_weight" not in keys


def test_eval_loss_is_plain_cross_entropy(ids):
    model = LanguageModel(tiny()).eval()
    out = model(ids[:, :-1])
    ce = F.cross_entropy(out.logits.reshape(-1, V), ids[:, 1:].reshape(-1))
    assert torch.isclose(model.loss_fn()(out, ids[:, 1:]), ce)


def _overfit(model: LanguageModel, steps: int = 100) -> tuple[float, float]:
    """Adam on one repeated sequence; eval loss before and after."""
    seq = torch.arange(2, 2 + 9).repeat(4, 3)  # (4, 27): a cycle of 9 words
    x, y = seq[:, :-1], seq[:, 1:]
    loss_fn = model.loss_fn()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)

    def eval_loss() -> float:
        model.eval()
        model.reset()
        with torch.no_grad():
            loss = loss_fn(model(x), y).item()
        model.train()
        return loss

    before = eval_loss()
    for _ in range(steps):
        model.reset()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return before, eval_loss()


def test_lm_loss_falls_when_overfitting():
    torch.manual_seed(0)
    before, after = _overfit(LanguageModel(tiny()))
    # well below the unigram entropy log(9): it learned the sequence, not frequencies
    assert after < 0.25 * before and after < 0.5 * math.log(9), (before, after)


def test_adaptive_softmax_lm_trains():
    torch.manual_seed(0)
    cfg = tiny(tie_weights=False, adaptive_softmax=(10, 30), adaptive_div=2.0)
    model = LanguageModel(cfg)
    assert model(torch.zeros(2, 3, dtype=torch.long)).logits is None
    before, after = _overfit(model)
    assert after < 0.25 * before and after < 0.5 * math.log(9), (before, after)
    model.eval()
    logp = model.log_probs(model(torch.tensor([[2, 3]])))
    assert logp.shape == (1, 2, V) and torch.allclose(
        logp.exp().sum(-1), torch.ones(1, 2)
    )


def test_generate_is_seeded_respects_bans_and_restores_mode():
    torch.manual_seed(0)
    model = LanguageModel(tiny()).train()
    a = generate(
        model, [2, 3, 4], n_words=12, temperature=1.5, seed=1, banned_ids=[0, 1]
    )
    b = generate(
        model, [2, 3, 4], n_words=12, temperature=1.5, seed=1, banned_ids=[0, 1]
    )
    assert a == b and len(a) == 12 and not {0, 1} & set(a)
    assert model.training and model.encoder.hidden is None
    greedy = generate(model, [2, 3, 4], n_words=3, temperature=0)
    model.eval()
    first = model.log_probs(model(torch.tensor([[2, 3, 4]])))[0, -1].argmax().item()
    assert greedy[0] == first


@needs_cpu_bf16
def test_state_left_by_an_autocast_step_does_not_break_a_plain_call(ids):
    model = LanguageModel(tiny())
    with torch.autocast("cpu", torch.bfloat16):
        model.loss_fn()(model(ids), ids).backward()
    assert model.encoder.hidden[0][0].dtype == torch.float32
    assert model(ids).logits.dtype == torch.float32  # carries on from that state
