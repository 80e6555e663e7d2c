"""EmbeddingModel: entity embeddings (Guo & Berkhahn 2016) as a scikit-learn estimator.

Categorical columns are embedded, continuous ones filled and standardised, and an MLP
is trained on the core's Learner with one-cycle (Smith 2018). ``EmbeddingClassifier``
and ``EmbeddingRegressor`` fix the task; ``EmbeddingModel`` infers it from y.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import check_is_fitted

from ..core import EarlyStopping, Learner, SaveBest, TensorLoader, distributed
from ..core.inference import predict_batches
from . import resume
from .model import TabularConfig, TabularModel, emb_sizes_for
from .persist import load_estimator, save_estimator
from .preprocessing import TabularPreprocessor
from .streaming import ParquetFitMixin
from .targets import TargetEncoder, as_target_array, infer_task
from .validation import check_X

PRED_BATCH = 8192


def _can_predict_proba(est) -> bool:
    return (
        est._fixed_task() != "regression"
        and getattr(est, "task_", None) != "regression"
    )


class EmbeddingModel(ParquetFitMixin, TransformerMixin, BaseEstimator):
    """Entity-embedding network for tables with categorical columns.

    ``fit_parquet`` / ``predict_parquet`` train and predict from parquet datasets
    larger than memory, chunk by chunk (:mod:`tabtext.tabular.streaming`).

    Parameters
    ----------
    task : {"auto", "classification", "multilabel", "regression"}
        "auto" reads y with sklearn's ``type_of_target``: binary/multiclass labels
        (strings, bools *and integers*) give classification, a 2-D 0/1 matrix
        multi-label, floats regression. Use ``EmbeddingRegressor`` (or
        ``task="regression"``) for integer targets such as counts.
    cat_cols, cont_cols, date_cols : lists of column names, optional
        Override the roles inferred from dtypes: object/string/category/bool columns
        are categorical; other numeric columns, integer codes included, are
        continuous unless named in ``cat_cols``; datetime columns are expanded into
        parts (year, month, week, day, dayofweek, ... , elapsed).
    emb_sizes : dict column -> int, optional
        Embedding size per categorical column, e.g. ``{"DayOfWeek": 4}``; the
        others use ``min(600, round(1.6 * n_categories ** 0.56))``.
    layers, ps : MLP sizes and their dropout probabilities.
    emb_drop : dropout on the embeddings.
    y_range : (low, high), optional
        Regression output squashed by a scaled sigmoid into this range, in the
        units of the (log-)target.
    log_target : bool
        Regression on ``log1p(y)``, predictions mapped back with ``expm1``.
    class_weight : None, "balanced" or dict label -> weight.
    epochs, lr, batch_size, weight_decay :
        Training with one-cycle; ``lr="auto"`` uses the LR finder's suggestion.
    validation_fraction : float, optional
        Hold out this share of the training rows (stratified for classification)
        for early stopping; ``eval_set=(X, y)`` in ``fit`` does the same with given
        rows. The weights of the best validation epoch are kept.
    n_iter_no_change : int or None
        Early-stopping patience in epochs when a validation set exists.
    random_state : int, optional
        Seeds weight initialisation, dropout and shuffling (without touching the
        global RNG state).
    device : "cpu", "cuda", ... ; default CUDA when available.
    verbose : int
        > 0 shows progress bars.
    checkpoint_dir : str or Path, optional
        Save the training state into this folder after every epoch (``last/``, and
        ``best/`` with a validation set). A fit that was killed and is started again
        with the same data, parameters and an int ``random_state`` resumes after the
        last saved epoch and ends with the same weights as an uninterrupted fit; a
        different fit starts afresh and replaces the checkpoint. A corrupted
        checkpoint is refused with a ``CheckpointError`` naming the file. One fit
        per folder at a time.
    """

    def __init__(
        self,
        task: Literal["auto", "classification", "multilabel", "regression"] = "auto",
        cat_cols: list[str] | None = None,
        cont_cols: list[str] | None = None,
        date_cols: list[str] | None = None,
        emb_sizes: dict[str, int] | None = None,
        layers: tuple[int, ...] = (200, 100),
        ps: tuple[float, ...] = (0.0, 0.0),
        emb_drop: float = 0.0,
        y_range: tuple[float, float] | None = None,
        log_target: bool = False,
        class_weight: Any = None,
        epochs: int = 5,
        lr: float | Literal["auto"] = 1e-2,
        batch_size: int = 512,
        weight_decay: float = 0.01,
        validation_fraction: float | None = None,
        n_iter_no_change: int | None = 3,
        random_state: int | None = None,
        device: str | None = None,
        verbose: int = 0,
        checkpoint_dir: str | Path | None = None,
    ):
        self.task = task
        self.cat_cols = cat_cols
        self.cont_cols = cont_cols
        self.date_cols = date_cols
        self.emb_sizes = emb_sizes
        self.layers = layers
        self.ps = ps
        self.emb_drop = emb_drop
        self.y_range = y_range
        self.log_target = log_target
        self.class_weight = class_weight
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir

    # ---- sklearn plumbing ---------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = True
        return tags

    def _fixed_task(self) -> str:
        return self.task

    # ---- fit ------------------------------------------------------------------------------
    def fit(self, X, y, eval_set: tuple[Any, Any] | None = None) -> EmbeddingModel:
        """Fit the preprocessing and the network on ``X, y``; returns self."""
        self._check_params()
        frame = check_X(self, X, reset=True)
        y = as_target_array(y, len(frame))
        if len(frame) < 2:
            raise ValueError("EmbeddingModel needs at least 2 samples, got 1 sample")
        self.task_ = infer_task(y, self._fixed_task())
        frame, y, valid = self._split(frame, y, eval_set)
        self.preprocessor_ = TabularPreprocessor(
            cat_cols=self.cat_cols, cont_cols=self.cont_cols, date_cols=self.date_cols
        ).fit(frame)
        self.target_ = TargetEncoder.fit(
            y, self.task_, self.log_target, scale=self.y_range is None
        )
        if self.task_ == "classification":
            self.classes_ = self.target_.classes
        self.config_ = self._config()
        seed = self._seed()
        rngs = torch.random.fork_rng(devices=self._rng_devices())
        with rngs, resume.global_rng_kept():
            torch.manual_seed(seed)
            self.model_ = TabularModel(self.config_)
            learn = self._learner(frame, y, valid, seed)
            start, self.lr_ = resume.start(learn, self.checkpoint_dir, self._pick_lr)
            learn.fit_one_cycle(self.epochs, self.lr_, start_epoch=start)
        self.history_ = learn.history
        self.model_.eval()
        self.model_.to(
            "cpu"
        )  # the fitted estimator lives on the CPU: picklable anywhere
        return self

    def _check_params(self) -> None:
        if not isinstance(self.epochs, numbers.Integral) or self.epochs < 1:
            raise ValueError(f"epochs must be an int >= 1, got {self.epochs!r}")
        if not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")
        if not (
            self.lr == "auto" or (isinstance(self.lr, numbers.Real) and self.lr > 0)
        ):
            raise ValueError(f"lr must be a positive number or 'auto', got {self.lr!r}")
        vf = self.validation_fraction
        if vf is not None and not (isinstance(vf, numbers.Real) and 0 < vf < 1):
            raise ValueError(
                f"validation_fraction must be in (0, 1) or None, got {vf!r}"
            )
        if len(self.ps) != len(self.layers):
            raise ValueError(
                f"ps {self.ps!r} needs one dropout per layer of {self.layers!r}"
            )

    def _seed(self) -> int:
        if self.random_state is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        elif isinstance(self.random_state, np.random.RandomState):
            seed = int(self.random_state.randint(0, 2**31 - 1))
        else:
            return int(self.random_state)
        # under torchrun every rank must split and shuffle alike: rank 0's draw
        distributed.setup(self._device())
        return distributed.broadcast_object(seed)

    def _rng_devices(self) -> list[int]:
        return [torch.cuda.current_device()] if torch.cuda.is_available() else []

    def _split(self, frame: pd.DataFrame, y: np.ndarray, eval_set):
        if eval_set is not None:
            Xv, yv = eval_set
            fv = check_X(self, Xv, reset=False)
            return frame, y, (fv, as_target_array(yv, len(fv)))
        if self.validation_fraction is None:
            return frame, y, None
        strat = y if self.task_ == "classification" else None
        try:
            ft, fv, yt, yv = train_test_split(
                frame,
                y,
                test_size=self.validation_fraction,
                stratify=strat,
                random_state=self._seed(),
            )
        except ValueError:  # a class too rare to stratify: fall back to a random split
            ft, fv, yt, yv = train_test_split(
                frame, y, test_size=self.validation_fraction, random_state=self._seed()
            )
        return ft, yt, (fv, yv)

    def _config(self) -> TabularConfig:
        pre = self.preprocessor_
        sizes = emb_sizes_for(pre.cat_names_, pre.cardinalities_, self.emb_sizes)
        y_range = (
            tuple(float(v) for v in self.y_range) if self.y_range is not None else None
        )
        return TabularConfig(
            cardinalities=tuple(int(c) for c in pre.cardinalities_),
            emb_sizes=tuple(sizes),
            n_cont=len(pre.cont_names_),
            n_out=self.target_.n_out,
            layers=tuple(int(v) for v in self.layers),
            ps=tuple(float(p) for p in self.ps),
            emb_drop=float(self.emb_drop),
            y_range=y_range,
        )

    def _device(self) -> torch.device:
        return distributed.device(self.device)  # this rank's GPU under torchrun

    def _tensors(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        cats, conts = self.preprocessor_.transform(frame)
        return torch.as_tensor(cats, dtype=torch.long), torch.as_tensor(conts)

    def _learner(self, frame, y, valid, seed: int) -> Learner:
        device = self._device()
        cats, conts = self._tensors(frame)
        target = self.target_.encode(y)
        # under torchrun each rank trains on its shard of ceil(n / world) rows; drop a
        # last batch of 1 row: batch norm cannot train on a single row
        rank, world = distributed.rank(), distributed.world_size()
        drop_last = -(-len(frame) // world) % self.batch_size == 1
        train = TensorLoader(
            cats,
            conts,
            target,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=drop_last,
            seed=seed,
            device=device,
            rank=rank,
            world_size=world,
        )
        valid_dl, tensors = None, [cats, conts, target]
        if valid is not None:
            vc, vn = self._tensors(valid[0])
            vt = self.target_.encode(valid[1])
            tensors += [vc, vn, vt]
            valid_dl = TensorLoader(
                vc,
                vn,
                vt,
                batch_size=PRED_BATCH,
                device=device,
                rank=rank,
                world_size=world,
            )
        loss = self.target_.loss(y, self.class_weight)
        return self._new_learner(train, valid_dl, loss, seed, tensors)

    def _new_learner(self, train, valid_dl, loss, seed: int, tensors: list) -> Learner:
        """The Learner of ``fit`` and ``fit_parquet``: the model, ``loss`` and the
        callbacks of :meth:`_callbacks` on this estimator's device."""
        device = self._device()
        return Learner(
            self.model_,
            train,
            valid_dl,
            loss_fn=loss.to(device),
            wd=self.weight_decay,
            callbacks=self._callbacks(valid_dl is not None, seed, tensors),
            device=device,
            progress=bool(self.verbose),
        )

    def _callbacks(self, with_valid: bool, seed: int, tensors: list) -> list:
        """Best epoch and early stopping with a validation set; checkpoints with
        ``checkpoint_dir`` (the best epoch then kept on disk, to survive a kill)."""
        folder = None if self.checkpoint_dir is None else Path(self.checkpoint_dir)
        cbs, best = [], SaveBest("valid_loss")
        if folder is not None:
            cbs, best = resume.callbacks(folder)
        if with_valid:
            cbs.append(best)
            if self.n_iter_no_change is not None:
                patience = int(self.n_iter_no_change)
                cbs.append(EarlyStopping("valid_loss", patience=patience))
        if folder is not None:
            cbs.append(resume.FitRecord(resume.fingerprint(self, seed, tensors), 0.0))
        return cbs

    def _pick_lr(self, learn: Learner) -> float:
        if self.lr != "auto":
            return float(self.lr)
        num_it = max(20, min(100, 2 * len(learn.train_dl)))
        return float(learn.lr_find(num_it=num_it).suggestion)

    # ---- predict ----------------------------------------------------------------------
    def _outputs(self, X, forward=None) -> torch.Tensor:
        """The network's outputs (or ``forward(model, (cats, conts))``) for ``X``, on
        the CPU where the fitted estimator lives."""
        check_is_fitted(self, "model_")
        frame = check_X(self, X, reset=False)
        cats, conts = self._tensors(frame)
        batches = TensorLoader(cats, conts, batch_size=PRED_BATCH)
        kw = {} if forward is None else {"forward": forward}
        out, _ = predict_batches(self.model_, batches, "cpu", inputs_only=True, **kw)
        return out

    def predict(self, X) -> np.ndarray:
        """Labels (classification), 0/1 matrix (multi-label) or values (regression)."""
        out = self._outputs(X)
        return self.target_.decode(out)

    @available_if(_can_predict_proba)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (classification) or label probabilities (multi-label)."""
        out = self._outputs(X)
        return self.target_.proba(out)

    def score(self, X, y) -> float:
        """Accuracy for classification and multi-label (exact match), R^2 for regression."""
        pred = self.predict(X)
        if self.task_ == "regression":
            return float(r2_score(y, pred))
        return float(accuracy_score(np.asarray(y), pred))

    def transform(self, X) -> np.ndarray:
        """The embedded representation: embeddings concatenated with processed conts."""
        out = self._outputs(X, forward=lambda model, x: model.embed(*x))
        return out.numpy().astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "model_")
        names = [
            f"{c}_emb{j}"
            for c, d in zip(self.preprocessor_.cat_names_, self.config_.emb_sizes)
            for j in range(d)
        ]
        return np.asarray(names + list(self.preprocessor_.cont_names_), dtype=object)

    # ---- embeddings for reuse -----------------------------------------------------------
    @property
    def embeddings_(self) -> dict[str, pd.DataFrame]:
        """{column: DataFrame indexed by category (row 0 = unknown/missing)}."""
        check_is_fitted(self, "model_")
        out = {}
        for i, name in enumerate(self.preprocessor_.cat_names_):
            w = self.model_.embeds[i].weight.detach().numpy()
            labels = self.preprocessor_.category_labels(name)
            out[name] = pd.DataFrame(
                w,
                index=pd.Index(labels, name=name),
                columns=[f"emb{j}" for j in range(w.shape[1])],
            )
        return out

    def plot_embedding(
        self, column: str, path: str | Path, max_labels: int = 60
    ) -> Path:
        """PNG of a column's embedding projected on its 2 principal components."""
        from .plots import plot_embedding

        emb = self.embeddings_
        if column not in emb:
            raise ValueError(
                f"{column!r} is not an embedded column; embedded: {list(emb)}"
            )
        return plot_embedding(emb[column], column, path, max_labels)

    # ---- persistence --------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator as safetensors + JSON (no pickle)."""
        check_is_fitted(self, "model_")
        return save_estimator(self, path)

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingModel:
        """Load what :meth:`save` wrote; never executes code from the files."""
        return load_estimator(path)


class EmbeddingClassifier(ClassifierMixin, EmbeddingModel):
    """:class:`EmbeddingModel` for classification; ``task="auto"`` means binary/multiclass
    labels, or multi-label for a 2-D 0/1 y."""

    def _fixed_task(self) -> str:
        return "auto_classifier" if self.task == "auto" else self.task


class EmbeddingRegressor(RegressorMixin, EmbeddingModel):
    """:class:`EmbeddingModel` for regression, integer targets (counts) included;
    ``task="auto"`` means regression."""

    def _fixed_task(self) -> str:
        return "regression" if self.task == "auto" else self.task


__all__ = ["EmbeddingClassifier", "EmbeddingModel", "EmbeddingRegressor"]
