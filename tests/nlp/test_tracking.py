"""--log-to on the text CLIs: the run read back with TensorBoard's and MLflow's own
readers (tiny runs, CPU, seconds)."""

import csv

import pytest

from tabtext._cli import TRACKER_CHOICES
from tabtext.core.tracking import TRACKERS
from tabtext.nlp import finetune, pretrain

from .conftest import TINY

PHASES = ("lm", "lm_ft", "clas_1", "clas_2", "clas_all")
LAST = ("lm_ft", "clas_all")  # a learner's last log holds all its phases' epochs


def _epoch_losses(out, phases=LAST, column="valid_loss") -> list[float]:
    """The epoch losses of the learners' last phases' CSV logs, in run order."""
    values = []
    for phase in phases:
        with open(out / f"log_{phase}.csv") as f:
            values += [float(row[column]) for row in csv.DictReader(f)]
    return values


def test_cli_choices_are_the_trackers():
    assert TRACKER_CHOICES == TRACKERS


def test_finetune_logs_every_phase_to_tensorboard(data_file, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    out = tmp_path / "run"
    metrics = finetune.main(
        ["--data", str(data_file), "--out", str(out), "--log-to", "tensorboard",
         "--quiet", *TINY]
    )  # fmt: skip
    assert set(metrics["phases"]) == set(PHASES)
    acc = EventAccumulator(
        str(out / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0}
    )
    acc.Reload()
    for column in ("train_loss", "valid_loss"):
        got = acc.Scalars(f"epoch/{column}")
        want = _epoch_losses(out, column=column)  # 1 + 1 + 1 + 1 + 3 epochs
        assert [e.step for e in got] == list(range(len(want)))
        assert [e.value for e in got] == pytest.approx(want, rel=1e-5)
    assert "accuracy" in {t.split("/")[-1] for t in acc.Tags()["scalars"]}
    texts = {
        tag: " ".join(
            e.tensor_proto.string_val[0].decode()
            for e in acc.Tensors(f"{tag}/text_summary")
        )
        for tag in ("params", "model_dir")
    }
    assert "| clas_epochs | 3 |" in texts["params"]
    assert "| emb_sz | 16 |" in texts["params"]
    assert str((out / "model").resolve()) in texts["model_dir"]


def test_finetune_and_pretrain_log_to_mlflow(data_file, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # a SQLite store keeps artifacts in ./mlruns
    out = tmp_path / "run"
    finetune.main(
        ["--data", str(data_file), "--out", str(out), "--log-to", "mlflow",
         "--quiet", *TINY]
    )  # fmt: skip
    lm_out = tmp_path / "lm"
    pretrain.main(
        ["--data", str(data_file), "--out", str(lm_out), "--log-to", "mlflow",
         "--epochs", "2", "--bs", "8", "--bptt", "12", "--min-freq", "1",
         "--emb-sz", "16", "--n-hid", "24", "--n-layers", "2", "--quiet"]
    )  # fmt: skip
    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = {
        r.info.run_name: r
        for r in client.search_runs(
            [client.get_experiment_by_name("tabtext").experiment_id]
        )
    }
    assert set(runs) == {"run", "lm"}
    clas = runs["run"]
    assert clas.info.status == "FINISHED"
    assert clas.data.params["clas_epochs"] == "3" and clas.data.params["task"] == (
        "classification"
    )
    hist = client.get_metric_history(clas.info.run_id, "valid_loss")
    assert [m.step for m in hist] == list(range(7))
    assert [m.value for m in hist] == pytest.approx(_epoch_losses(out), rel=1e-5)
    files = {f.path for f in client.list_artifacts(clas.info.run_id, "model")}
    assert "model/model.safetensors" in files
    lm = runs["lm"]
    assert lm.data.params["data"] == str(data_file)
    segments = client.get_metric_history(lm.info.run_id, "valid_loss")
    assert [m.value for m in segments] == pytest.approx(
        _epoch_losses(lm_out, phases=("lm",)), rel=1e-5
    )
    lm_files = {f.path for f in client.list_artifacts(lm.info.run_id, "model")}
    assert "model/model.safetensors" in lm_files


def test_a_failed_run_is_marked_failed(data_file, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from tabtext.nlp.training import ulmfit

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # a SQLite store keeps artifacts in ./mlruns

    def boom(*args, **kwargs):
        raise RuntimeError("stopped")

    monkeypatch.setattr(ulmfit, "classifier_stage", boom)
    with pytest.raises(RuntimeError, match="stopped"):
        finetune.main(
            ["--data", str(data_file), "--out", str(tmp_path / "run"),
             "--log-to", "mlflow", "--quiet", *TINY]
        )  # fmt: skip
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tabtext")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FAILED"
    assert len(client.get_metric_history(run.info.run_id, "valid_loss")) == 2
