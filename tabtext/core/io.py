"""Persistence without pickle: safetensors for tensors, JSON for everything else.

Every file is written to a temporary name in the same folder, flushed to disk, then
renamed over the target, so a crash never leaves a half-written file. A checkpoint
directory is written whole into a sibling temporary folder and swapped in; its
``manifest.json`` carries a SHA-256 per file, checked on load, so a truncated or
corrupted checkpoint is refused with a message naming the file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
#: Suffixes of pickle-based formats (torch.save, pickle, joblib): refused in a model
#: directory, since unpickling can run arbitrary code.
PICKLE_SUFFIXES = frozenset(
    {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib", ".dill"}
)


class CheckpointError(ValueError):
    """A model or checkpoint directory is missing, corrupted, or of an unknown format."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = str(path)  # a failed write or fsync names no file itself
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, allow_nan=True).encode("utf-8")


def tensors_to_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """Serialise tensors with safetensors (copies, so tied weights do not clash)."""
    return st_save(
        {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    )


def bytes_to_tensors(data: bytes, where: str) -> dict[str, torch.Tensor]:
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{where} is not a valid safetensors file: {e}") from None


def write_dir(path: str | Path, files: dict[str, bytes], kind: str) -> Path:
    """Write ``files`` (name -> bytes) as the directory ``path``, atomically.

    The whole directory is written next to ``path`` under a temporary name and then
    swapped in; a ``manifest.json`` with the format version, ``kind`` and a SHA-256 of
    every file is written last.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        manifest = {"format_version": FORMAT_VERSION, "kind": kind, "files": {}}
        for name, data in files.items():
            atomic_write_bytes(tmp / name, data)
            manifest["files"][name] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        atomic_write_bytes(tmp / MANIFEST, dumps_json(manifest))
        _swap_in(tmp, path)
    except OSError as err:  # disk full, no permission, file too large, ...
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(err, path) from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def write_error(err: OSError, path: Path, left: str | None = None) -> OSError:
    """The same kind of OSError, saying what failed, on which file, and what is left:
    ``path`` is only replaced once the new version is whole, so an existing one is
    untouched (``left`` may describe it better than "the previous version")."""
    code = errno.errorcode.get(err.errno or 0, "OSError")
    where = f" on {err.filename}" if err.filename else ""
    if left is None:
        left = (
            f"the previous version at {path} is intact"
            if path.exists()
            else f"nothing was written: {path} did not exist before"
        )
    msg = (
        f"cannot write {path}: {err.strerror or err} ({code}{where}); {left}. Free "
        f"disk space or fix the permissions of {path.parent}, then try again."
    )
    try:
        return type(err)(err.errno, msg) if err.errno is not None else type(err)(msg)
    except TypeError:  # an OSError subclass with another signature
        return err


def _swap_in(tmp: Path, path: Path) -> None:
    old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    shutil.rmtree(old, ignore_errors=True)


def _recover(path: Path) -> Path:
    """If a crash hit between the two renames of :func:`_swap_in`, use the old copy."""
    if path.exists():
        return path
    olds = sorted(
        path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime
    )
    return olds[-1] if olds else path


def read_dir(
    path: str | Path, kind: str | None = None, required: tuple[str, ...] = ()
) -> dict[str, bytes]:
    """Read and verify a directory written by :func:`write_dir`; never unpickles.

    ``required`` names the files the caller needs; each must be listed in the
    manifest. A pickle-based file (``*.pt``, ``*.pkl``, ... or pickle/zip content)
    anywhere in the directory, listed or not, makes the whole directory refused:
    tabtext never writes one, so it is a sign of tampering or of a foreign model.

    Raises
    ------
    CheckpointError
        If the directory or a file is missing, a checksum does not match, the format
        version is newer than this tabtext understands, or a pickle file is present.
    """
    path = _recover(Path(path))
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise CheckpointError(
            f"{path} is not a tabtext model/checkpoint directory: {MANIFEST} is missing"
        )
    try:
        manifest = json.loads(mpath.read_bytes())
        version, files = manifest["format_version"], manifest["files"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"{mpath} is corrupted ({e}); re-save the model"
        ) from None
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{mpath} has format version {version!r}, this tabtext reads up to "
            f"{FORMAT_VERSION}; upgrade tabtext to load it"
        )
    if kind is not None and manifest.get("kind") != kind:
        raise CheckpointError(
            f"{path} holds a {manifest.get('kind')!r}, expected {kind!r}"
        )
    if not isinstance(files, dict):
        raise CheckpointError(f"{mpath} is corrupted (no file list); re-save the model")
    _refuse_pickles(path, files)
    for name in required:
        if name not in files:
            raise CheckpointError(
                f"{path / name} is missing: {MANIFEST} does not list it; re-save the "
                "model or checkpoint"
            )
    out = {}
    for name, info in files.items():
        fpath = path / name
        if Path(name).name != name or not fpath.is_file():  # "../x" stays outside
            raise CheckpointError(f"{fpath} is listed in {MANIFEST} but missing")
        data = fpath.read_bytes()
        info = info if isinstance(info, dict) else {}
        if hashlib.sha256(data).hexdigest() != info.get("sha256"):
            raise CheckpointError(
                f"{fpath} is corrupted or truncated (checksum mismatch, {len(data)} bytes, "
                f"expected {info.get('bytes')}); restore it or re-save the checkpoint"
            )
        out[name] = data
    return out


def _refuse_pickles(path: Path, listed: dict) -> None:
    for f in sorted(path.iterdir()):
        if f.suffix in (".json", ".safetensors") or not f.is_file():
            continue  # those are parsed by strict parsers, never unpickled
        if f.suffix.lower() in PICKLE_SUFFIXES or _pickle_magic(f):
            where = "listed in" if f.name in listed else "not part of"
            raise CheckpointError(
                f"{f} looks like a pickle file (torch.save, pickle.dump) and is "
                f"{where} {MANIFEST}; tabtext never loads pickle, since unpickling "
                "can run arbitrary code. Remove the file if you trust this "
                "directory, else discard the directory."
            )


def _pickle_magic(path: Path) -> bool:
    """Pickle protocol 2-5 opcode or a zip (torch.save) at the start of the file."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:  # unreadable: tabtext will not read it either
        return False
    return (
        head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    ) or (head == b"PK\x03\x04")


def loads_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as e:
        raise CheckpointError(f"{where} is not valid JSON: {e}") from None


# ---- model directories: weights + JSON --------------------------------------------------
def save_model_dir(
    path: str | Path, kind: str, model: torch.nn.Module, json_files: dict[str, Any]
) -> Path:
    """Write ``model``'s weights (``model.safetensors``) and ``json_files`` (name ->
    JSON-serialisable object, or bytes already encoded) as the model directory
    ``path`` of ``kind``, atomically with a manifest (:func:`write_dir`)."""
    files = {WEIGHTS: tensors_to_bytes(model.state_dict())}
    for name, obj in json_files.items():
        files[name] = obj if isinstance(obj, bytes) else dumps_json(obj)
    return write_dir(path, files, kind)


@dataclass(frozen=True)
class ModelDir:
    """A verified model directory read by :func:`read_model_dir`."""

    path: Path
    files: dict[str, bytes]

    def json(self, name: str) -> Any:
        """The file ``name`` parsed as JSON (a CheckpointError naming it if invalid)."""
        return loads_json(self.files[name], str(self.path / name))

    def load_weights(self, model: torch.nn.Module) -> None:
        """Load ``model.safetensors`` into ``model`` (errors name the bad keys)."""
        where = str(self.path / WEIGHTS)
        load_model_weights(model, bytes_to_tensors(self.files[WEIGHTS], where), where)


def read_model_dir(
    path: str | Path, kind: str, required: tuple[str, ...] = ()
) -> ModelDir:
    """Read and verify the model directory ``path`` of ``kind`` (:func:`read_dir`),
    which must hold ``model.safetensors`` and the ``required`` files."""
    files = read_dir(path, kind, required=(*required, WEIGHTS))
    return ModelDir(Path(path), files)


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
