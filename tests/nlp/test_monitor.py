"""--monitor: the score that picks the classifier's best epoch over its phases."""

import pandas as pd
import pytest

from tabtext.nlp import finetune
from tabtext.nlp.training.config import ULMFiTConfig

from .conftest import TINY


def _run(data_file, out, monitor):
    return finetune.main(
        ["--data", str(data_file), "--out", str(out), "--quiet",
         "--monitor", monitor, *TINY]
    )  # fmt: skip


@pytest.mark.parametrize("monitor,column,best", [
    ("roc_auc", "roc_auc", "idxmax"), ("loss", "valid_loss", "idxmin"),
])  # fmt: skip
def test_the_kept_epoch_is_the_monitors_best(
    data_file, tmp_path, monitor, column, best
):
    metrics = _run(data_file, tmp_path / "run", monitor)
    # every classifier epoch (2 unfreezing phases, then 3 epochs) in one table
    log = pd.read_csv(tmp_path / "run" / "log_clas_all.csv")
    assert len(log) == 5
    chosen = metrics["best_epoch"]["clas"]
    assert chosen["epoch"] == getattr(log[column], best)()  # the first best row
    assert chosen["value"] == pytest.approx(log[column][chosen["epoch"]])
    # the saved model is that epoch's: its validation accuracy is that row's
    assert metrics["valid_accuracy"] == pytest.approx(log["accuracy"][chosen["epoch"]])


def test_without_monitor_the_last_epoch_is_kept(data_file, tmp_path):
    metrics = _run(data_file, tmp_path / "run", "last")
    log = pd.read_csv(tmp_path / "run" / "log_clas_all.csv")
    assert "best_epoch" not in metrics and "roc_auc" not in log
    assert metrics["valid_accuracy"] == pytest.approx(log["accuracy"].iloc[-1])


def test_a_monitor_the_task_lacks_is_refused_up_front(data_file, capsys):
    with pytest.raises(SystemExit):
        finetune.main(["--data", str(data_file), "--monitor", "rmse", *TINY])
    err = capsys.readouterr().err
    assert "monitor 'rmse' is not a score of a classification task" in err
    assert "accuracy" in err
    with pytest.raises(SystemExit):
        finetune.main(["--data", str(data_file), "--monitor", "auc", *TINY])
    assert "invalid choice: 'auc'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="monitor must be one of"):
        ULMFiTConfig(monitor="auc")
