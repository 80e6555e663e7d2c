"""The training core shared by tabtext's tabular and text halves."""

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
from .inference import predict_batches, tta
from .io import CheckpointError, ModelDir, read_model_dir, save_model_dir
from .learner import Learner, adamw, to_device
from .loaders import ParquetLoader, TensorLoader
from .lr_finder import LRFinderResult
from .metrics import accuracy, error_rate, rmse
from .param_groups import lrs_for_groups
from .recorder import Recorder
from .rng import seeded
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
    "EVENTS",
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
    "ModelDir",
    "NaNGuard",
    "NonFiniteLossError",
    "Order",
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
    "predict_batches",
    "read_model_dir",
    "rmse",
    "save_model_dir",
    "sched_cos",
    "sched_exp",
    "sched_lin",
    "seeded",
    "sgdr",
    "slanted_triangular",
    "to_device",
    "tta",
]
