"""The training core shared by tabtext's tabular and text halves."""

from . import distributed, precision
from .callbacks import (
    EVENTS,
    Callback,
    CancelBatch,
    CancelEpoch,
    CancelFit,
    CancelStep,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    GradientAccumulation,
    GradientClip,
    NaNGuard,
    NonFiniteLossError,
    Order,
    ProgressBar,
    SaveBest,
)
from .checkpoint import read_state
from .fitting import FitVariants
from .hooks import CallbackHost
from .inference import predict_batches, tta
from .io import (
    CheckpointError,
    ModelDir,
    atomic_write_text,
    load_model_weights,
    read_dir,
    read_model_dir,
    save_model_dir,
    write_dir,
)
from .learner import Learner, adamw, to_device
from .loaders import ChunkSource, ParquetLoader, TensorLoader
from .losses import RowWeighted
from .lr_finder import LRFinderResult
from .metrics import accuracy, error_rate, perplexity_from_loss, rmse
from .param_groups import LR, LayerGroups, Splitter, lrs_for_groups
from .pruning import OptunaPruning
from .recorder import Recorder
from .rng import rng_state, seeded, set_rng_state
from .schedules import (
    ParamScheduler,
    Schedule,
    combine,
    one_cycle_lr,
    one_cycle_mom,
    sched_cos,
    sched_exp,
    sched_lin,
    sgdr,
    sgdr_epochs,
    slanted_triangular,
)
from .tracking import MLflowLogger, TensorBoardLogger, Tracker, tracker_for

__all__ = [
    "EVENTS",
    "LR",
    "CSVLogger",
    "Callback",
    "CallbackHost",
    "CancelBatch",
    "CancelEpoch",
    "CancelFit",
    "CancelStep",
    "Checkpoint",
    "CheckpointError",
    "ChunkSource",
    "EarlyStopping",
    "FitVariants",
    "GradientAccumulation",
    "GradientClip",
    "LRFinderResult",
    "LayerGroups",
    "Learner",
    "MLflowLogger",
    "ModelDir",
    "NaNGuard",
    "NonFiniteLossError",
    "OptunaPruning",
    "Order",
    "ParamScheduler",
    "ParquetLoader",
    "ProgressBar",
    "Recorder",
    "RowWeighted",
    "SaveBest",
    "Schedule",
    "Splitter",
    "TensorBoardLogger",
    "TensorLoader",
    "Tracker",
    "accuracy",
    "adamw",
    "atomic_write_text",
    "combine",
    "distributed",
    "error_rate",
    "load_model_weights",
    "lrs_for_groups",
    "one_cycle_lr",
    "one_cycle_mom",
    "perplexity_from_loss",
    "precision",
    "predict_batches",
    "read_dir",
    "read_model_dir",
    "read_state",
    "rmse",
    "rng_state",
    "save_model_dir",
    "sched_cos",
    "sched_exp",
    "sched_lin",
    "seeded",
    "set_rng_state",
    "sgdr",
    "sgdr_epochs",
    "slanted_triangular",
    "to_device",
    "tracker_for",
    "tta",
    "write_dir",
]
