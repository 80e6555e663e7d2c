"""AWD-LSTM encoder and language model (Merity, Keskar & Socher 2017, arXiv:1708.02182),
as used by ULMFiT (Howard & Ruder 2018, arXiv:1801.06146).

Layout follows fastai's ``text/models/awdlstm.py``: an embedding with embedding dropout,
locked input dropout, ``n_layers`` single-layer LSTMs with DropConnect on their
hidden-to-hidden weights and locked dropout between layers. The last layer's size is
always ``emb_sz``, so the encoder has the same shape whether or not a decoder is tied to
it (a language model's encoder loads into a classifier unchanged). The optional adaptive
softmax is Grave et al. (2017), "Efficient softmax approximation for GPUs".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tabtext.nlp.models.dropout import (
    EmbeddingDropout,
    LockedDropout,
    WeightDrop,
    ar_tar_loss,
)
from tabtext.nlp.models.sizes import AWDLSTMConfig, preset
from tabtext.nlp.models.softmax import adaptive_cross_entropy, linear_cross_entropy

__all__ = [
    "AWDLSTM",
    "AWDLSTMConfig",
    "LMLoss",
    "LMOutput",
    "LanguageModel",
    "generate",
    "preset",
]

Hidden = list[tuple[Tensor, Tensor]]  # per layer: (h, c), each (n_dir, batch, hidden)


class AWDLSTM(nn.Module):
    """The AWD-LSTM encoder; carries its hidden state across calls (truncated BPTT).

    ``forward(ids)`` starts from the state the previous call ended in (detached, so
    gradients stop at the batch boundary) and returns the last layer's output,
    ``(batch, seq, emb_sz)``, before any output dropout. The state restarts from zeros
    after :meth:`reset` or when the batch size changes. :meth:`run` is the stateless
    step underneath, for callers that manage the state themselves.

    Parameters
    ----------
    config : AWDLSTMConfig
    """

    init_range = 0.1

    def __init__(self, config: AWDLSTMConfig) -> None:
        super().__init__()
        self.config = config
        n_dir = 2 if config.bidir else 1
        emb = nn.Embedding(config.vocab_size, config.emb_sz, padding_idx=config.pad_idx)
        nn.init.uniform_(emb.weight, -self.init_range, self.init_range)
        self.embed = EmbeddingDropout(emb, config.embed_p)
        self.input_dp = LockedDropout(config.input_p)
        self.rnns = nn.ModuleList(
            WeightDrop(
                nn.LSTM(
                    n_in, n_out // n_dir, batch_first=True, bidirectional=config.bidir
                ),
                config.weight_p,
            )
            for n_in, n_out in config.layer_sizes
        )
        self.hidden_dps = nn.ModuleList(
            LockedDropout(config.hidden_p) for _ in range(config.n_layers - 1)
        )
        self.hidden: Hidden | None = None

    @property
    def embedding(self) -> nn.Embedding:
        """The embedding layer (``weight`` is ``(vocab_size, emb_sz)``)."""
        return self.embed.embedding

    def reset(self) -> None:
        """Forget the carried hidden state (the next call starts from zeros)."""
        self.hidden = None

    def forward(self, ids: Tensor) -> Tensor:
        if ids.dim() != 2:
            raise ValueError(
                f"AWDLSTM expects (batch, seq) token ids, got {tuple(ids.shape)}."
            )
        state = self.hidden
        if state is not None and (
            state[0][0].size(1) != ids.size(0) or state[0][0].device != ids.device
        ):
            state = None  # new batch size (or device): the old rows do not continue
        out, state = self.run(ids, state)
        # Stored in the weights' dtype: a state left by an autocast step must not
        # break a later full-precision call (autocast casts it down when on).
        dtype = self.embedding.weight.dtype
        self.hidden = [(h.detach().to(dtype), c.detach().to(dtype)) for h, c in state]
        return out

    def run(
        self, ids: Tensor, hidden: Hidden | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Hidden]:
        """One stateless pass: ``(output (batch, seq, emb_sz), new hidden state)``.

        Parameters
        ----------
        ids : Tensor
            ``(batch, seq)`` token ids.
        hidden : list of (h, c), optional
            State to start from, per layer ``(n_dir, batch, size)``; zeros if None.
        lengths : Tensor, optional
            ``(batch,)`` valid lengths (>= 1) of right-padded rows: the LSTMs then run
            on packed sequences, so each row's final state is the one after its own
            last token. Outputs past a row's length are zero. (Slower on CPU: packed
            sequences do not get the oneDNN kernel.)
        """
        return self.run_embedded(self.embed(ids), hidden, lengths)

    def run_embedded(
        self, x: Tensor, hidden: Hidden | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Hidden]:
        """:meth:`run` from embedded tokens ``x`` ``(batch, seq, emb_sz)`` (the
        gradient with respect to the inputs is what attribution methods need)."""
        x = self.input_dp(x)  # (bs, seq, emb)
        seq = x.size(1)
        if lengths is not None:
            lengths = lengths.cpu()
        new_hidden = []
        for layer, rnn in enumerate(self.rnns):
            h0 = None if hidden is None else hidden[layer]
            if lengths is None:
                x, h = rnn(x, h0)
            else:
                packed = pack_padded_sequence(
                    x, lengths, batch_first=True, enforce_sorted=False
                )
                x, h = rnn(packed, h0)
                x, _ = pad_packed_sequence(x, batch_first=True, total_length=seq)
            new_hidden.append(h)
            if layer < len(self.hidden_dps):
                x = self.hidden_dps[layer](x)  # (bs, seq, n_hid)
        return x, new_hidden

    def param_groups(self) -> list[list[nn.Parameter]]:
        """``[embedding], [LSTM layer 0], ..., [LSTM layer n-1]``."""
        return [[self.embedding.weight]] + [list(r.parameters()) for r in self.rnns]


class LMOutput:
    """What :class:`LanguageModel` returns; :class:`LMLoss` consumes it.

    Attributes
    ----------
    logits : Tensor or None
        ``(batch, seq, vocab)`` with a full softmax, computed when first read (the
        training loss does without: :func:`~tabtext.nlp.models.softmax.linear_cross_entropy`);
        None with an adaptive softmax.
    hidden : Tensor
        ``(batch, seq, emb_sz)``: the last layer's output after output dropout, i.e.
        the decoder's input (AR penalises it).
    raw : Tensor or None
        ``(batch, seq, emb_sz)``: the same before dropout (TAR penalises its steps);
        None in eval mode, which switches AR and TAR off.
    decoder : (weight, bias) or None
        The full softmax's decoder (tied: the embedding matrix); None with an adaptive
        softmax.
    """

    __slots__ = ("_logits", "decoder", "hidden", "raw")

    def __init__(
        self,
        hidden: Tensor,
        raw: Tensor | None,
        decoder: tuple[Tensor, Tensor | None] | None = None,
    ) -> None:
        self.hidden, self.raw, self.decoder = hidden, raw, decoder
        self._logits: Tensor | None = None

    @property
    def logits(self) -> Tensor | None:
        if self._logits is None and self.decoder is not None:
            self._logits = F.linear(self.hidden, *self.decoder)
        return self._logits


class LanguageModel(nn.Module):
    """AWD-LSTM language model: encoder, output dropout and a softmax decoder.

    The full-softmax decoder is tied to the embedding by default (a bias of its own);
    with ``config.adaptive_softmax`` the head is ``nn.AdaptiveLogSoftmaxWithLoss``.
    ``forward(ids)`` returns an :class:`LMOutput`; train it with ``model.loss_fn()``.

    Parameters
    ----------
    config : AWDLSTMConfig

    Examples
    --------
    >>> model = LanguageModel(preset("small", vocab_size=100))
    >>> loss_fn = model.loss_fn()
    >>> ids = torch.randint(0, 100, (4, 9))
    >>> loss = loss_fn(model(ids[:, :-1]), ids[:, 1:])
    """

    def __init__(self, config: AWDLSTMConfig) -> None:
        super().__init__()
        if config.bidir:
            raise ValueError(
                "A language model cannot be bidirectional: set bidir=False."
            )
        self.config = config
        self.encoder = AWDLSTM(config)
        self.output_dp = LockedDropout(config.output_p)
        self.decoder_weight: nn.Parameter | None = None
        self.decoder_bias: nn.Parameter | None = None
        self.adaptive: nn.AdaptiveLogSoftmaxWithLoss | None = None
        v, e = config.vocab_size, config.emb_sz
        if config.adaptive_softmax is not None:
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(
                e, v, list(config.adaptive_softmax), div_value=config.adaptive_div
            )
        else:
            # Tied: the weight lives in the embedding only (one copy in the state dict).
            if not config.tie_weights:
                w = torch.empty(v, e).uniform_(-AWDLSTM.init_range, AWDLSTM.init_range)
                self.decoder_weight = nn.Parameter(w)
            self.decoder_bias = nn.Parameter(torch.zeros(v))

    def reset(self) -> None:
        """Forget the encoder's carried hidden state."""
        self.encoder.reset()

    def forward(self, ids: Tensor) -> LMOutput:
        raw = self.encoder(ids)  # (bs, seq, emb)
        hidden = self.output_dp(raw)
        decoder = None
        if self.adaptive is None:
            weight = self.decoder_weight
            if weight is None:
                weight = self.encoder.embedding.weight
            decoder = (weight, self.decoder_bias)
        return LMOutput(hidden, raw if self.training else None, decoder)

    def log_probs(self, output: LMOutput) -> Tensor:
        """Log-probabilities ``(batch, seq, vocab)`` of the next token."""
        if self.adaptive is None:
            return F.log_softmax(output.logits.float(), dim=-1)
        bs, seq, emb = output.hidden.shape
        return self.adaptive.log_prob(output.hidden.reshape(-1, emb)).view(bs, seq, -1)

    def loss_fn(self) -> LMLoss:
        """The training loss for this model: cross-entropy + AR + TAR."""
        return LMLoss(self.config.alpha, self.config.beta, self.adaptive)

    def param_groups(self) -> list[list[nn.Parameter]]:
        """``[embedding (+ tied decoder)], [LSTM layer] per layer, [decoder head]``."""
        if self.adaptive is not None:
            head = list(self.adaptive.parameters())
        else:
            head = [
                p for p in (self.decoder_weight, self.decoder_bias) if p is not None
            ]
        return self.encoder.param_groups() + [head]


