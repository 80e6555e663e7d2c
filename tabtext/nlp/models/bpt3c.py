"""BPT3C, backpropagation through time for text classification (Howard & Ruder 2018,
arXiv:1801.06146): the AWD-LSTM encoder runs over a document in ``bptt``-sized chunks,
carrying the hidden state, and keeps gradients only for (about) the last ``max_len``
tokens.

Padding convention: batches are padded on the RIGHT with ``config.pad_idx``. Because the
LSTM reads left to right, padding after a document cannot change anything computed for
its tokens, and each row starts from a zero state at its own first token: a document's
prediction does not depend on what it is batched with (in eval mode).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tabtext.nlp.models.awd_lstm import AWDLSTM, Hidden

__all__ = ["SentenceEncoder"]


class SentenceEncoder(nn.Module):
    """BPT3C: encode right-padded documents chunk by chunk.

    Row ``i`` holds ``L_i`` tokens followed by padding. Its leading tokens run under
    ``torch.no_grad()`` (they only set the hidden state) in whole ``bptt`` chunks
    counted from its first token; the rest, the last ``max_len`` tokens rounded down
    to that chunk grid (between ``max_len - bptt + 1`` and ``max_len`` tokens, or all
    ``L_i`` when ``L_i <= max_len``), run with gradient, which flows back through the
    state across their chunks. Chunk boundaries fall where a row's grad part starts,
    so every row hands on exactly the state after its own tokens, and a row stops
    running once its tokens are done.

    Parameters
    ----------
    encoder : AWDLSTM
    bptt : int
        Chunk length.
    max_len : int or None
        Tokens per document that get gradient (and are returned), at most; at least
        ``bptt``. None for all.

    Returns
    -------
    (output, mask)
        ``output`` ``(batch, n, emb_sz)``: the last layer's output for each row's kept
        tokens, left-aligned, with ``n = max kept length``; ``mask`` ``(batch, n)`` is
        True at padding.
    """

    def __init__(self, encoder: AWDLSTM, bptt: int = 70, max_len: int | None = 1400):
        super().__init__()
        if bptt < 1 or (max_len is not None and max_len < bptt):
            raise ValueError(
                f"Need bptt >= 1 and max_len >= bptt (or None), got bptt={bptt}, "
                f"max_len={max_len}."
            )
        self.encoder, self.bptt, self.max_len = encoder, bptt, max_len

    def skipped(self, lengths: Tensor) -> Tensor:
        """Per row of ``lengths`` tokens, how many lead tokens only set the state
        (run without gradient and left out of the output): whole ``bptt`` chunks."""
        if self.max_len is None:
            return torch.zeros_like(lengths)
        over = (lengths - self.max_len).clamp(min=0)
        return (over + self.bptt - 1) // self.bptt * self.bptt

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        lengths = _lengths(ids, self.encoder.config.pad_idx)  # (bs,)
        skip = self.skipped(lengths)  # tokens that only set the state
        keep = lengths - skip
        state = None
        if int(skip.max()) > 0:
            with torch.no_grad():
                _, state = self._scan(ids[:, : int(skip.max())], skip, state)
        # Row i's kept tokens ids[i, skip_i : L_i], left-aligned, right-padded.
        n = int(keep.max())
        pos = skip.unsqueeze(1) + torch.arange(n, device=ids.device)  # (bs, n)
        mask = pos >= lengths.unsqueeze(1)
        kept = ids.gather(1, pos.clamp(max=ids.size(1) - 1)).masked_fill(
            mask, self.encoder.config.pad_idx
        )
        out, _ = self._scan(kept, keep, state)
        return out, mask

    def _scan(
        self, ids: Tensor, lengths: Tensor, state: Hidden | None
    ) -> tuple[Tensor, Hidden]:
        """Run right-padded ``ids`` in chunks from ``state``; rows stop at length.

        A row ending inside a chunk ends there either in the no-grad part (at a chunk
        boundary, by construction) or at its last token, after which nothing is used
        in one direction; only a bidirectional encoder needs packed sequences then.
        """
        bs = ids.size(0)
        cfg = self.encoder.config
        if state is None:
            n_dir = 2 if cfg.bidir else 1
            state = [
                (z, z.clone())
                for z in (
                    ids.new_zeros(n_dir, bs, size // n_dir, dtype=_float(self))
                    for _, size in cfg.layer_sizes
                )
            ]
        outs = []
        for start in range(0, ids.size(1), self.bptt):
            chunk = ids[:, start : start + self.bptt]  # (bs, w)
            clen = (lengths - start).clamp(0, chunk.size(1))  # (bs,)
            rows = (clen > 0).nonzero().squeeze(1)
            full = len(rows) == bs
            sub = [(h[:, rows], c[:, rows]) for h, c in state] if not full else state
            ragged = cfg.bidir and bool((clen[rows] < chunk.size(1)).any())
            out, new = self.encoder.run(
                chunk if full else chunk[rows], sub, clen[rows] if ragged else None
            )  # out: (rows, w, emb)
            if full:
                state = new
                outs.append(out)
                continue
            state = [
                (
                    h.index_copy(1, rows, nh.to(h.dtype)),
                    c.index_copy(1, rows, nc.to(c.dtype)),
                )
                for (h, c), (nh, nc) in zip(state, new, strict=True)
            ]
            outs.append(out.new_zeros(bs, *out.shape[1:]).index_copy(0, rows, out))
        return torch.cat(outs, dim=1), state  # (bs, seq, emb)


def _float(module: nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def _lengths(ids: Tensor, pad_idx: int) -> Tensor:
    """Per row, 1 + position of the last non-pad token; raises on all-pad rows."""
    if ids.dim() != 2 or ids.size(1) == 0:
        raise ValueError(f"Expected (batch, seq>0) token ids, got {tuple(ids.shape)}.")
    steps = torch.arange(1, ids.size(1) + 1, device=ids.device)
    lengths = ((ids != pad_idx) * steps).amax(1)  # (bs,)
    if bool((lengths == 0).any()):
        bad = (lengths == 0).nonzero().flatten().tolist()
        raise ValueError(
            f"Rows {bad} contain only padding (pad_idx={pad_idx}): every document "
            f"needs at least one token (e.g. a beginning-of-stream token)."
        )
    return lengths
