"""TensorBoardLogger and MLflowLogger, read back with each tool's own reader."""

import copy
import sys
from pathlib import Path

import pytest

from tabtext.core import (
    MLflowLogger,
    TensorBoardLogger,
    rmse,
    save_model_dir,
    tracker_for,
)
from tabtext.core.extras import require

from .conftest import make_learner

PARAMS = {"lr": 0.01, "model": {"hidden": 8, "layers": (8, 8)}}


def _fit(cb, epochs=(3,)):
    """A tiny learner fitted ``len(epochs)`` times with ``cb`` as its callback."""
    learn = make_learner(metrics=[rmse], callbacks=[cb])
    for n in epochs:
        learn.fit_one_cycle(n, 1e-2)
    return learn


# ---- TensorBoard -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tensorboard_run(tmp_path_factory):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    log_dir = tmp_path_factory.mktemp("tb")
    tb = TensorBoardLogger(log_dir, params=PARAMS)
    learn = _fit(tb, epochs=(3, 2))
    tb.finish()
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return learn, acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_tensorboard_epochs_of_both_fits_in_order(tensorboard_run):
    learn, acc = tensorboard_run
    hist = learn.history  # both fits' rows: 3 + 2 epochs
    for name in ("train_loss", "valid_loss", "rmse"):
        got = _scalars(acc, f"epoch/{name}")
        assert [s for s, _ in got] == [0, 1, 2, 3, 4]
        want = hist[name].tolist()
        assert [v for _, v in got] == pytest.approx(want, rel=1e-6)


def test_tensorboard_batch_lrs_and_losses(tensorboard_run):
    learn, acc = tensorboard_run
    rec = learn.recorder
    n = len(rec.lrs)
    assert n == 5 * len(learn.train_dl)
    for g in range(3):  # the test model's three layer groups
        got = _scalars(acc, f"batch/lr_{g}")
        assert [s for s, _ in got] == list(range(n))
        assert [v for _, v in got] == pytest.approx([r[g] for r in rec.lrs], rel=1e-6)
    losses = [v for _, v in _scalars(acc, "batch/batch_loss")]
    assert losses == pytest.approx(rec.losses, rel=1e-6)


def test_tensorboard_params_text(tensorboard_run):
    _, acc = tensorboard_run
    texts = [
        e.tensor_proto.string_val[0].decode()
        for e in acc.Tensors("params/text_summary")
    ]
    assert "| model.hidden | 8 |" in texts[0]
    assert "| model.layers | (8, 8) |" in texts[0]
    assert any("| fit1.epochs | 2 |" in t for t in texts)


def test_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'tabtext\[tensorboard\]'"):
        _fit(TensorBoardLogger(tmp_path), epochs=(1,))
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ImportError, match=r"MLflowLogger needs .*tabtext\[mlflow\]"):
        _ = MLflowLogger().run_id
    assert require("math", "none", "x").sqrt(4.0) == 2.0


# ---- MLflow --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_run(tmp_path_factory):
    pytest.importorskip("mlflow")
    out = tmp_path_factory.mktemp("mlflow_out")
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    ml = tracker_for("mlflow", out, params=PARAMS)
    mp.undo()
    with ml:
        learn = _fit(ml, epochs=(2,))
        model_dir = save_model_dir(
            out / "model", "test", learn.model, {"config.json": {"hidden": 8}}
        )
        ml.finish(model_dir=model_dir)
    return learn, ml, out


def test_mlflow_run_read_back(mlflow_run):
    from mlflow import MlflowClient

    learn, ml, out = mlflow_run
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "tabtext"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == out.name
    params = run.data.params
    assert params["lr"] == "0.01" and params["model.layers"] == "(8, 8)"
    assert params["fit0.epochs"] == "2" and params["fit0.optimizer"]
    for name in ("train_loss", "valid_loss", "rmse"):
        hist = client.get_metric_history(run.info.run_id, name)
        got = [m.value for m in sorted(hist, key=lambda m: m.step)]
        assert got == pytest.approx(learn.history[name].tolist())
    lr0 = client.get_metric_history(run.info.run_id, "lr_0")
    assert sorted(m.step for m in lr0) == list(range(len(learn.recorder.lrs)))


def test_mlflow_model_dir_is_an_artifact(mlflow_run, tmp_path):
    from mlflow import MlflowClient

    _, ml, out = mlflow_run
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    run_id = client.search_runs(
        [client.get_experiment_by_name("tabtext").experiment_id]
    )[0].info.run_id
    names = {Path(a.path).name for a in client.list_artifacts(run_id, "model")}
    assert "model.safetensors" in names and "config.json" in names
    local = Path(client.download_artifacts(run_id, "model", str(tmp_path)))
    saved = (out / "model" / "model.safetensors").read_bytes()
    assert (local / "model.safetensors").read_bytes() == saved
    assert (out / "mlartifacts").is_dir()  # beside the run's output, not in the cwd


def test_mlflow_failed_block_marks_run_failed(mlflow_run):
    from mlflow import MlflowClient

    _, _, out = mlflow_run
    uri = f"sqlite:///{out / 'mlflow.db'}"
    with pytest.raises(RuntimeError, match="boom"):
        with MLflowLogger(uri, experiment="failing") as ml:
            _fit(ml, epochs=(1,))
            raise RuntimeError("boom")
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.get_experiment_by_name("failing").experiment_id
    assert client.search_runs([exp_id])[0].info.status == "FAILED"


def test_copy_of_a_started_logger_opens_its_own_run(mlflow_run):
    _, ml, out = mlflow_run
    uri = f"sqlite:///{out / 'mlflow.db'}"
    first = MLflowLogger(uri, experiment="copies")
    run_id = first.run_id
    second = copy.deepcopy(first)
    assert second.tracking_uri == uri and second.run_id != run_id
    first.finish()
    second.finish()


def test_tracker_for_choices(tmp_path):
    assert tracker_for(None, tmp_path) is None
    tb = tracker_for("tensorboard", tmp_path, params={"a": 1})
    assert isinstance(tb, TensorBoardLogger) and tb.log_dir == tmp_path / "tensorboard"
    with pytest.raises(ValueError, match="log_to must be one of"):
        tracker_for("wandb", tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        MLflowLogger()._log_model_dir(tmp_path / "missing")