class LMLoss:
    """Language-model loss: mean next-token cross-entropy, plus AR and TAR in training.

    Parameters
    ----------
    alpha, beta : float
        AR and TAR weights (applied only when the output carries ``raw``, i.e. the model
        was in training mode).
    adaptive : nn.AdaptiveLogSoftmaxWithLoss, optional
        The model's adaptive softmax head, when it has one.
    """

    def __init__(
        self,
        alpha: float = 2.0,
        beta: float = 1.0,
        adaptive: nn.AdaptiveLogSoftmaxWithLoss | None = None,
    ) -> None:
        self.alpha, self.beta, self.adaptive = alpha, beta, adaptive

    def __call__(self, output: LMOutput, target: Tensor) -> Tensor:
        if not isinstance(output, LMOutput):
            raise TypeError(f"LMLoss expects an LMOutput, got {type(output).__name__}.")
        target = target.reshape(-1)
        if output.decoder is not None:
            # the same as F.cross_entropy over output.logits, without building them
            loss = linear_cross_entropy(output.hidden, *output.decoder, target)
        elif self.adaptive is not None:
            # the same as self.adaptive(hidden, target).loss, a slice at a time
            loss = adaptive_cross_entropy(self.adaptive, output.hidden, target)
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                # DDP waits for a gradient of every parameter; a batch whose targets
                # miss a tail cluster gives its weights none, so add a zero term
                tail = self.adaptive.tail.parameters()
                loss = loss + 0.0 * sum(p.sum() for p in tail)
        else:
            raise ValueError(
                "The output has no logits (adaptive softmax): build the loss with "
                "model.loss_fn() so it knows the adaptive head."
            )
        if output.raw is not None and (self.alpha or self.beta):
            loss = loss + ar_tar_loss(output.raw, output.hidden, self.alpha, self.beta)
        return loss


