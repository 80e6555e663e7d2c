"""AdamW as one call of PyTorch's fused kernel per step, without torch.optim's
per-step Python or its lazy import of ``torch._dynamo``.

``torch.optim.AdamW(fused=True)`` runs the same kernel (``torch._fused_adamw_``), but
its first call imports ``torch._dynamo`` (its ``add_param_group``, ``zero_grad`` and
``step`` are wrapped to stay out of ``torch.compile`` graphs), which costs as much as
a whole small tabular fit; each ``step`` then groups the tensors by device and dtype
in Python again (timings: ``benchmarks/RESULTS.md``). :class:`FusedAdamW` keeps torch.optim's state layout (``step``,
``exp_avg``, ``exp_avg_sq`` per parameter, param groups with ``lr``, ``betas``,
``eps``, ``weight_decay``), so its ``state_dict`` loads into either class, and its
updates equal ``torch.optim.AdamW(fused=True)``'s bit for bit (tested).
:func:`adamw`, the learner's default optimizer, picks it where it runs.
"""

from __future__ import annotations

from typing import Any

import torch

#: The kernel (a private op of PyTorch since 2.1): absent, ``adamw`` falls back.
HAVE_FUSED_ADAMW = hasattr(torch, "_fused_adamw_")


class FusedAdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019) on CPU or CUDA
    tensors, one fused kernel call per (device, dtype) per step.

    Parameters
    ----------
    params : tensors, or param groups as dicts
    lr, betas, eps, weight_decay : as ``torch.optim.AdamW``
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        if isinstance(params, set):
            raise TypeError("params must be an ordered sequence of tensors, not a set")
        if not lr >= 0.0:
            raise ValueError(f"lr must be >= 0, got {lr!r}")
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"betas must be two values in [0, 1), got {betas!r}")
        if not eps >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        if not weight_decay >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        # "fused": load_state_dict then puts each "step" on its parameter's device
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, fused=True
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """torch.optim's checks (leaf tensors, each in one group), defaults filled."""
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError("params must be an ordered sequence of tensors, not a set")
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        for p in params:
            if not isinstance(p, torch.Tensor) or not p.is_leaf:
                raise ValueError(f"can only optimize leaf tensors, got {type(p)}")
            if p.device.type not in ("cpu", "cuda") or not p.is_floating_point():
                raise ValueError(
                    f"FusedAdamW takes floating-point CPU or CUDA tensors, got a "
                    f"{p.dtype} tensor on {p.device}; use torch.optim.AdamW"
                )
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if len({id(p) for p in params}) < len(params) or seen & {id(p) for p in params}:
            raise ValueError("some parameters appear more than once in the groups")
        group = {**self.defaults, **param_group, "params": params}
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for params, grads, avgs, sqs, steps in self._by_device(group):
                torch._foreach_add_(steps, 1)
                torch._fused_adamw_(
                    params, grads, avgs, sqs, [], steps, amsgrad=False,
                    lr=group["lr"], beta1=beta1, beta2=beta2,
                    weight_decay=group["weight_decay"], eps=group["eps"],
                    maximize=False, grad_scale=None, found_inf=None,
                )  # fmt: skip
        return loss

    def _by_device(self, group: dict) -> list[tuple[list[torch.Tensor], ...]]:
        """(params, grads, exp_avgs, exp_avg_sqs, steps) per (device, dtype) of the
        group's parameters that have a gradient; state made on first sight."""
        lists: dict[tuple, tuple[list[torch.Tensor], ...]] = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("FusedAdamW does not take sparse gradients")
            state = self.state[p]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            tensors = (p, p.grad, state["exp_avg"], state["exp_avg_sq"], state["step"])
            row = lists.setdefault((p.device, p.dtype), ([], [], [], [], []))
            for dest, t in zip(row, tensors):
                dest.append(t)
        return list(lists.values())


def adamw(
    params,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    betas: tuple[float, float] = (0.9, 0.99),
) -> torch.optim.Optimizer:
    """The default optimizer: AdamW (decoupled weight decay), eps 1e-5.

    On CPU and CUDA it runs PyTorch's fused kernel through :class:`~tabtext.core.
    optim.FusedAdamW`: one pass over each tensor instead of the ~10 elementwise ops
    per tensor that ``foreach`` makes on a CPU (where it loops tensor by tensor), and
    none of torch.optim's per-step Python or its 1.5-2 s import of ``torch._dynamo``
    at the first fit. On a Rossmann fit (17 embeddings, 1,500 steps an epoch), where
    ``foreach`` AdamW took ~21% of the time, the fused kernel cut the fit's time by
    ~11%. Other devices keep torch.optim's ``foreach`` AdamW.
    """
    params = [_group(p) if isinstance(p, dict) else p for p in params]
    if _fusable(params) and HAVE_FUSED_ADAMW:
        return FusedAdamW(
            params, lr=lr, betas=betas, eps=1e-5, weight_decay=weight_decay
        )
    return torch.optim.AdamW(
        params, lr=lr, betas=betas, eps=1e-5, weight_decay=weight_decay, foreach=True
    )


def _group(group: dict) -> dict:
    """A param group whose ``params`` is a list (a generator would be used up)."""
    ps = group["params"]
    return {**group, "params": [ps] if isinstance(ps, torch.Tensor) else list(ps)}


def _fusable(params: list) -> bool:
    """True when every tensor of ``params`` (tensors, or groups of them as dicts) is
    a floating-point tensor on a CPU or CUDA device (where the fused AdamW runs)."""
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    return all(
        t.device.type in ("cpu", "cuda") and t.is_floating_point() for t in tensors
    )


__all__ = ["HAVE_FUSED_ADAMW", "FusedAdamW", "adamw"]
