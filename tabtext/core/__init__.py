"""The training core shared by tabtext's tabular and text halves."""

from .callbacks import (
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
    ProgressBar,
    SaveBest,
)
from .io import CheckpointError
from .learner import Learner, adamw, to_device
from .loaders import ParquetLoader, TensorLoader
from .lr_finder import LRFinderResult
from .metrics import accuracy, error_rate, rmse
from .param_groups import lrs_for_groups
from .recorder import Recorder
from .schedules import (
    ParamScheduler,
    one_cycle_lr,
    one_cycle_mom,
    sched_cos,
    sched_exp,
    sched_lin,
    sgdr,
    slanted_triangular,
)

__all__ = [
    "CSVLogger",
    "Callback",
    "CancelBatch",
    "CancelEpoch",
    "CancelFit",
    "CancelStep",
    "Checkpoint",
    "CheckpointError",
    "EarlyStopping",
    "GradientAccumulation",
    "GradientClip",
    "LRFinderResult",
    "Learner",
    "NaNGuard",
    "NonFiniteLossError",
    "ParamScheduler",
    "ParquetLoader",
    "ProgressBar",
    "Recorder",
    "SaveBest",
    "TensorLoader",
    "accuracy",
    "adamw",
    "error_rate",
    "lrs_for_groups",
    "one_cycle_lr",
    "one_cycle_mom",
    "rmse",
    "sched_cos",
    "sched_exp",
    "sched_lin",
    "sgdr",
    "slanted_triangular",
    "to_device",
]
