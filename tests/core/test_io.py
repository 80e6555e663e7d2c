import pytest
import torch
from torch import nn

from tabtext.core import CheckpointError, read_model_dir, read_state, save_model_dir

from .conftest import make_learner


def test_model_dir_round_trip(tmp_path):
    model = nn.Linear(3, 2)
    save_model_dir(tmp_path / "m", "test.kind", model, {"config.json": {"n": 3}})
    loaded = read_model_dir(tmp_path / "m", "test.kind", required=("config.json",))
    assert loaded.json("config.json") == {"n": 3}
    other = nn.Linear(3, 2)
    loaded.load_weights(other)
    assert torch.equal(other.weight, model.weight)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        loaded.load_weights(nn.Linear(4, 2))
    with pytest.raises(CheckpointError, match="expected 'other.kind'"):
        read_model_dir(tmp_path / "m", "other.kind")
    with pytest.raises(CheckpointError, match="vocab.json is missing"):
        read_model_dir(tmp_path / "m", "test.kind", required=("vocab.json",))


def test_read_state_of_a_checkpoint(tmp_path):
    learn = make_learner()
    learn.fit_one_cycle(1, 1e-2)
    learn.save(tmp_path / "ck", epochs_done=1)
    state = read_state(tmp_path / "ck")
    assert state["epochs_done"] == 1
    assert "Recorder.0" in state["callbacks"]
