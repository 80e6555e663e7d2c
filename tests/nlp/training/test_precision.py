"""The precision choice: bf16 autocast where the device has it."""

import pytest
import torch

from tabtext.nlp.training import precision
from tabtext.nlp.training.precision import use_bf16


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
    assert use_bf16("auto") is True  # always on CUDA
