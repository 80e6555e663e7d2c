"""Experiment tracking: callbacks that log a fit to TensorBoard or MLflow.

Both log the same things: the parameters (what the caller passes as ``params``,
e.g. an estimator's ``get_params()`` or a text run's config, flattened to
``key.sub`` names, plus each fit's epochs, batches, optimizer and weight decay),
every epoch's row of the history (``train_loss``, ``valid_loss``, the metrics,
``time``) at a step counted in epochs, and every training batch's loss and
learning rate (``batch_loss``, ``lr`` or ``lr_0, lr_1 ...`` per layer group) at a
step counted in batches. Epoch steps keep counting across several fits of one
learner (a text run's phases), so nothing is logged twice at one step.

Each backend is an optional extra imported only when its logger first logs:
``pip install 'tabtext[tensorboard]'`` or ``'tabtext[mlflow]'``. Under torchrun
rank 0 alone logs. :func:`tracker_for` turns a ``--log-to`` option and an output
folder into a logger, for command lines.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import distributed
from .extras import require
from .hooks import Callback, Order

if TYPE_CHECKING:
    from .learner import Learner

#: the names ``--log-to`` takes
TRACKERS = ("tensorboard", "mlflow")
_MLFLOW_MAX_PARAM = 6000  # MLflow refuses longer parameter values
_MLFLOW_BATCH = 1000  # the most metrics one MLflow log_batch call takes


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}, "c": (2, 3)}`` -> ``{"a.b": "1", "c": "(2, 3)"}``."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_params(value, prefix=f"{name}."))
        else:
            out[name] = str(value)
    return out


def _numbers(row: Mapping[str, Any]) -> dict[str, float]:
    """The numeric entries of an epoch row, but its ``epoch`` counter."""
    return {
        k: float(v)
        for k, v in row.items()
        if k != "epoch" and isinstance(v, Real) and not isinstance(v, bool)
    }


class Tracker(Callback):
    """What a logger logs, and when; a subclass says where (``_log_*``, ``_close``).

    Parameters
    ----------
    params : mapping, optional
        Logged once, before the first fit (nested mappings as ``key.sub``).
    """

    order = Order.TRACKER

    def __init__(self, params: Mapping[str, Any] | None = None):
        self.params = params
        self._fits = self._epoch_step = self._batch_step = self._seen = 0

    # ---- the hooks --------------------------------------------------------------------
    def before_fit(self, learn: Learner) -> None:
        if not distributed.is_main():
            return
        if self._fits == 0 and self.params:
            self._log_params(flatten_params(self.params))
        info = {
            "epochs": learn.n_epochs,
            "batches_per_epoch": learn.n_batches,
            "optimizer": type(learn.opt).__name__,
            "weight_decay": learn.wd,
            "model": type(learn.model).__name__,
        }
        self._log_params(flatten_params(info, prefix=f"fit{self._fits}."))
        self._fits += 1
        self._seen = len(learn.recorder.lrs)  # a resumed fit's batches were logged

    def after_epoch(self, learn: Learner) -> None:
        if not distributed.is_main():
            return
        rec = learn.recorder
        lrs, losses = rec.lrs[self._seen :], rec.losses[self._seen :]
        rows = []
        for i, group_lrs in enumerate(lrs):
            one = len(group_lrs) == 1
            row = {"lr" if one else f"lr_{g}": v for g, v in enumerate(group_lrs)}
            if i < len(losses):
                row["batch_loss"] = losses[i]
            rows.append(row)
        if rows:
            self._log_metrics("batch", rows, self._batch_step)
        self._seen += len(lrs)
        self._batch_step += len(lrs)
        self._log_metrics("epoch", [_numbers(learn.epoch_results)], self._epoch_step)
        self._epoch_step += 1

    def after_fit(self, learn: Learner) -> None:
        if distributed.is_main():
            self._flush()

    # ---- the end of a run -------------------------------------------------------------
    def finish(self, model_dir: str | Path | None = None, failed: bool = False) -> None:
        """End the run; with ``model_dir``, log that saved model folder first.

        Call it once, after the last fit (and after saving the model); the logger
        is also a context manager that calls it (``failed`` when the block raised).
        """
        if not distributed.is_main():
            return
        if model_dir is not None:
            self._log_model_dir(Path(model_dir))
        self._close(failed)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish(failed=exc_type is not None)

    def __getstate__(self) -> dict[str, Any]:
        """A copy (sklearn's ``clone`` deep-copies callbacks) keeps the settings and
        opens a writer or run of its own."""
        state = dict(self.__dict__)
        for key in [k for k in state if k.startswith("_handle")]:
            state[key] = None
        return state

    # ---- where: the backends' side ----------------------------------------------------
    def _log_params(self, params: dict[str, str]) -> None:
        raise NotImplementedError

    def _log_metrics(self, kind: str, rows: list[dict[str, float]], first: int) -> None:
        """``rows[i]`` at step ``first + i``; ``kind`` is "epoch" or "batch"."""
        raise NotImplementedError

    def _log_model_dir(self, path: Path) -> None:
        raise NotImplementedError

    def _flush(self) -> None: ...

    def _close(self, failed: bool) -> None: ...


class TensorBoardLogger(Tracker):
    """Log a fit as TensorBoard event files in ``log_dir``.

    Scalars are tagged ``epoch/<name>`` (one point per epoch) and ``batch/<name>``
    (one per training batch); the parameters are one text summary, ``params``, a
    table of name and value. Read them with ``tensorboard --logdir LOG_DIR``.

    Parameters
    ----------
    log_dir : str or Path
        The folder of the event files (created).
    params : mapping, optional
        Logged once, before the first fit.

    Examples
    --------
    >>> tb = TensorBoardLogger("runs/adult", params=est.get_params())  # doctest: +SKIP
    >>> learn.add_cbs([tb])  # doctest: +SKIP
    >>> learn.fit_one_cycle(5, 1e-2); tb.finish()  # doctest: +SKIP
    """

    def __init__(self, log_dir: str | Path, params: Mapping[str, Any] | None = None):
        super().__init__(params)
        self.log_dir = log_dir
        self._handle_writer = None

    @property
    def _writer(self):
        if self._handle_writer is None:
            require("tensorboard", "tensorboard", "TensorBoardLogger")
            from torch.utils.tensorboard import SummaryWriter

            self._handle_writer = SummaryWriter(log_dir=str(self.log_dir))
        return self._handle_writer

    def _log_params(self, params: dict[str, str]) -> None:
        lines = ["| name | value |", "|---|---|"]
        lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in params.items()]
        self._writer.add_text("params", "\n".join(lines), global_step=self._fits)

    def _log_metrics(self, kind: str, rows: list[dict[str, float]], first: int) -> None:
        for i, row in enumerate(rows):
            for name, value in row.items():
                self._writer.add_scalar(f"{kind}/{name}", value, first + i)

    def _log_model_dir(self, path: Path) -> None:
        self._writer.add_text("model_dir", str(path.resolve()))

    def _flush(self) -> None:
        if self._handle_writer is not None:
            self._handle_writer.flush()

    def _close(self, failed: bool) -> None:
        if self._handle_writer is not None:
            self._handle_writer.close()
            self._handle_writer = None


class MLflowLogger(Tracker):
    """Log a fit as an MLflow run: parameters, metrics, and the saved model folder.

    Metrics are named as in the history (``train_loss``, ``valid_loss``, ...: one
    point per epoch) and ``batch_loss``, ``lr`` (one per training batch). The run
    starts at the first fit and ends at :meth:`finish`, which also uploads a saved
    model folder as the run's ``model`` artifact.

    Parameters
    ----------
    tracking_uri : str, optional
        Where runs are stored, e.g. ``"sqlite:///mlflow.db"`` or a server's URL;
        default MLflow's own (``$MLFLOW_TRACKING_URI``, else its local default).
    experiment : str
        The experiment's name (created if missing).
    run_name : str, optional
    params : mapping, optional
        Logged once, before the first fit.
    artifact_location : str, optional
        Where a new experiment keeps its artifacts (a folder or URI); default
        MLflow's.

    Examples
    --------
    >>> with MLflowLogger("sqlite:///mlflow.db", params=cfg) as ml:  # doctest: +SKIP
    ...     learn.add_cbs([ml])
    ...     learn.fit_one_cycle(5, 1e-2)
    ...     ml.finish(model_dir=save_model_dir(...))
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str = "tabtext",
        run_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        artifact_location: str | None = None,
    ):
        super().__init__(params)
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self.run_name, self.artifact_location = run_name, artifact_location
        self._handle_client = self._handle_run = None

    @property
    def client(self):
        """The ``mlflow.MlflowClient`` of ``tracking_uri``."""
        if self._handle_client is None:
            mlflow = require("mlflow", "mlflow", "MLflowLogger")
            self._handle_client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        return self._handle_client

    @property
    def run_id(self) -> str:
        """The run's id (the run starts on first use)."""
        if self._handle_run is None:
            client = self.client
            exp = client.get_experiment_by_name(self.experiment)
            if exp is None:
                exp_id = client.create_experiment(
                    self.experiment, artifact_location=self.artifact_location
                )
            else:
                exp_id = exp.experiment_id
            run = client.create_run(exp_id, run_name=self.run_name)
            self._handle_run = run.info.run_id
        return self._handle_run

    def _log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v[:_MLFLOW_MAX_PARAM]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes 100 params a call
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def _log_metrics(self, kind: str, rows: list[dict[str, float]], first: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [
            Metric(name, value, now, first + i)
            for i, row in enumerate(rows)
            for name, value in row.items()
        ]
        for i in range(0, len(items), _MLFLOW_BATCH):
            self.client.log_batch(self.run_id, metrics=items[i : i + _MLFLOW_BATCH])

    def _log_model_dir(self, path: Path) -> None:
        if not path.is_dir():
            raise FileNotFoundError(
                f"MLflowLogger.finish: model_dir {str(path)!r} is not a folder; pass "
                "the folder the model was saved to"
            )
        self.client.log_artifacts(self.run_id, str(path), artifact_path="model")

    def _close(self, failed: bool) -> None:
        if self._handle_run is not None:
            status = "FAILED" if failed else "FINISHED"
            self.client.set_terminated(self._handle_run, status=status)
            self._handle_run = None


def tracker_for(
    log_to: str | None,
    out_dir: str | Path,
    params: Mapping[str, Any] | None = None,
) -> Tracker | None:
    """The logger a command line's ``--log-to`` names, writing beside its output.

    ``"tensorboard"``: event files in ``OUT_DIR/tensorboard``. ``"mlflow"``: a run
    named after ``OUT_DIR`` in ``$MLFLOW_TRACKING_URI`` if set, else in the SQLite
    store ``OUT_DIR/mlflow.db`` with artifacts in ``OUT_DIR/mlartifacts``. None for
    ``log_to=None``. Add the logger to the fit's callbacks and call its ``finish
    (model_dir=...)`` once the model is saved.

    Examples
    --------
    >>> tracker = tracker_for(args.log_to, args.out, params=vars(args))  # doctest: +SKIP
    """
    if log_to is None:
        return None
    out = Path(out_dir)
    if log_to == "tensorboard":
        return TensorBoardLogger(out / "tensorboard", params=params)
    if log_to == "mlflow":
        uri, artifacts = os.environ.get("MLFLOW_TRACKING_URI"), None
        if not uri:
            out.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{(out / 'mlflow.db').resolve()}"
            artifacts = (out / "mlartifacts").resolve().as_uri()
        return MLflowLogger(
            uri, run_name=out.resolve().name, params=params,
            artifact_location=artifacts,
        )  # fmt: skip
    raise ValueError(f"log_to must be one of {TRACKERS} or None, got {log_to!r}")
