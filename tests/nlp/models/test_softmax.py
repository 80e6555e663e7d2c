"""linear_cross_entropy: the full softmax's loss a slice of tokens at a time."""

import pytest
import torch
import torch.nn.functional as F

from tabtext.nlp.models.awd_lstm import LanguageModel, preset
from tabtext.nlp.models.dropout import ar_tar_loss
from tabtext.nlp.models.softmax import adaptive_cross_entropy, linear_cross_entropy

N, E, V = 45, 6, 23


def inputs(seed=0, dtype=torch.float32, bias=True, scale=1.0, n=N):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, E, generator=g, dtype=dtype).requires_grad_()
    w = (torch.randn(V, E, generator=g, dtype=dtype) * scale).requires_grad_()
    b = torch.randn(V, generator=g, dtype=dtype).requires_grad_() if bias else None
    t = torch.randint(0, V, (n,), generator=g)
    return h, w, b, t


def reference(h, w, b, t):
    return F.cross_entropy(F.linear(h, w, b).float(), t)


def loss_and_grads(fn, h, w, b, t, weight=1.7):
    loss = fn(h, w, b, t)
    wanted = [x for x in (h, w, b) if x is not None and x.requires_grad]
    return loss.detach(), torch.autograd.grad(loss * weight, wanted)


@pytest.mark.parametrize("chunk", [1, 7, 16, N, 1000, None])
@pytest.mark.parametrize("bias", [True, False])
def test_equals_cross_entropy_of_the_logits(chunk, bias):
    h, w, b, t = inputs(bias=bias)
    t[[2, 30]] = -100  # ignored, as by F.cross_entropy
    ref, ref_grads = loss_and_grads(reference, h, w, b, t)
    got, grads = loss_and_grads(
        lambda *a: linear_cross_entropy(*a, chunk=chunk), h, w, b, t
    )
    torch.testing.assert_close(got, ref)
    for a, c in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, c)


def test_any_shape_of_inputs_and_targets():
    h, w, b, t = inputs()
    ref = reference(h, w, b, t)
    got = linear_cross_entropy(h.reshape(5, 9, E), w, b, t.reshape(5, 9), chunk=4)
    torch.testing.assert_close(got, ref)
    with pytest.raises(ValueError, match="45 rows of h but 44 targets"):
        linear_cross_entropy(h, w, b, t[:-1])


def test_gradcheck_in_double():
    h, w, b, t = inputs(dtype=torch.float64, n=11)
    assert torch.autograd.gradcheck(
        lambda h_, w_, b_: linear_cross_entropy(h_, w_, b_, t, chunk=4), (h, w, b)
    )


def test_only_the_inputs_that_need_a_gradient_get_one():
    h, w, b, t = inputs()
    h.requires_grad_(False)
    b.requires_grad_(False)
    ref, (ref_w,) = loss_and_grads(reference, h, w, b, t)
    got, (grad_w,) = loss_and_grads(
        lambda *a: linear_cross_entropy(*a, chunk=10), h, w, b, t
    )
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(grad_w, ref_w)
    assert h.grad is None and b.grad is None


def test_without_grad_only_the_loss():
    h, w, b, t = inputs()
    with torch.no_grad():
        got = linear_cross_entropy(h, w, b, t, chunk=8)
        ref = reference(h, w, b, t)
    assert not got.requires_grad
    torch.testing.assert_close(got, ref)


def test_underflowed_target_probabilities_keep_an_exact_loss():
    # logits ~ +-400: most targets' softmax probabilities underflow to 0 in fp32,
    # so the loss must come from log-probabilities, not log(probability)
    h, w, b, t = inputs(scale=200.0)
    ref, ref_grads = loss_and_grads(reference, h, w, b, t)
    assert ref > 100
    got, grads = loss_and_grads(
        lambda *a: linear_cross_entropy(*a, chunk=6), h, w, b, t
    )
    assert torch.isfinite(got)
    torch.testing.assert_close(got, ref)
    for a, c in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, c)


def test_bf16_autocast_matches_the_reference_under_autocast():
    h, w, b, t = inputs()
    with torch.autocast("cpu", torch.bfloat16):
        ref, ref_grads = loss_and_grads(reference, h, w, b, t)
        got, grads = loss_and_grads(
            lambda *a: linear_cross_entropy(*a, chunk=8), h, w, b, t
        )
    torch.testing.assert_close(got, ref, atol=1e-3, rtol=1e-3)
    for a, c, x in zip(grads, ref_grads, (h, w, b), strict=True):
        assert a.dtype == x.dtype
        torch.testing.assert_close(a, c, atol=5e-3, rtol=2e-2)


def test_language_model_loss_and_gradients_unchanged():
    torch.manual_seed(0)
    model = LanguageModel(preset("small", 50, emb_sz=8, n_hid=12, n_layers=2))
    ids = torch.randint(0, 50, (3, 10))
    x, y = ids[:, :-1], ids[:, 1:]
    params = list(model.parameters())
    torch.manual_seed(1)
    loss = model.loss_fn()(model(x), y)
    grads = torch.autograd.grad(loss, params)
    model.reset()
    torch.manual_seed(1)  # the same dropout masks
    out = model(x)
    logits = out.logits  # computed when read
    assert logits.shape == (3, 9, 50)
    cfg = model.config
    ref = F.cross_entropy(logits.reshape(-1, 50), y.reshape(-1))
    ref = ref + ar_tar_loss(out.raw, out.hidden, cfg.alpha, cfg.beta)
    torch.testing.assert_close(loss, ref)
    for a, c in zip(grads, torch.autograd.grad(ref, params), strict=True):
        torch.testing.assert_close(a, c)


def adaptive_inputs(seed=0):
    torch.manual_seed(seed)
    asm = torch.nn.AdaptiveLogSoftmaxWithLoss(E, 60, [10, 30], div_value=2.0)
    h = torch.randn(70, E, requires_grad=True)
    t = torch.randint(0, 60, (70,))
    t[:5] = torch.tensor([0, 9, 10, 30, 59])  # each cluster's edges
    return asm, h, t


def test_adaptive_equals_torchs_adaptive_softmax():
    asm, h, t = adaptive_inputs()
    params = [h, *asm.parameters()]
    ref = asm(h, t).loss
    got = adaptive_cross_entropy(asm, h.reshape(7, 10, E), t.reshape(7, 10))
    torch.testing.assert_close(got, ref)
    for a, c in zip(
        torch.autograd.grad(got, params), torch.autograd.grad(ref, params), strict=True
    ):
        torch.testing.assert_close(a, c)


def test_adaptive_with_an_empty_cluster_and_bad_targets():
    asm, h, t = adaptive_inputs()
    t = t % 30  # nothing in the last cluster
    params = [h, *asm.parameters()]
    got = adaptive_cross_entropy(asm, h, t)
    torch.testing.assert_close(got, asm(h, t).loss)
    grads = torch.autograd.grad(got, params, allow_unused=True)
    assert grads[-1] is None  # the empty cluster's output layer gets no gradient
    t[12] = 60
    with pytest.raises(ValueError, match="target 60 at row 12 is outside"):
        adaptive_cross_entropy(asm, h, t)


def test_adaptive_bf16_autocast_matches_torchs():
    asm, h, t = adaptive_inputs()
    with torch.autocast("cpu", torch.bfloat16):
        hb = h.to(torch.bfloat16)  # as an LSTM's output under autocast
        ref = asm(hb, t).loss
        got = adaptive_cross_entropy(asm, hb, t)
    torch.testing.assert_close(got.float(), ref.float(), atol=2e-2, rtol=1e-2)
