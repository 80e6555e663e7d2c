"""finetune beyond binary sentiment, end to end on tiny synthetic data (seconds):
multi-class with class weights, multi-label, regression; predict, save and load."""

import json

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file

from tabtext.nlp import (
    TextClassifier,
    TextRegressor,
    finetune,
    load_text_model,
    predict,
    save_text_model,
)
from tabtext.nlp.text.splits import stratified_split
from tabtext.nlp.training import classifier_stage
from tabtext.nlp.training import tasks as tasks_module

from .conftest import (
    GENRES,
    TINY,
    make_imbalanced_texts,
    make_multilabel_texts,
    make_rated_texts,
)

# TINY without LM fine-tuning and gradual unfreezing: a few classifier steps
FAST = TINY[: TINY.index("--lm-ft-epochs")] + ["--lm-ft-epochs", "0", "--unfreeze"]
FAST += TINY[TINY.index("--clas-epochs") :]
MAKERS = {
    "weighted": (make_imbalanced_texts, ["--class-weight", "balanced"]),
    "multilabel": (make_multilabel_texts, ["--task", "multilabel"]),
    "regression": (make_rated_texts, ["--task", "regression", "--clas-epochs", "6"]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One finetune run per task, with the learner each built (loss, metrics)."""
    cache = tmp_path_factory.mktemp("cache")
    out = {}
    for name, (make, flags) in MAKERS.items():
        texts, labels = make()
        data = tmp_path_factory.mktemp("data") / f"{name}.parquet"
        pd.DataFrame({"text": texts, "label": labels}).to_parquet(data)
        learners = []
        real = classifier_stage.classifier_learner

        def spy(*args, _real=real, _seen=learners, **kwargs):
            _seen.append(_real(*args, **kwargs))
            return _seen[-1]

        run = tmp_path_factory.mktemp(name)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(classifier_stage, "classifier_learner", spy)
            metrics = finetune.main(
                ["--data", str(data), "--out", str(run), "--cache-dir", str(cache)]
                + FAST
                + flags
            )
        out[name] = dict(
            out=run, metrics=metrics, learn=learners[0], data=data, labels=labels
        )
    return out


def head_outputs(run_dir) -> int:
    weights = load_file(run_dir / "model" / "model.safetensors")
    last = max(
        (k for k in weights if k.startswith("head.") and k.endswith(".weight")),
        key=lambda k: int(k.split(".")[2]),
    )
    return weights[last].shape[0]


def model_json(run_dir) -> dict:
    return json.loads((run_dir / "model" / "config.json").read_text())


def training_labels(labels):
    """The training part of finetune's split (stratified on the classes)."""
    classes, codes = np.unique(labels, return_inverse=True)
    tr, _ = stratified_split(codes, 0.1, 0)
    return codes[tr]


def test_class_weights_are_inverse_frequencies_of_the_training_labels(runs):
    r = runs["weighted"]
    codes = training_labels(r["labels"])
    by_hand = [len(codes) / (3 * np.sum(codes == c)) for c in range(3)]
    assert r["metrics"]["class_weight"] == pytest.approx(by_hand)
    assert by_hand[2] > 3 * by_hand[0]  # the rare class weighs most
    loss = r["learn"].loss_fn
    assert isinstance(loss, tasks_module._WeightedCE)
    assert loss.weight.tolist() == pytest.approx(by_hand)
    assert model_json(r["out"])["class_weight"] == pytest.approx(by_hand)
    assert head_outputs(r["out"]) == 3 and r["metrics"]["task"] == "classification"
    assert 0 <= r["metrics"]["valid_accuracy"] <= 1


def test_multilabel_trains_sigmoid_outputs_with_bce(runs):
    r = runs["multilabel"]
    m = r["metrics"]
    assert r["learn"].loss_fn is tasks_module._bce
    assert [f.__name__ for f in r["learn"].metrics] == ["micro_f1", "subset_accuracy"]
    assert head_outputs(r["out"]) == len(GENRES)
    assert m["task"] == "multilabel" and "valid_accuracy" not in m
    assert m["valid_micro_f1"] >= 0.6  # measured 0.84; chance (all on) ~0.6 below
    assert 0 <= m["valid_subset_accuracy"] <= m["valid_micro_f1"]
    cfg = model_json(r["out"])
    assert cfg["task"] == "multilabel" and cfg["classes"] == sorted(GENRES)
    assert cfg["label_sep"] == "|"


def test_regression_trains_one_output_and_decodes_to_the_label_scale(runs):
    r = runs["regression"]
    assert r["learn"].loss_fn is tasks_module._mse
    assert head_outputs(r["out"]) == 1
    y = np.asarray(r["labels"], float)
    _, _, tr_mean, tr_std = _regression_stats(y)
    target = model_json(r["out"])["target"]
    assert target == pytest.approx({"mean": tr_mean, "std": tr_std, "loss": "mse"})
    m = r["metrics"]
    assert m["valid_mae"] < 0.5 * y.std(), m["valid_mae"]  # far better than the mean
    texts = pd.read_parquet(r["data"])["text"].tolist()
    pred = TextRegressor.load(r["out"]).predict(texts)
    # in stars (train mean ~5.5, std ~3), not in standardised units (mean ~0)
    assert abs(pred.mean() - tr_mean) < 0.5 * tr_std, (pred.mean(), tr_mean)
    assert np.corrcoef(pred, y)[0, 1] > 0.5


def _regression_stats(y):
    strata = y  # <= 20 distinct values: stratified on the values
    tr, va = stratified_split(strata, 0.1, 0)
    return tr, va, y[tr].mean(), y[tr].std()


def test_predict_cli_writes_the_columns_of_each_task(runs, tmp_path, capsys):
    columns = {
        "weighted": ["predicted", "proba_a", "proba_b", "proba_c"],
        "multilabel": ["predicted"] + [f"proba_{g}" for g in sorted(GENRES)],
        "regression": ["predicted"],
    }
    scored = {
        "weighted": {"accuracy"},
        "multilabel": {"micro_f1", "subset_accuracy"},
        "regression": {"mae", "rmse"},
    }
    for name, r in runs.items():
        csv = tmp_path / f"{name}.csv"
        res = predict.main([str(r["out"]), str(r["data"]), "--out", str(csv), "--json"])
        frame = pd.read_csv(csv, keep_default_na=False)
        assert list(frame.columns) == columns[name], name
        assert scored[name] <= set(res) and len(frame) == 240
    ml = pd.read_csv(tmp_path / "multilabel.csv", keep_default_na=False)
    for pred, row in zip(ml["predicted"], ml.filter(like="proba_").to_numpy()):
        on = {g for g, p in zip(sorted(GENRES), row) if p > 0.5}
        assert set(filter(None, pred.split("|"))) == on
    reg = pd.read_csv(tmp_path / "regression.csv")["predicted"]
    assert reg.between(-5, 16).all() and reg.std() > 1  # on the scale of 1-10 stars
    capsys.readouterr()


def test_predict_scores_a_multilabel_csv_with_label_strings(runs, tmp_path):
    r = runs["multilabel"]
    texts, labels = make_multilabel_texts(60, seed=7)
    strings = ["|".join(x) for x in labels]
    strings[0] = "action|western"  # a label the model never saw: always missed
    pd.DataFrame({"text": texts, "label": strings}).to_csv(tmp_path / "t.csv")
    res = predict.main([str(r["out"]), str(tmp_path / "t.csv"), "--json"])
    assert 0.5 <= res["micro_f1"] <= 1 and res["n"] == 60


@pytest.mark.parametrize("name", list(MAKERS))
def test_save_load_round_trip_of_each_task(runs, tmp_path, name):
    r = runs[name]
    cls = TextRegressor if name == "regression" else TextClassifier
    other = TextClassifier if name == "regression" else TextRegressor
    est = cls.load(r["out"])
    texts = ["Great funny explosion love.", "Awful strange boring scene."]
    est.save(tmp_path / "m")
    again = cls.load(tmp_path / "m")
    assert np.array_equal(again.predict(texts), est.predict(texts))
    back = load_text_model(tmp_path / "m")
    assert back.task == load_text_model(r["out"]).task
    with pytest.raises(TypeError, match=f"load it with {cls.__name__}.load"):
        other.load(r["out"])
    if name == "multilabel":
        assert est.predict(texts).shape == (2, len(GENRES))
        assert set(np.unique(est.predict(texts))) <= {0, 1}
    if name == "weighted":
        assert set(est.predict(texts)) <= {"a", "b", "c"}


@pytest.mark.parametrize("name", ["multilabel", "regression"])
def test_onnx_export_refuses_what_its_softmax_graph_cannot_give(runs, tmp_path, name):
    from tabtext.nlp.api.onnx_export import export_onnx

    with pytest.raises(ValueError, match=f"covers single-label.*a {name} model"):
        export_onnx(runs[name]["out"], tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_model_dir_without_a_task_loads_as_classification(
    runs, tmp_path, monkeypatch
):
    tm = load_text_model(runs["weighted"]["out"])
    monkeypatch.setattr(tasks_module.TextTask, "to_json", lambda self: {})
    save_text_model(tm, tmp_path / "old")  # as written before tasks existed
    monkeypatch.undo()
    assert "task" not in json.loads((tmp_path / "old" / "config.json").read_text())
    old = load_text_model(tmp_path / "old")
    assert old.task.kind == "classification" and old.task.class_weight is None
    clf = TextClassifier.load(tmp_path / "old")
    assert clf.predict_proba(["Great wonderful film."]).shape == (1, 3)


@pytest.fixture(scope="module")
def float_scores(tmp_path_factory):
    texts, stars = make_rated_texts(40)
    path = tmp_path_factory.mktemp("scores") / "scores.parquet"
    pd.DataFrame({"text": texts, "label": np.asarray(stars) + 0.5}).to_parquet(path)
    return path


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--task", "regression", "--class-weight", "balanced"], "has none"),
        (["--task", "multilabel", "--class-weight", "balanced"], "has none"),
        (["--regression-loss", "mse", "--task", "multilabel"], "for task 'regression'"),
        (["--task", "regression", "--label-sep", ";"], "--label-sep splits"),
        (["--task", "ordinal"], "invalid choice: 'ordinal'"),
        (["--class-weight", "inverse"], "invalid choice: 'inverse'"),
        (["--task", "auto"], "non-integer numbers"),  # the float_scores file
        (["--class-weight", "balanced", "--task", "regression"], "has none"),
    ],
)
def test_task_flags_that_do_not_fit_fail_before_any_work(
    flags, message, float_scores, tmp_path, capsys
):
    out = tmp_path / "never"
    with pytest.raises(SystemExit):
        finetune.main(["--data", str(float_scores), "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_auto_multilabel_data_refuses_class_weights_after_reading(
    runs, tmp_path, capsys
):
    out = tmp_path / "never"
    with pytest.raises(SystemExit):
        finetune.main(
            ["--data", str(runs["multilabel"]["data"]), "--out", str(out)]
            + ["--class-weight", "balanced"]
        )
    assert "task 'multilabel' has none" in capsys.readouterr().err
    assert not out.exists()


def test_labels_that_cannot_train_fail_before_any_work(tmp_path, capsys):
    texts, _ = make_rated_texts(40)
    data = tmp_path / "flat.parquet"
    pd.DataFrame({"text": texts, "label": 7}).to_parquet(data)
    out = tmp_path / "never"
    with pytest.raises(SystemExit):
        finetune.main(["--data", str(data), "--out", str(out), "--task", "regression"])
    err = capsys.readouterr().err
    assert "are all equal ([7.0]): there is nothing to learn" in err
    assert "Traceback" not in err and not out.exists()


API = dict(
    clas_min_steps=0, emb_sz=16, n_hid=24, n_layers=2, bptt=12, lm_bs=8, clas_bs=16,
    max_vocab=200, min_freq=1, lm_docs="all", clas_docs="all", max_tokens="all",
    lm_epochs=1, lm_ft_epochs=0, unfreeze=(), clas_epochs=1, clas_drop_mult=0.0,
)  # fmt: skip


def test_python_api_fits_each_task(tmp_path):
    texts, stars = make_rated_texts(120, seed=2)
    reg = TextRegressor(overrides=API, pretrained=None, work_dir=str(tmp_path / "r"))
    reg.fit(texts, stars)
    assert reg.predict(texts[:3]).shape == (3,) and reg.metrics_["task"] == "regression"
    assert reg.model_.task.mean == pytest.approx(np.mean(stars), abs=0.5)
    texts, genres = make_multilabel_texts(120, seed=2)
    indicator = np.array([[g in row for g in sorted(GENRES)] for row in genres], int)
    clf = TextClassifier(
        overrides=API, pretrained=None, work_dir=str(tmp_path / "m"), task="multilabel"
    ).fit(texts, indicator)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict(texts[:4]).shape == (4, 3)
    assert 0 <= clf.score(texts[:20], indicator[:20]) <= 1
    texts, labels = make_imbalanced_texts(120, seed=2)
    weighted = TextClassifier(
        overrides=API, pretrained=None, work_dir=str(tmp_path / "w"),
        class_weight={"c": 3.0},
    ).fit(texts, labels)  # fmt: skip
    assert weighted.metrics_["class_weight"] == [1.0, 1.0, 3.0]


@pytest.mark.parametrize(
    "kwargs, y, error, message",
    [
        (dict(task="regression"), ["a", "b"], ValueError, "use TextRegressor"),
        (dict(task="multilabel", class_weight="balanced"), ["a", "b"], ValueError,
         "has none"),
        (dict(class_weight={"z": 2.0}), ["a", "b"], ValueError, r"\['z'\] that are"),
        (dict(task="multilabel"), np.array([[0, 2], [1, 0]]), ValueError,
         "0/1 indicator"),
    ],
)  # fmt: skip
def test_estimator_options_are_checked_before_any_work(kwargs, y, error, message):
    with pytest.raises(error, match=message):
        TextClassifier(pretrained=None, **kwargs).fit(["one text", "another"], y)
    with pytest.raises(ValueError, match="numeric labels"):
        TextRegressor(pretrained=None).fit(["one text", "another"], ["a", "b"])
