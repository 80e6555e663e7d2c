"""ONNX export of a trained text classifier (ULMFiT, Howard & Ruder 2018), for
prediction without torch.

The graph takes token ids and returns class probabilities:

- input ``ids`` int64 ``(batch, seq)``, both axes dynamic: each row a document's ids
  (what ``TextModel.numericalize`` gives, clipped to ``max_tokens`` as in
  prediction), right-padded with ``pad_idx``; every row needs at least one token
  that is not padding (``numericalize`` starts each document with ``xxbos``). No
  lengths input: the graph finds each row's length from the padding.
- outputs ``probabilities`` float32 ``(batch, n_classes)`` and ``class_index``
  int64 ``(batch,)``, an index into ``classes``.

:func:`encode_texts` makes ``ids`` from raw texts with the model directory's own
tokenizer and vocabulary; ``metadata_props["tabtext"]`` holds the classes,
``pad_idx``, ``max_tokens`` and ``backwards``.

How the graph differs from the torch model, and why it predicts the same: in eval
mode BPT3C (``SentenceEncoder``) only sets the LSTM state from a document's leading
tokens and pools its last ``max_len`` tokens (rounded to the ``bptt`` grid). The
graph runs each LSTM once over the whole padded row -- the same recurrence, and
right padding never changes the outputs before it -- and pools over the same
positions. The dropouts (``WeightDrop``'s ``functional_call`` included) are the
identity in eval mode and are left out. Each LSTM layer goes through a small custom
op, ``tabtext::lstm_layer``, translated to one ONNX ``LSTM`` node: torch.export
traces ``nn.LSTM`` with its time axis fixed to the example's length (a constant
then baked into the graph's reshapes), which the custom op's shape function avoids.
Bidirectional encoders are not exported (BPT3C restarts their backward direction
at every chunk, which one ONNX ``LSTM`` pass does not reproduce).

The CLI ``python -m tabtext.nlp.export MODEL_DIR OUT.onnx`` exports a saved classifier.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ...core.onnx_export import export_module
from ..models.classifier import TextClassifierModel
from ..text.loaders import ClassifierLoader
from .persistence import TextModel, load_text_model

__all__ = ["encode_texts", "export_onnx"]

# Gate order of one LSTM layer's stacked weights: torch's (input, forget, cell, output)
# and ONNX's (input, output, forget, cell).
_TO_ONNX = (0, 3, 1, 2)
_TO_TORCH = (0, 2, 3, 1)


def _gates(t: Tensor, order: tuple[int, ...]) -> Tensor:
    parts = t.chunk(4, dim=0)
    return torch.cat([parts[i] for i in order], dim=0)


@torch.library.custom_op("tabtext::lstm_layer", mutates_args=())
def lstm_layer(x: Tensor, w: Tensor, r: Tensor, b: Tensor) -> Tensor:
    """One unidirectional LSTM layer from zero state, batch-first, with ONNX's weight
    layout: ``w (1, 4h, in)``, ``r (1, 4h, h)``, ``b (1, 8h)``; returns ``(batch, seq,
    h)``. Eager calls run torch's LSTM kernel on the weights put back in its order."""
    h = r.size(2)
    params = [
        _gates(w[0], _TO_TORCH),
        _gates(r[0], _TO_TORCH),
        _gates(b[0, : 4 * h], _TO_TORCH),
        _gates(b[0, 4 * h :], _TO_TORCH),
    ]
    zeros = x.new_zeros(1, x.size(0), h)
    out, _, _ = torch.lstm(x, (zeros, zeros), params, True, 1, 0.0, False, False, True)
    return out


@lstm_layer.register_fake
def _lstm_layer_shape(x, w, r, b):
    return x.new_empty(x.size(0), x.size(1), r.size(2))  # symbolic batch and seq


def _lstm_layer_to_onnx(x, w, r, b):
    """The ONNX translation of ``tabtext::lstm_layer``: one ``LSTM`` node."""
    from onnxscript import opset18 as op

    y, _, _ = op.LSTM(op.Transpose(x, perm=[1, 0, 2]), w, r, b, hidden_size=r.shape[2])
    return op.Transpose(
        op.Squeeze(y, [1]), perm=[1, 0, 2]
    )  # (seq, 1, bs, h) -> (bs, seq, h)


