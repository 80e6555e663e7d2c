"""The text half's precision choice: bf16 autocast where the LSTM kernels have it."""

import pytest
import torch

from tabtext.core import precision
from tabtext.core.precision import use_bf16
from tabtext.nlp.training.learners import lstm_precision


def test_use_bf16(monkeypatch):
    assert not use_bf16("fp32", "cpu")
    for supported in (True, False):
        monkeypatch.setattr(
            torch.cpu, "_is_avx512_bf16_supported", lambda s=supported: s, raising=False
        )
        assert use_bf16("auto", "cpu") is supported
        if supported:
            assert use_bf16("bf16", "cpu")
        else:  # no bf16 LSTM in oneDNN there: refused with what to do
            with pytest.raises(ValueError, match="use --precision fp32 or auto"):
                use_bf16("bf16", "cpu")
    monkeypatch.setattr(precision.distributed, "device", lambda d: torch.device("cuda"))
    monkeypatch.setattr(precision, "cuda_has_bf16", lambda d=None: True)
    assert use_bf16("auto") is True  # bf16 on a CUDA GPU that computes it


def test_text_learners_refuse_fp16_lstm_on_cpu():
    """fp16 reaches the text Learner as asked, except on a CPU, whose LSTM kernels
    have no fp16 form: refused before any work, saying what to do."""
    assert lstm_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="no fp16 form"):
        lstm_precision("fp16", "cpu")
