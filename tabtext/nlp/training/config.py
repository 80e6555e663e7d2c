"""ULMFiT's hyper-parameters (Howard & Ruder 2018) as one flat, validated config.

Three presets: ``quick`` (the README's main command: a subset and the small model,
sized for a short CPU run), ``cpu`` (every text and longer reads, within an hour's
budget on a CPU) and ``paper`` (the paper's sizes and schedule, for a GPU). The phase plan turns a config
into the fits of the recipe: ``lm`` (an LM trained on the target texts, when there is
no pretrained one), ``lm_ft`` (LM fine-tuning, discriminative slanted triangular LRs),
``clas_1`` .. ``clas_all`` (gradual unfreezing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models.sizes import AWDLSTMConfig

PRESET_NAMES = ("quick", "cpu", "paper")
#: what ``monitor`` may name, and whether lower or higher is better ("last": no
#: choice, the last epoch's weights)
MONITOR_MODES = {
    "loss": "min",
    "accuracy": "max",
    "f1": "max",
    "roc_auc": "max",
    "micro_f1": "max",
    "subset_accuracy": "max",
    "mae": "min",
    "rmse": "min",
}
MONITORS = ("last", *MONITOR_MODES)


def _field(default: Any, help: str) -> Any:
    """A config field whose help is written once, here: the CLIs' ``--help`` and the
    docs' table of flags read it from the field's metadata."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ULMFiTConfig:
    """Every knob of the three ULMFiT stages; each is a ``--flag`` of the CLIs.

    Each field's help is in its metadata (``dataclasses.fields(ULMFiTConfig)``), from
    which ``--help`` and the docs' table of flags are made. ``make_config`` applies a
    preset and then the fields given; combinations are checked here, before any work.
    """

    preset: str = _field(
        "quick", "hyper-parameter preset; every other field overrides it"
    )
    model: str = _field(
        "small",
        "AWD-LSTM size preset: small (emb 200, hidden 400, 2 layers) or paper (400/1152/3)",
    )
    emb_sz: int | None = _field(None, "embedding size (overrides --model)")
    n_hid: int | None = _field(None, "LSTM hidden size (overrides --model)")
    n_layers: int | None = _field(None, "number of LSTM layers (overrides --model)")
    max_vocab: int = _field(60000, "keep at most this many tokens in the vocabulary")
    min_freq: int = _field(3, "drop tokens seen fewer times than this")
    adaptive_softmax: bool = _field(
        False, "adaptive softmax output layer for the LM (faster on CPU)"
    )
    lm_docs: int | None = _field(
        None, "texts used for the language-model stages ('all' for every one)"
    )
    clas_docs: int | None = _field(
        None, "labeled texts used by the classifier ('all' for every one)"
    )
    max_labels: int | None = _field(
        None,
        "the classifier sees only N labeled reviews, balanced and seeded (semi-supervised setting; the LM stages still use all texts)",
    )
    valid_pct: float = _field(
        0.1, "share of the training file held out for validation (stratified)"
    )
    bptt: int = _field(70, "back-propagation-through-time window (tokens)")
    lm_bs: int = _field(64, "language-model batch size")
    lm_epochs: int = _field(
        1, "epochs of LM training on the target texts (when not --pretrained)"
    )
    lm_lr: float = _field(1e-2, "max LR of LM training")
    lm_ft_epochs: int = _field(1, "epochs of LM fine-tuning (discriminative LRs, STLR)")
    lm_ft_lr: float = _field(2e-3, "max LR of LM fine-tuning (last layer group)")
    lm_drop_mult: float = _field(0.5, "multiplier of all LM dropouts")
    clas_bs: int = _field(32, "classifier batch size")
    clas_lr: float = _field(
        2e-2, "classifier LR of the first gradual-unfreezing step (halved per step)"
    )
    clas_epochs: int = _field(1, "epochs with all groups unfrozen at the end")
    clas_final_lr: float | None = _field(
        None, "LR of the last group in those epochs (default clas_lr / 20)"
    )
    clas_drop_mult: float = _field(0.5, "multiplier of all classifier dropouts")
    max_len: int = _field(
        1400, "BPT3C: back-propagate through the last N tokens of each document"
    )
    max_tokens: int | None = _field(
        None, "read at most N tokens of each document ('all' for whole documents)"
    )
    unfreeze: tuple[int, ...] = _field(
        (1, 2, 3),
        "gradual unfreezing steps: train the last K groups for one epoch each, e.g. 1 2 3; no value: the whole model from the start",
    )
    lr_decay: float = _field(
        2.6, "discriminative LRs: each group's LR = the next group's / this"
    )
    wd: float = _field(0.1, "weight decay")
    clip: float = _field(0.25, "gradient-norm clipping")
    clas_min_steps: int = _field(
        200,
        "each classifier phase takes at least N steps (small labeled sets are passed over several times per epoch)",
    )
    clas_lr_full_at: int = _field(
        500,
        "a classifier learning from fewer texts than this scales its LRs by texts / N, since it passes over the same few texts many times (0: never)",
    )
    self_train: int = _field(
        0,
        "self-training: add the N texts per class the classifier is surest of among unlabeled ones, with that class, and train it again (0: off)",
    )
    self_train_pool: int = _field(
        10000,
        "how many texts without labels (training texts outside --max-labels, --unlabeled texts) the classifier scores for --self-train",
    )
    self_train_rounds: int = _field(
        1,
        "--self-train rounds: each round's classifier picks the next round's pseudo-labels",
    )
    precision: str = _field(
        "auto",
        "bf16 or fp16 autocast (fp16 with loss scaling) or fp32 for training; auto: bf16 on GPUs from compute capability 8.0 and on CPUs with AVX512-BF16, fp16 on older GPUs (T4, V100)",
    )
    monitor: str = _field(
        "last",
        "the validation score that picks the classifier's best epoch over all its phases, whose weights the run keeps: last (the last epoch, as in the paper), loss, or a metric of the task (accuracy, f1, roc_auc; micro_f1, subset_accuracy; mae, rmse)",
    )
    seed: int = _field(
        0, "random seed (splits, subsets, initialisation, dropout, shuffling)"
    )
    backwards: bool = _field(False, "train on reversed text")

    def __post_init__(self) -> None:
        if self.preset not in PRESET_NAMES:
            raise ValueError(
                f"preset must be one of {PRESET_NAMES}, got {self.preset!r}"
            )
        if self.model not in ("small", "paper"):
            raise ValueError(f"model must be 'small' or 'paper', got {self.model!r}")
        if not 0 < self.valid_pct < 1:
            raise ValueError(f"valid_pct must be in (0, 1), got {self.valid_pct}")
        for name in ("bptt", "lm_bs", "clas_bs", "max_len", "max_vocab", "min_freq"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lm_epochs", "lm_ft_epochs", "clas_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lm_lr", "lm_ft_lr", "clas_lr", "lr_decay"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):  # torch-free
            raise ValueError(
                "precision must be one of auto, bf16, fp16, fp32, "
                f"got {self.precision!r}"
            )
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {self.monitor!r}")
        if any(not isinstance(k, int) or k < 1 for k in self.unfreeze):
            raise ValueError(
                f"unfreeze steps must be ints >= 1 (groups from the top), "
                f"got {self.unfreeze}"
            )
        for name in ("clas_min_steps", "clas_lr_full_at", "self_train"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("self_train_pool", "self_train_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lm_docs", "clas_docs", "max_labels", "max_tokens"):
            value = getattr(self, name)
            if value is not None and value < 2:
                raise ValueError(f"{name} must be >= 2 or unset, got {value}")
        self._check_combinations()

    def _check_combinations(self) -> None:
        """What only fails when the fields meet, checked before any work starts (a
        bad combination used to surface after the whole LM stage)."""
        if self.max_len < self.bptt:
            raise ValueError(
                f"max_len ({self.max_len}) must be >= bptt ({self.bptt}): the "
                "classifier back-propagates through whole bptt windows; raise "
                "--max-len or lower --bptt"
            )
        if self.clas_final_lr is not None and not self.clas_final_lr > 0:
            raise ValueError(f"clas_final_lr must be > 0, got {self.clas_final_lr}")
        if self.wd < 0 or not self.clip > 0:
            raise ValueError(f"need wd >= 0 and clip > 0, got {self.wd}, {self.clip}")
        for name in ("emb_sz", "n_hid", "n_layers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int >= 1 or unset, got {value!r}")
        for name in ("lm_drop_mult", "clas_drop_mult"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for task in ("lm", "classifier"):  # dropouts < 1, adaptive softmax sizes
            try:
                lm_config(self, max(self.max_vocab, 2), task=task)
            except ValueError as e:
                flag = "--lm-drop-mult" if task == "lm" else "--clas-drop-mult"
                raise ValueError(
                    f"the {task} model cannot be built: {e} ({flag}, "
                    "--model and the size flags set it)"
                ) from e

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["unfreeze"] = list(d["unfreeze"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ULMFiTConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown ULMFiT config keys {unknown}")
        d = dict(d)
        if "unfreeze" in d:
            d["unfreeze"] = tuple(d["unfreeze"])
        return cls(**d)


PRESETS: dict[str, dict[str, Any]] = {
    # a short CPU run: the shipped LM fine-tuned one epoch on 10,000 texts, then the
    # whole classifier at once (a head-only phase did not help), reading head + tail,
    # 320 tokens; a final LR of 1e-2 with a gentle decay (1.5, not 2.6), since the
    # paper's clas_lr/20 left the classifier far behind with a weak LM. Each choice
    # is measured in benchmarks/RESULTS.md (IMDB sentiment).
    "quick": dict(
        model="small",
        max_vocab=12000,
        adaptive_softmax=True,
        lm_docs=10000,
        clas_docs=None,
        lm_epochs=1,  # only without a pretrained LM
        lm_ft_epochs=1,
        lm_bs=64,
        clas_bs=32,
        max_tokens=320,
        max_len=320,
        unfreeze=(),
        clas_epochs=1,
        clas_final_lr=1e-2,
        lr_decay=1.5,
    ),
    # within an hour on a CPU: the shipped LM fine-tuned two epochs on every labeled
    # text, 512-token reads (most reviews whole), the whole classifier for two epochs
    # (benchmarks/RESULTS.md, IMDB sentiment)
    "cpu": dict(
        model="small",
        max_vocab=30000,
        adaptive_softmax=True,
        lm_docs=None,
        clas_docs=None,
        lm_epochs=1,  # only without a pretrained LM
        lm_ft_epochs=2,
        max_tokens=512,
        max_len=512,
        unfreeze=(),
        clas_epochs=2,
        clas_final_lr=1e-2,
        lr_decay=1.5,
    ),
    # the paper's sizes and schedule, for a GPU
    "paper": dict(
        model="paper",
        max_vocab=60000,
        adaptive_softmax=False,
        lm_epochs=10,
        lm_lr=1e-2,
        lm_ft_epochs=10,
        lm_ft_lr=2e-3,
        lm_drop_mult=1.0,
        clas_drop_mult=1.0,
        lm_bs=64,
        clas_bs=64,
        max_tokens=None,
        max_len=1400,
        unfreeze=(1, 2, 3),
        clas_epochs=2,
    ),
}


def make_config(preset: str = "quick", **overrides: Any) -> ULMFiTConfig:
    """The preset's values, then ``overrides`` (ignoring those that are None)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESET_NAMES}")
    values = dict(PRESETS[preset], preset=preset)
    for k, v in overrides.items():
        if v is not None:  # "all" sets an optional count (lm_docs, ...) to None
            values[k] = None if v == "all" else v
    return ULMFiTConfig(**values)


def lm_config(cfg: ULMFiTConfig, vocab_size: int, task: str = "lm") -> AWDLSTMConfig:
    """The AWD-LSTM config of the recipe: ``cfg.model`` preset plus size overrides."""
    from ..models.sizes import sized_preset

    drop = cfg.lm_drop_mult if task == "lm" else cfg.clas_drop_mult
    return sized_preset(cfg, vocab_size, task=task, drop_mult=drop)


def fit_to_pretrained(cfg: ULMFiTConfig, pretrained: Path | None) -> ULMFiTConfig:
    """``cfg`` with the pretrained LM's sizes; sizes given otherwise are an error."""
    if pretrained is None:
        return cfg
    from ..models.lm_dir import pretrained_sizes

    sizes = pretrained_sizes(pretrained)
    clash = {k: v for k, v in sizes.items() if getattr(cfg, k) not in (None, v)}
    if clash:
        given = ", ".join(f"{k}={getattr(cfg, k)}" for k in clash)
        raise ValueError(
            f"{given} does not fit the pretrained LM {pretrained} ({sizes}); drop the "
            "size flags, or train from scratch with --no-pretrained"
        )
    return dataclasses.replace(cfg, **sizes)