class _Layer(nn.Module):
    """One ``nn.LSTM`` layer's weights in ONNX's layout."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        g = lambda name: _gates(getattr(lstm, name).detach(), _TO_ONNX)  # noqa: E731
        self.register_buffer("w", g("weight_ih_l0").unsqueeze(0))
        self.register_buffer("r", g("weight_hh_l0").unsqueeze(0))
        self.register_buffer("b", torch.cat([g("bias_ih_l0"), g("bias_hh_l0")])[None])

    def forward(self, x: Tensor) -> Tensor:
        return lstm_layer(x, self.w, self.r, self.b)


class _Predictor(nn.Module):
    """The eval-mode classifier as one pass: embedding, LSTMs, BPT3C's pooling, head."""

    def __init__(self, model: TextClassifierModel):
        super().__init__()
        enc, cfg = model.encoder, model.config
        if cfg.bidir:
            raise ValueError(
                "a bidirectional classifier cannot be exported to ONNX (BPT3C restarts "
                "its backward direction at every chunk); train it with bidir=False"
            )
        self.pad_idx = cfg.pad_idx
        self.bptt = model.sentence_encoder.bptt
        self.max_len = model.sentence_encoder.max_len
        self.embedding = enc.embedding
        self.layers = nn.ModuleList(_Layer(rnn.module) for rnn in enc.rnns)
        self.head = model.head.layers

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        pos = torch.arange(ids.size(1), device=ids.device)  # (seq,)
        lengths = ((ids != self.pad_idx) * (pos + 1)).amax(1)  # (bs,)
        x = self.embedding(ids)  # (bs, seq, emb)
        for layer in self.layers:
            x = layer(x)  # (bs, seq, n_hid), emb_sz for the last layer
        skip = torch.zeros_like(lengths)  # leading tokens BPT3C does not pool
        if self.max_len is not None:
            over = (lengths - self.max_len).clamp(min=0)
            skip = (over + self.bptt - 1) // self.bptt * self.bptt
        keep = (pos >= skip[:, None]) & (pos < lengths[:, None])  # (bs, seq)
        last = x.gather(1, (lengths - 1)[:, None, None].expand(-1, 1, x.size(2)))
        drop = ~keep[:, :, None]
        max_pool = x.masked_fill(drop, float("-inf")).amax(1)
        mean_pool = x.masked_fill(drop, 0.0).sum(1) / (lengths - skip)[:, None].to(
            x.dtype
        )
        pooled = torch.cat([last[:, 0], max_pool, mean_pool], 1)  # (bs, 3 * emb)
        proba = torch.softmax(self.head(pooled).float(), 1)
        return proba, proba.argmax(1)


def export_onnx(model: str | Path | TextModel, path: str | Path) -> Path:
    """Export a text classifier (a model directory or a loaded ``TextModel``) as ONNX.

    Parameters
    ----------
    model : path or TextModel
        A directory written by ``finetune``/``TextClassifier.save`` (``OUT`` or
        ``OUT/model``), or what :func:`~tabtext.nlp.load_text_model` returns.
    path : str or Path
        The ``.onnx`` file to write (atomically; weights inside).

    Returns
    -------
    Path

    Examples
    --------
    >>> from tabtext.nlp import export_onnx, encode_texts, load_text_model
    >>> export_onnx("runs/imdb", "imdb.onnx")  # doctest: +SKIP
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> ids = encode_texts(load_text_model("runs/imdb"), ["A fine film."])  # doctest: +SKIP
    >>> proba, idx = ort.InferenceSession("imdb.onnx").run(None, {"ids": ids})  # doctest: +SKIP
    """
    tm = model if isinstance(model, TextModel) else load_text_model(model)
    if tm.task.kind != "classification":  # the graph ends in a softmax
        raise ValueError(
            f"ONNX export covers single-label classification; this is a "
            f"{tm.task.kind} model (sigmoid or linear outputs are not exported yet)"
        )
    net = copy.deepcopy(tm.model).float().cpu().eval()  # tm.model stays as it was
    predictor = _Predictor(net).eval()
    token = 0 if net.config.pad_idx != 0 else 1  # any id that is not padding
    example = torch.full((2, 2 * predictor.bptt + 3), token)
    metadata = {
        "kind": "tabtext.TextClassifier",
        "classes": [c.item() if isinstance(c, np.generic) else c for c in tm.classes],
        "pad_idx": net.config.pad_idx,
        "max_tokens": tm.config.max_tokens,
        "backwards": tm.config.backwards,
        "vocab_size": net.config.vocab_size,
        "inputs": ["ids"],
        "outputs": ["probabilities", "class_index"],
    }
    return export_module(
        predictor,
        (example,),
        path,
        ["ids"],
        ["probabilities", "class_index"],
        [{0: "batch", 1: "seq"}],
        metadata,
        translations={torch.ops.tabtext.lstm_layer.default: _lstm_layer_to_onnx},
    )


def encode_texts(tm: TextModel, texts: list[str]) -> np.ndarray:
    """The graph's ``ids`` for raw texts: tokenized and numericalized with the model's
    tokenizer and vocabulary, reversed for a backward model, clipped to
    ``max_tokens`` (head and tail), right-padded with ``pad_idx``; int64
    ``(len(texts), longest)``, rows in the order of ``texts``."""
    docs = tm.numericalize(list(texts), progress=False)
    loader = ClassifierLoader(
        docs, None, len(docs), pad_idx=tm.model.config.pad_idx,
        max_tokens=tm.config.max_tokens,
    )  # fmt: skip
    return loader.pad(np.arange(len(docs))).numpy()
