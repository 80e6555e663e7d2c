"""Row weights of labeled texts: the classifier's loss and validation scores weigh
each row, the LM stages ignore them, and bad weights are refused up front."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score

from tabtext.nlp import TextClassifier, finetune
from tabtext.nlp.models.awd_lstm import AWDLSTMConfig
from tabtext.nlp.models.classifier import TextClassifierModel
from tabtext.nlp.text.loaders import ClassifierLoader
from tabtext.nlp.text.weights import check_weights
from tabtext.nlp.training.config import ULMFiTConfig
from tabtext.nlp.training.learners import classifier_learner
from tabtext.nlp.training.tasks import TextTask

from .conftest import TINY, make_texts


@pytest.mark.parametrize("kind", ["classification", "multilabel", "regression"])
def test_weighted_loss_equals_the_repeated_rows_loss(kind):
    torch.manual_seed(0)
    out = torch.randn(4, 3 if kind != "regression" else 1)
    y = {
        "classification": torch.tensor([0, 2, 1, 1]),
        "multilabel": torch.randint(0, 2, (4, 3)).float(),
        "regression": torch.randn(4),
    }[kind]
    task = TextTask(kind)
    w = torch.tensor([2.0, 0.0, 1.0, 1.0])  # mean 1, as the stage normalises them
    rep = torch.tensor([0, 0, 2, 3])  # row 0 twice, row 1 never
    weighted = task.loss_fn(weighted=True)(out, y, w)
    assert float(weighted) == pytest.approx(float(task.loss_fn()(out[rep], y[rep])))
    assert float(task.loss_fn(weighted=True)(out, y)) == pytest.approx(
        float(task.loss_fn()(out, y))
    )


def test_zero_weights_score_as_dropped_rows():
    """The same model's validation loss and accuracy with weight-0 rows equal those
    of the validation set without them (through the loader, Learner and metrics)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    enc = AWDLSTMConfig(vocab_size=20, emb_sz=4, n_hid=6, n_layers=1)
    model = TextClassifierModel(enc, 2, bptt=8, max_len=16)
    docs = [rng.integers(2, 20, 10) for _ in range(40)]  # one length: no padding
    labels = rng.integers(0, 2, 40)
    w = rng.integers(0, 3, 40).astype(float)
    cfg = ULMFiTConfig(clas_bs=8, max_tokens=None, max_len=16, bptt=8)

    start = {k: v.clone() for k, v in model.state_dict().items()}

    def scores(valid_docs, valid_labels, weights):
        model.load_state_dict(start)  # the same model, trained the same way
        torch.manual_seed(0)
        learn = classifier_learner(
            model, (docs, labels), (valid_docs, valid_labels), cfg, "cpu",
            progress=False, weights=(None, weights),
        )  # fmt: skip
        learn.fit_one_cycle(1, 1e-3)
        return learn.epoch_results

    keep = np.flatnonzero(w > 0)
    ones = np.ones(len(keep))
    got = scores(docs, labels, w)
    want = scores([docs[i] for i in keep], labels[keep], w[keep])
    unweighted = scores([docs[i] for i in keep], labels[keep], ones)
    assert got["valid_loss"] == pytest.approx(want["valid_loss"], rel=1e-5)
    assert got["accuracy"] == pytest.approx(want["accuracy"])
    assert got["valid_loss"] != pytest.approx(unweighted["valid_loss"], rel=1e-5)


def test_loader_yields_each_documents_weight():
    docs = [np.arange(2, 2 + n) for n in (3, 7, 5, 4)]
    w = np.array([0.5, 2.0, 0.0, 1.5])
    dl = ClassifierLoader(docs, np.arange(4), 2, shuffle=True, weights=w)
    seen = {}
    for _, y, wb in dl:
        seen.update(dict(zip(y.tolist(), wb.tolist())))
    assert seen == {i: w[i] for i in range(4)}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    texts, labels = make_texts()
    rng = np.random.default_rng(1)
    w = rng.uniform(0, 3, len(texts)).round(2)
    df = pd.DataFrame({"text": texts, "label": labels, "w": w})
    df.iloc[:200].to_parquet(d / "train.parquet")
    df.iloc[200:].to_csv(d / "valid.csv", index=False)
    return d, df


def test_finetune_weight_col_weighs_the_validation_score(files, tmp_path):
    d, df = files
    out = tmp_path / "run"
    metrics = finetune.main(
        ["--data", str(d / "train.parquet"), "--valid", str(d / "valid.csv"),
         "--weight-col", "w", "--out", str(out), "--quiet", *TINY]
    )  # fmt: skip
    probs = np.load(out / "valid_outputs.npy")
    labels = np.load(out / "valid_labels.npy")
    w = df["w"].to_numpy()[200:]
    want = accuracy_score(labels, probs.argmax(1), sample_weight=w)
    assert metrics["valid_accuracy"] == pytest.approx(want)
    assert set(metrics["phases"]) == {"lm", "lm_ft", "clas_1", "clas_2", "clas_all"}


@pytest.mark.parametrize("value,message", [
    (-1.0, "row 5 has weight -1.0"),
    (float("nan"), "row 5 has weight nan"),
    ("heavy", "row 5 holds 'heavy', not a number"),
])  # fmt: skip
def test_bad_weight_cells_are_named_by_file_column_and_row(
    files, tmp_path, capsys, value, message
):
    d, df = files
    bad = df.iloc[:40].astype({"w": object})
    bad.loc[5, "w"] = value
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(SystemExit):
        finetune.main(["--data", str(path), "--weight-col", "w", *TINY])
    err = capsys.readouterr().err
    assert f"{path}, weight column 'w': {message}" in err


def test_missing_weight_column_lists_the_columns(files, capsys):
    d, _ = files
    with pytest.raises(SystemExit):
        finetune.main(["--data", str(d / "train.parquet"), "--weight-col", "wt", *TINY])
    err = capsys.readouterr().err
    assert "no weight column 'wt'" in err and "'w'" in err


def test_text_classifier_refuses_bad_sample_weight_before_any_work():
    texts, labels = make_texts(20)
    est = TextClassifier(pretrained=None)
    with pytest.raises(ValueError, match="sample_weight: row 3 has weight -2.0"):
        est.fit(texts, labels, sample_weight=[1, 1, 1, -2] + [1] * 16)
    with pytest.raises(ValueError, match=r"one weight per text \(20\)"):
        est.fit(texts, labels, sample_weight=[1, 2])
    with pytest.raises(ValueError, match="all 20 weights are 0"):
        est.fit(texts, labels, sample_weight=np.zeros(20))
    assert check_weights([0, 1.5], 2).tolist() == [0.0, 1.5]
