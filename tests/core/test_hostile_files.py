"""Hostile model directories: pickle payloads, foreign files, wrong keys and versions.

Every kind of directory tabtext loads -- a Learner checkpoint (also finetune's
``OUT/ckpt/<phase>``), an ``EmbeddingModel.save`` folder, finetune's ``OUT/model``
and a pretrained language model -- is tampered with in the ways an attacker or an
accident would. Loading must refuse with a CheckpointError (a ValueError) that names
the file, and the payload, which creates a marker file when unpickled, must never run.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from tabtext.core import CheckpointError
from tabtext.core.io import MANIFEST
from tabtext.nlp import (
    AWDLSTMConfig,
    LanguageModel,
    TextClassifierModel,
    Tokenizer,
    Vocab,
    make_config,
)
from tabtext.nlp.api.persistence import TextModel, load_text_model, save_text_model
from tabtext.nlp.models.lm_dir import load_lm, save_lm
from tabtext.tabular import EmbeddingClassifier, EmbeddingModel

from .conftest import make_learner


class Plant:
    """Unpickling this calls ``open(path, "w")``: the marker file appears."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def payloads(marker: Path) -> dict[str, bytes]:
    buf = io.BytesIO()
    torch.save({"weight": Plant(marker)}, buf)  # a zip holding data.pkl
    return {"pickle": pickle.dumps(Plant(marker)), "torch.save": buf.getvalue()}


# ---- one saved directory of each kind ----------------------------------------------------
def _learner_dir(path: Path) -> Path:
    return make_learner().save(path)


def _estimator_dir(path: Path) -> Path:
    X = pd.DataFrame({"shop": list("abcab") * 4, "x": np.arange(20.0)})
    est = EmbeddingClassifier(epochs=1, layers=(4,), ps=(0.0,), random_state=0)
    return est.fit(X, np.arange(20) % 2).save(path)


def _tiny_text_model() -> TextModel:
    vocab = Vocab(["xxunk", "xxpad", "xxbos", "good", "bad"])
    enc = AWDLSTMConfig(vocab_size=len(vocab), emb_sz=4, n_hid=6, n_layers=1)
    cfg = make_config("quick")
    model = TextClassifierModel(enc, 2, bptt=8, max_len=16)
    return TextModel(model, vocab, Tokenizer(), cfg, ["neg", "pos"])


def _text_model_dir(path: Path) -> Path:
    return save_text_model(_tiny_text_model(), path)


def _lm_dir(path: Path) -> Path:
    tm = _tiny_text_model()
    lm = LanguageModel(AWDLSTMConfig(vocab_size=5, emb_sz=4, n_hid=6, n_layers=1))
    return save_lm(lm, tm.vocab, tm.tokenizer, path)


KINDS = {  # name: (writer, loader, weights file, json file)
    "learner": (_learner_dir, lambda p: make_learner().load(p), "learner.json"),
    "estimator": (_estimator_dir, EmbeddingModel.load, "estimator.json"),
    "text_model": (_text_model_dir, load_text_model, "config.json"),
    "language_model": (_lm_dir, load_lm, "config.json"),
}


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    root = tmp_path_factory.mktemp("originals")
    return {kind: writer(root / kind) for kind, (writer, *_) in KINDS.items()}


@pytest.fixture
def model_dir(originals, tmp_path, request):
    """A fresh copy of the saved directory of kind ``request.param``."""
    src = originals[request.param]
    dst = tmp_path / "model"
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def load(kind: str, path: Path):
    return KINDS[kind][1](path)


def tamper(path: Path, name: str, data: bytes | None, listed: bool = True) -> None:
    """Write (or, for ``None``, delete) ``name``; ``listed`` re-signs the manifest, as
    an attacker who knows the format would."""
    manifest = json.loads((path / MANIFEST).read_text())
    if data is None:
        (path / name).unlink()
        manifest["files"].pop(name, None)
    else:
        (path / name).write_bytes(data)
        if listed:
            manifest["files"][name] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
    (path / MANIFEST).write_text(json.dumps(manifest))


def refused(kind: str, path: Path, pattern: str) -> CheckpointError:
    with pytest.raises(CheckpointError, match=pattern) as err:
        load(kind, path)
    return err.value


ALL = pytest.mark.parametrize("model_dir", list(KINDS), indirect=True)


