"""Learner checkpoints: weights, optimizer, schedule position, RNG, callbacks, history.

Tensors go to safetensors files and everything else to JSON, inside a directory written
atomically with checksums (see ``io.py``); loading never unpickles anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .io import (
    CheckpointError,
    bytes_to_tensors,
    dumps_json,
    load_model_weights,
    loads_json,
    read_dir,
    read_model_dir,
    tensors_to_bytes,
    write_dir,
    write_error,
)
from .rng import rng_state, set_rng_state

KIND = "tabtext.learner"


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
        "scaler": learn.amp.state_dict(),
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
    try:
        return write_dir(path, files, KIND)
    except OSError as err:
        done = learn.epoch + 1 if epochs_done is None else epochs_done  # SaveBest
        raise _save_failed(err, Path(path), done) from err


def _save_failed(err: OSError, path: Path, epochs_done: int) -> OSError:
    """``write_dir``'s error, also saying which epoch was lost and which epoch the
    checkpoint left in place holds (read back and verified)."""
    cause = err.__cause__ if isinstance(err.__cause__, OSError) else err
    try:
        kept = read_state(path)["epochs_done"]  # 0: a weights-only SaveBest copy
        epoch = f" (epoch {kept})" if kept else ""
        left = f"the previous checkpoint at {path}{epoch} is intact"
    except (CheckpointError, KeyError, TypeError):
        left = f"there is no earlier checkpoint at {path}"
    failed = write_error(cause, path, f"{left}; a rerun resumes from the last save")
    msg = f"checkpoint of epoch {epochs_done} not saved: {failed.strerror or failed}"
    try:
        return type(err)(err.errno, msg)
    except TypeError:  # an OSError subclass with another signature
        return err


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load only the model weights of a learner checkpoint (what SaveBest restores)."""
    read_model_dir(path, KIND).load_weights(model)


def read_state(path: str | Path) -> Any:
    """The parsed ``learner.json`` of the checkpoint ``path`` (verified, never
    unpickled): epochs done, callback states (``"callbacks"``), RNG, optimizer.

    Raises :class:`CheckpointError` naming the file if it is missing or corrupted.
    """
    return _read(path, ("learner.json",))[1]


def _read(path: str | Path, required: tuple[str, ...]) -> tuple[dict[str, bytes], Any]:
    files = read_dir(path, KIND, required=required)
    return files, loads_json(files["learner.json"], str(Path(path) / "learner.json"))


def load_learner(learn, path: str | Path, with_opt: bool = True) -> None:
    where = Path(path)
    files, state = _read(path, ("learner.json", "model.safetensors", "rng.safetensors"))
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
        scaler = dict(state.get("scaler") or {})  # absent before fp16 existed
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
            learn.amp.load_state_dict(scaler)  # the loss scale goes with the moments
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
