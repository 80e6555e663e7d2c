"""ULMFiT's text classifier, model side (Howard & Ruder 2018, arXiv:1801.06146).

The AWD-LSTM encoder runs over a document with BPT3C (:mod:`tabtext.nlp.models.bpt3c`);
concat pooling of the final layer (last state, max-pool, mean-pool) then feeds a small
BatchNorm/Dropout/Linear head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from tabtext.nlp.models.awd_lstm import AWDLSTM, AWDLSTMConfig
from tabtext.nlp.models.bpt3c import SentenceEncoder

__all__ = [
    "PoolingLinearClassifier",
    "SentenceEncoder",
    "TextClassifierModel",
    "masked_concat_pool",
]


def masked_concat_pool(output: Tensor, mask: Tensor) -> Tensor:
    """Concat pooling over the non-pad positions of right-padded outputs.

    Parameters
    ----------
    output : Tensor
        ``(batch, seq, features)``.
    mask : Tensor
        ``(batch, seq)`` bool, True at padding (padding only at the end of a row).

    Returns
    -------
    Tensor
        ``(batch, 3 * features)``: ``[last token's output, max-pool, mean-pool]``.
    """
    n = (~mask).sum(1)  # (bs,)
    if bool((n == 0).any()):
        raise ValueError("masked_concat_pool: a row is all padding.")
    pad = mask.unsqueeze(-1)  # (bs, seq, 1)
    last = output[torch.arange(output.size(0), device=output.device), n - 1]
    max_pool = output.masked_fill(pad, float("-inf")).amax(1)
    mean_pool = output.masked_fill(pad, 0.0).sum(1) / n.unsqueeze(1).to(output.dtype)
    return torch.cat([last, max_pool, mean_pool], dim=1)  # (bs, 3 * feat)


class PoolingLinearClassifier(nn.Module):
    """Concat pooling, then blocks of BatchNorm1d -> Dropout -> Linear (-> ReLU).

    Parameters
    ----------
    n_features : int
        Size of the encoder output (pooled size is ``3 * n_features``).
    n_classes : int
    lin_ftrs : sequence of int
        Hidden sizes of the head (ULMFiT: ``(50,)``).
    ps : sequence of float
        One dropout per block (``len(lin_ftrs) + 1`` values).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        lin_ftrs: Sequence[int] = (50,),
        ps: Sequence[float] = (0.4, 0.1),
    ) -> None:
        super().__init__()
        sizes = [3 * n_features, *lin_ftrs, n_classes]
        if len(ps) != len(sizes) - 1:
            raise ValueError(
                f"ps needs one dropout per linear block ({len(sizes) - 1}), got {ps}."
            )
        layers: list[nn.Module] = []
        for i, (n_in, n_out, p) in enumerate(
            zip(sizes[:-1], sizes[1:], ps, strict=True)
        ):
            layers += [nn.BatchNorm1d(n_in), nn.Dropout(p), nn.Linear(n_in, n_out)]
            if i < len(sizes) - 2:
                layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, output: Tensor, mask: Tensor) -> Tensor:
        return self.layers(masked_concat_pool(output, mask))  # (bs, n_classes)


class TextClassifierModel(nn.Module):
    """ULMFiT classifier: AWD-LSTM encoder (BPT3C) + pooling linear head.

    ``forward(ids)`` takes ``(batch, seq)`` token ids padded on the right with
    ``config.pad_idx`` and returns logits ``(batch, n_classes)``.

    Parameters
    ----------
    config : AWDLSTMConfig
        Encoder config (e.g. ``preset("small", V, task="classifier")``); its sizes must
        match the language model whose encoder is loaded with :meth:`load_encoder`.
    n_classes : int
    bptt, max_len : int
        See :class:`SentenceEncoder`.
    lin_ftrs : sequence of int
        Hidden sizes of the head.
    ps : sequence of float, optional
        Head dropouts; default ``(config.output_p, 0.1, ...)`` as fastai.

    Examples
    --------
    >>> from tabtext.nlp.models.awd_lstm import preset
    >>> model = TextClassifierModel(preset("small", 100, task="classifier"), 2)
    >>> logits = model(torch.randint(2, 100, (4, 30)))
    """

    def __init__(
        self,
        config: AWDLSTMConfig,
        n_classes: int,
        bptt: int = 70,
        max_len: int | None = 1400,
        lin_ftrs: Sequence[int] = (50,),
        ps: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}.")
        if ps is None:
            ps = [config.output_p] + [0.1] * len(lin_ftrs)
        self.config = config
        self.sentence_encoder = SentenceEncoder(AWDLSTM(config), bptt, max_len)
        self.head = PoolingLinearClassifier(config.emb_sz, n_classes, lin_ftrs, ps)

    @property
    def encoder(self) -> AWDLSTM:
        """The AWD-LSTM encoder (load a language model's weights into it)."""
        return self.sentence_encoder.encoder

    def reset(self) -> None:
        """No state is carried between batches; clears the encoder's, if any."""
        self.encoder.reset()

    def forward(self, ids: Tensor) -> Tensor:
        return self.head(*self.sentence_encoder(ids))  # (bs, n_classes)

    def load_encoder(self, state_dict: Mapping[str, Tensor]) -> None:
        """Load an :class:`AWDLSTM` state dict, e.g. ``lm.encoder.state_dict()``."""
        self.encoder.load_state_dict(state_dict)

    def param_groups(self) -> list[list[nn.Parameter]]:
        """``[embedding], [LSTM layer] per layer, [head]``."""
        return self.encoder.param_groups() + [list(self.head.parameters())]