# ---- the tests -------------------------------------------------------------------------
def test_the_payload_is_live(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(payloads(marker)["pickle"])
    assert marker.exists()  # so its absence below means it never ran


def test_untouched_directories_load(originals):
    for kind, path in originals.items():
        load(kind, path)


@ALL
@pytest.mark.parametrize("payload", ["pickle", "torch.save"])
@pytest.mark.parametrize("target", ["weights", "json"])
@pytest.mark.parametrize("resigned", [False, True])
def test_pickle_in_place_of_a_file_never_runs(
    model_dir, request, tmp_path, payload, target, resigned
):
    kind = request.node.callspec.params["model_dir"]
    marker = tmp_path / "pwned"
    name = "model.safetensors" if target == "weights" else KINDS[kind][2]
    tamper(model_dir, name, payloads(marker)[payload], listed=resigned)
    pattern = "not a valid safetensors|not valid JSON" if resigned else "checksum"
    err = refused(kind, model_dir, pattern)
    assert name in str(err)
    assert not marker.exists()


@ALL
@pytest.mark.parametrize("name", ["model.pt", "optimizer.pth", "learner.pkl", "x.bin"])
@pytest.mark.parametrize("listed", [False, True])
def test_extra_pickle_file_is_refused(model_dir, request, tmp_path, name, listed):
    kind = request.node.callspec.params["model_dir"]
    marker = tmp_path / "pwned"
    tamper(model_dir, name, payloads(marker)["torch.save"], listed=listed)
    err = refused(kind, model_dir, "never loads pickle")
    assert name in str(err)
    assert not marker.exists()


@ALL
def test_pickle_manifest_is_refused(model_dir, request, tmp_path):
    kind = request.node.callspec.params["model_dir"]
    marker = tmp_path / "pwned"
    (model_dir / MANIFEST).write_bytes(payloads(marker)["pickle"])
    refused(kind, model_dir, "manifest.json is corrupted")
    assert not marker.exists()


@ALL
def test_newer_format_version_is_refused(model_dir, request):
    kind = request.node.callspec.params["model_dir"]
    manifest = json.loads((model_dir / MANIFEST).read_text())
    manifest["format_version"] = 2
    (model_dir / MANIFEST).write_text(json.dumps(manifest))
    refused(kind, model_dir, "format version 2, this tabtext reads up to 1")


@ALL
def test_missing_file_is_refused(model_dir, request):
    kind = request.node.callspec.params["model_dir"]
    name = KINDS[kind][2]
    tamper(model_dir, name, None)  # gone from the folder and from the manifest
    err = refused(kind, model_dir, "missing")
    assert name in str(err)
    (model_dir / MANIFEST).unlink()
    refused(kind, model_dir, "manifest.json is missing")


def _edit_weights(path: Path, edit) -> None:
    tensors = dict(st_load((path / "model.safetensors").read_bytes()))
    edit(tensors)
    tamper(path, "model.safetensors", st_save(tensors))


def _first_key(tensors: dict) -> str:
    return sorted(tensors)[0]


@ALL
@pytest.mark.parametrize(
    "edit, pattern",
    [
        (lambda t: t.update(extra=torch.zeros(2)), r"unexpected keys \['extra'\]"),
        (lambda t: t.pop(_first_key(t)), "missing keys"),
        (
            lambda t: t.update({_first_key(t): torch.zeros(7, 3)}),
            r"wrong shapes: .*file \(7, 3\)",
        ),
    ],
    ids=["unknown_key", "missing_key", "wrong_shape"],
)
def test_weights_that_do_not_fit_are_refused(model_dir, request, edit, pattern):
    kind = request.node.callspec.params["model_dir"]
    _edit_weights(model_dir, edit)
    err = refused(kind, model_dir, pattern)
    assert "model.safetensors" in str(err)


def _edit_json(path: Path, name: str, edit) -> None:
    obj = json.loads((path / name).read_text())
    edit(obj)
    tamper(path, name, json.dumps(obj).encode())


JSON_EDITS = {  # kind: [(edit of its JSON file, expected message)]
    "learner": [
        (lambda d: d.pop("rng"), "learner.json"),
        (lambda d: d.update(epochs_done="many"), "learner.json"),
        (lambda d: d.update(optimizer={"param_groups": 3}), "learner.json"),
    ],
    "estimator": [
        (lambda d: d.update({"class": "os.system"}), "unknown estimator class"),
        (lambda d: d["params"].update(evil=1), "estimator.json"),
        (lambda d: d["preprocessor"].update(version=99), "version 99"),
        (lambda d: d.pop("target"), "estimator.json"),
        (lambda d: d.update(params=[]), "estimator.json"),
    ],
    "text_model": [
        (lambda d: d["ulmfit"].update(from_the_future=1), "config.json"),
        (lambda d: d.pop("encoder"), "config.json"),
        (lambda d: d.update(n_classes="two"), "config.json"),
        (lambda d: d.update(tokenizer=None), "config.json"),
    ],
    "language_model": [
        (lambda d: d.pop("awd_lstm"), "config.json"),
        (lambda d: d["awd_lstm"].update(from_the_future=1), "config.json"),
    ],
}


@pytest.mark.parametrize(
    "model_dir, case",
    [(k, i) for k, cases in JSON_EDITS.items() for i in range(len(cases))],
    indirect=["model_dir"],
)
def test_unknown_or_missing_json_keys_are_refused(model_dir, request, case):
    kind = request.node.callspec.params["model_dir"]
    edit, pattern = JSON_EDITS[kind][case]
    _edit_json(model_dir, KINDS[kind][2], edit)
    refused(kind, model_dir, pattern)
