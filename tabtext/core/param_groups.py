"""Layer groups: splitting a model for discriminative LRs and gradual unfreezing.

Discriminative fine-tuning and gradual unfreezing are from ULMFiT (Howard & Ruder 2018).
A model is split into ordered layer groups, input side first and head last, either by
its ``param_groups()`` method or by a ``splitter(model)`` function. Each group is a list
of parameters or modules; every trainable parameter must land in exactly one group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

LR = float | Sequence[float] | slice
Splitter = Callable[[nn.Module], Sequence[Iterable]]

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm)


def _flatten(group: Iterable) -> list[nn.Parameter]:
    params: list[nn.Parameter] = []
    items = [group] if isinstance(group, (nn.Module, nn.Parameter)) else group
    for item in items:
        if isinstance(item, nn.Module):
            params.extend(item.parameters())
        elif isinstance(item, nn.Parameter):
            params.append(item)
        else:
            raise TypeError(
                f"a layer group holds modules or parameters, got {type(item).__name__}"
            )
    return list({id(p): p for p in params}.values())  # dedupe, keep order


def split_model(
    model: nn.Module, splitter: Splitter | None = None
) -> list[list[nn.Parameter]]:
    """Return the model's layer groups as lists of parameters, checked.

    Uses ``splitter(model)`` if given, else ``model.param_groups()`` if it exists, else a
    single group with all parameters.

    Raises
    ------
    ValueError
        If a trainable parameter is in no group or in more than one.
    """
    if splitter is not None:
        raw = splitter(model)
    elif callable(getattr(model, "param_groups", None)):
        raw = model.param_groups()
    else:
        raw = [list(model.parameters())]
    groups = [_flatten(g) for g in raw]
    if not groups or not any(groups):
        raise ValueError(
            "the splitter returned no parameters; return at least one group"
        )
    _check_partition(model, groups)
    return groups


def _check_partition(model: nn.Module, groups: list[list[nn.Parameter]]) -> None:
    seen: dict[int, int] = {}
    for gi, group in enumerate(groups):
        for p in group:
            if id(p) in seen:
                raise ValueError(
                    f"a parameter of shape {tuple(p.shape)} is in layer groups "
                    f"{seen[id(p)]} and {gi}; each parameter must be in exactly one group"
                )
            seen[id(p)] = gi
    names = {id(p): n for n, p in model.named_parameters()}
    missing = [names[i] for i in names if i not in seen]
    trainable_missing = [
        n for n, p in model.named_parameters() if p.requires_grad and n in missing
    ]
    if trainable_missing:
        raise ValueError(
            f"parameters in no layer group: {trainable_missing}; "
            "add them to a group in param_groups()/splitter"
        )


def lrs_for_groups(lr: LR, n_groups: int) -> list[float]:
    """Spread ``lr`` over ``n_groups`` layer groups.

    - a float: the same LR for every group;
    - a sequence: one LR per group (its length must equal ``n_groups``);
    - ``slice(lo, hi)``: geometric from ``lo`` (first group) to ``hi`` (last group);
    - ``slice(hi)``: ``hi`` for the last group, ``hi / 10`` for the others.

    Examples
    --------
    >>> lrs_for_groups(slice(1e-4, 1e-2), 3)
    [0.0001, 0.001, 0.01]
    """
    if isinstance(lr, slice):
        if lr.step is not None:
            raise ValueError(f"slice LRs take (hi) or (lo, hi), got step {lr.step!r}")
        if lr.start is None:
            hi = _check_lr(lr.stop)
            return [hi / 10] * (n_groups - 1) + [hi]
        lo, hi = _check_lr(lr.start), _check_lr(lr.stop)
        if n_groups == 1:
            return [hi]
        return [float(v) for v in np.geomspace(lo, hi, n_groups)]
    if isinstance(lr, (int, float, np.floating, np.integer)):
        return [_check_lr(lr)] * n_groups
    if isinstance(lr, (str, bytes)) or not isinstance(lr, Sequence | np.ndarray):
        raise TypeError(f"lr must be a float, a sequence or a slice, got {lr!r}")
    lrs = [_check_lr(v) for v in lr]
    if len(lrs) != n_groups:
        raise ValueError(
            f"got {len(lrs)} learning rates for {n_groups} layer groups; "
            "pass one per group, a float or a slice"
        )
    return lrs


def _check_lr(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"a learning rate must be a number, got {v!r}") from None
    if not np.isfinite(f) or f < 0:
        raise ValueError(f"a learning rate must be finite and >= 0, got {v!r}")
    return f


def norm_param_ids(model: nn.Module) -> set[int]:
    """Ids of normalisation-layer parameters, which keep training in frozen groups."""
    return {
        id(p)
        for m in model.modules()
        if isinstance(m, _BN_TYPES)
        for p in m.parameters()
    }


def set_frozen(
    groups: list[list[nn.Parameter]], n_frozen: int, keep_trainable: set[int]
) -> None:
    """Freeze the first ``n_frozen`` groups (except ``keep_trainable``), unfreeze the rest."""
    for gi, group in enumerate(groups):
        for p in group:
            p.requires_grad_(gi >= n_frozen or id(p) in keep_trainable)


class LayerGroups:
    """Base of :class:`~tabtext.core.Learner`: the model's layer groups, freezing, and
    per-group LRs and momentum on the host's optimizer ``opt``."""

    opt: torch.optim.Optimizer

    def __init__(self, model: nn.Module, splitter: Splitter | None = None) -> None:
        self.groups = split_model(model, splitter)
        self._keep_trainable = norm_param_ids(model)
        self.n_frozen = 0
        self._trainable = [p for p in model.parameters() if p.requires_grad]

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    def set_lrs(self, lr: LR) -> list[float]:
        lrs = lrs_for_groups(lr, self.n_groups)
        for group, v in zip(self.opt.param_groups, lrs, strict=True):
            group["lr"] = v
        return lrs

    def set_mom(self, mom: float) -> None:
        """Set SGD momentum or Adam's beta1 in every group."""
        for group in self.opt.param_groups:
            if "betas" in group:
                group["betas"] = (mom, group["betas"][1])
            elif "momentum" in group:
                group["momentum"] = mom

    def freeze_to(self, n: int) -> None:
        """Freeze the first ``n`` layer groups (negative ``n`` counts from the end).

        Normalisation layers in frozen groups keep training, as in fastai.
        """
        if not isinstance(n, int) or not -self.n_groups <= n <= self.n_groups:
            raise ValueError(
                f"freeze_to takes an int in [-{self.n_groups}, {self.n_groups}] "
                f"for {self.n_groups} layer groups, got {n!r}"
            )
        self.n_frozen = n % self.n_groups if n < 0 else n
        set_frozen(self.groups, self.n_frozen, self._keep_trainable)
        self._trainable = [p for g in self.groups for p in g if p.requires_grad]

    def freeze(self) -> None:
        """Train only the last layer group (plus normalisation layers)."""
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        self.freeze_to(0)

    def trainable_params(self) -> list[nn.Parameter]:
        return self._trainable
