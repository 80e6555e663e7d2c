"""Learner checkpoints: weights, optimizer, schedule position, RNG, callbacks, history.

Tensors go to safetensors files and everything else to JSON, inside a directory written
atomically with checksums (see ``io.py``); loading never unpickles anything.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .io import (
    CheckpointError,
    bytes_to_tensors,
    dumps_json,
    loads_json,
    read_dir,
    tensors_to_bytes,
    write_dir,
)

KIND = "tabtext.learner"


def rng_state() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The global Python, NumPy and torch RNG states as (JSON part, tensor part)."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    np_state["state"] = {
        k: np.asarray(v).tolist() for k, v in np_state["state"].items()
    }
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["torch_cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return {"python": [version, list(internal), gauss], "numpy": np_state}, tensors


def set_rng_state(js: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    version, internal, gauss = js["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = dict(js["numpy"])
    mt = np_state["state"]
    np_state["state"] = {
        "key": np.asarray(mt["key"], dtype=np.uint32),
        "pos": int(mt["pos"]),
    }
    np.random.set_state(np_state)
    torch.set_rng_state(tensors["torch_cpu"])
    if "torch_cuda" in tensors and torch.cuda.is_available():
        states = list(tensors["torch_cuda"])
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)


def _callback_keys(callbacks) -> list[str]:
    keys, seen = [], {}
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, -1) + 1
        keys.append(f"{name}.{seen[name]}")
    return keys


def optimizer_to_files(
    opt: torch.optim.Optimizer,
) -> tuple[dict, dict[str, torch.Tensor]]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v
            else:
                scalars.setdefault(str(pid), {})[k] = v
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in g.items()}
        for g in sd["param_groups"]
    ]
    return {"param_groups": groups, "scalars": scalars}, tensors


def optimizer_from_files(js: dict, tensors: dict[str, torch.Tensor]) -> dict:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    for pid, st in js["scalars"].items():
        state.setdefault(int(pid), {}).update(st)
    groups = [
        {k: tuple(v) if k == "betas" else v for k, v in g.items()}
        for g in js["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def save_learner(
    learn, path: str | Path, with_opt: bool = True, epochs_done: int | None = None
) -> Path:
    rng_js, rng_t = rng_state()
    state = {
        "epochs_done": epochs_done or 0,
        "n_epochs": learn.n_epochs,
        "n_frozen": learn.n_frozen,
        "rng": rng_js,
        "callbacks": {
            k: cb.state_dict()
            for k, cb in zip(_callback_keys(learn.callbacks), learn.callbacks)
        },
    }
    if callable(getattr(learn.train_dl, "state_dict", None)):
        state["train_dl"] = learn.train_dl.state_dict()
    files = {
        "model.safetensors": tensors_to_bytes(learn.model.state_dict()),
        "rng.safetensors": tensors_to_bytes(rng_t),
    }
    if with_opt:
        opt_js, opt_t = optimizer_to_files(learn.opt)
        state["optimizer"] = opt_js
        files["optimizer.safetensors"] = tensors_to_bytes(opt_t)
    files["learner.json"] = dumps_json(state)
    return write_dir(path, files, KIND)


def load_model_weights(
    model: torch.nn.Module, tensors: dict[str, torch.Tensor], where: str
) -> None:
    """``load_state_dict`` with errors that name the missing/unexpected/mis-shaped keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    shapes = [
        f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in tensors and tensors[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if shapes:
        problems.append("wrong shapes: " + "; ".join(shapes))
    if problems:
        raise CheckpointError(
            f"{where} does not fit this model: "
            + ", ".join(problems)
            + ". Build the model with the configuration it was saved with."
        )
    model.load_state_dict(tensors)


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load only the model weights of a learner checkpoint (what SaveBest restores)."""
    files = read_dir(path, KIND, required=("model.safetensors",))
    where = str(Path(path) / "model.safetensors")
    load_model_weights(
        model, bytes_to_tensors(files["model.safetensors"], where), where
    )


def load_learner(learn, path: str | Path, with_opt: bool = True) -> None:
    where = Path(path)
    files = read_dir(
        path, KIND, required=("learner.json", "model.safetensors", "rng.safetensors")
    )
    state = loads_json(files["learner.json"], str(where / "learner.json"))
    weights = bytes_to_tensors(
        files["model.safetensors"], str(where / "model.safetensors")
    )
    rng_t = bytes_to_tensors(files["rng.safetensors"], str(where / "rng.safetensors"))
    opt_t = None
    if with_opt and isinstance(state, dict) and "optimizer" in state:
        name = "optimizer.safetensors"
        if name not in files:
            raise CheckpointError(f"{where / name} is missing; re-save the checkpoint")
        opt_t = bytes_to_tensors(files[name], str(where / name))
    try:  # check the JSON before anything of the learner changes
        n_frozen = int(state.get("n_frozen", 0))
        epochs_done = int(state.get("epochs_done", 0))
        cb_states, rng_js = dict(state["callbacks"]), state["rng"]
        opt_sd = (
            None if opt_t is None else optimizer_from_files(state["optimizer"], opt_t)
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"{where / 'learner.json'} is incomplete or invalid "
            f"({type(e).__name__}: {e}); re-save the checkpoint"
        ) from None
    load_model_weights(learn.model, weights, str(where / "model.safetensors"))
    try:
        learn.freeze_to(n_frozen)
        if opt_sd is not None:
            learn.opt.load_state_dict(opt_sd)
        for key, cb in zip(_callback_keys(learn.callbacks), learn.callbacks):
            if key in cb_states:
                cb.load_state_dict(cb_states[key])
        if "train_dl" in state and callable(
            getattr(learn.train_dl, "load_state_dict", None)
        ):
            learn.train_dl.load_state_dict(state["train_dl"])
        set_rng_state(rng_js, rng_t)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{where}: the saved optimizer, callback, loader or RNG state does not fit "
            f"this learner ({type(e).__name__}: {e})"
        ) from None
    learn.resume_epoch = epochs_done
