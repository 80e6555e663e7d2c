import subprocess
import sys

import pytest
import torch
from torch import nn

from tabtext.core.optim import FusedAdamW

HP = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.1)


def net(device="cpu") -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.Linear(7, 2)).to(device)


def groups(model: nn.Module) -> list[dict]:
    return [
        {"params": list(model[0].parameters())},
        {"params": list(model[1:].parameters()), "lr": 3e-3},
    ]


def train(model, opt, steps: int, start: int = 0, device="cpu") -> None:
    """Steps with a changing LR and momentum, as the one-cycle scheduler sets them;
    the BN weight gets no gradient in odd steps (skipped, as torch.optim does)."""
    gen = torch.Generator().manual_seed(1)
    xs = [torch.randn(16, 5, generator=gen) for _ in range(start + steps)]
    for i in range(start, start + steps):
        for g in opt.param_groups:
            g["lr"] *= 0.9
            g["betas"] = (0.85 + 0.01 * (i % 3), g["betas"][1])
        model(xs[i].to(device)).pow(2).mean().backward()
        if i % 2:
            model[1].weight.grad = None
        opt.step()
        opt.zero_grad()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_updates_equal_torch_fused_adamw_bit_for_bit(device):
    a, b = net(device), net(device)
    train(a, FusedAdamW(groups(a), **HP), 6, device=device)
    train(b, torch.optim.AdamW(groups(b), **HP, fused=True), 6, device=device)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(a[0].weight, net(device)[0].weight)  # it moved


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_state_dict_resumes_in_either_class(device):
    ref = net(device)
    train(ref, FusedAdamW(groups(ref), **HP), 6, device=device)
    for first, second in [
        (FusedAdamW, torch.optim.AdamW),
        (torch.optim.AdamW, FusedAdamW),
    ]:
        model = net(device)
        opt = first(
            groups(model), **HP, **({"fused": True} if first is not FusedAdamW else {})
        )
        train(model, opt, 3, device=device)
        state = opt.state_dict()
        opt2 = second(
            groups(model), **HP, **({"fused": True} if second is not FusedAdamW else {})
        )
        opt2.load_state_dict(state)
        assert all(s["step"].device == p.device for p, s in opt2.state.items())
        train(model, opt2, 3, start=3, device=device)
        for p, q in zip(model.parameters(), ref.parameters(), strict=True):
            assert torch.equal(p, q), (first.__name__, second.__name__)


def test_no_dynamo_import():
    code = (
        "import sys, torch\n"
        "from tabtext.core.optim import FusedAdamW\n"
        "m = torch.nn.Linear(3, 2)\n"
        "opt = FusedAdamW(m.parameters())\n"
        "m(torch.randn(4, 3)).sum().backward(); opt.step(); opt.zero_grad()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_zero_grad_keeps_or_drops_buffers():
    model = nn.Linear(3, 2)
    opt = FusedAdamW(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    buf = model.weight.grad
    opt.zero_grad(set_to_none=False)
    assert model.weight.grad is buf and not buf.any()
    opt.zero_grad()
    assert model.weight.grad is None


def test_bad_parameters_are_refused():
    w = nn.Parameter(torch.zeros(3))
    with pytest.raises(ValueError, match="more than once"):
        FusedAdamW([{"params": [w]}, {"params": [w]}])
    with pytest.raises(ValueError, match="floating-point CPU or CUDA"):
        FusedAdamW([torch.zeros(3, dtype=torch.long)])
    with pytest.raises(ValueError, match="leaf"):
        FusedAdamW([w * 2])
    with pytest.raises(TypeError, match="not a set"):
        FusedAdamW({w})
    for bad in [
        dict(lr=-1.0),
        dict(betas=(0.9, 1.0)),
        dict(eps=-1.0),
        dict(weight_decay=-0.1),
    ]:
        with pytest.raises(ValueError, match=next(iter(bad))):
            FusedAdamW([w], **bad)