def generate(
    model: LanguageModel,
    prompt_ids: Sequence[int],
    n_words: int,
    temperature: float = 1.0,
    seed: int | None = None,
    banned_ids: Sequence[int] = (),
) -> list[int]:
    """Sample ``n_words`` token ids after a prompt.

    Parameters
    ----------
    model : LanguageModel
    prompt_ids : sequence of int
        At least one token id.
    n_words : int
        Number of ids to generate.
    temperature : float
        Softmax temperature; 0 picks the most likely token.
    seed : int, optional
        Seeds a private generator (the global RNG is untouched).
    banned_ids : sequence of int
        Ids never sampled (e.g. the unknown and padding tokens).

    Returns
    -------
    list of int
        The generated ids only (the prompt excluded). The model's hidden state is
        reset and its training mode restored afterwards.
    """
    if len(prompt_ids) == 0:
        raise ValueError("generate needs a non-empty prompt_ids.")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}.")
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    model.reset()
    ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)
    out: list[int] = []
    try:
        for _ in range(n_words):
            logp = model.log_probs(model(ids))[0, -1].float().cpu()  # (vocab,)
            logp[list(banned_ids)] = -float("inf")
            if temperature == 0:
                nxt = int(logp.argmax())
            else:
                probs = torch.softmax(logp / temperature, dim=-1)
                nxt = int(torch.multinomial(probs, 1, generator=gen))
            out.append(nxt)
            ids = torch.tensor([[nxt]], dtype=torch.long, device=device)
    finally:
        model.reset()
        model.train(was_training)
    return out
