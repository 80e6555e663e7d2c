"""TextTask: head size, losses (class-weighted by hand), decoding, metrics, JSON."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tabtext.nlp.training.tasks import TextTask, check_task_options


def test_balanced_class_weights_and_the_weighted_loss_by_hand():
    codes = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])  # shares 6:3:1
    task = TextTask().fit(codes, ["a", "b", "c"], "balanced")
    # n / (C * n_c): 10 / (3 * 6), 10 / (3 * 3), 10 / (3 * 1)
    assert task.class_weight == pytest.approx((10 / 18, 10 / 9, 10 / 3))
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.2, 0.1], [0.0, 0.0, 3.0]])
    y = torch.tensor([0, 1, 2])
    nll = [-math.log(torch.softmax(logits[i], 0)[y[i]].item()) for i in range(3)]
    w = [task.class_weight[c] for c in y.tolist()]
    by_hand = sum(wi * li for wi, li in zip(w, nll)) / sum(w)
    loss = task.loss_fn()(logits, y)
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    plain = TextTask().fit(codes, ["a", "b", "c"]).loss_fn()(logits, y)
    assert plain.item() == pytest.approx(sum(nll) / 3, rel=1e-6)
    assert abs(plain.item() - loss.item()) > 0.05  # the weights change the loss


def test_dict_class_weights_name_classes_and_default_to_one():
    codes = np.array([0, 1, 1, 2])
    task = TextTask().fit(codes, ["a", "b", "c"], {"c": 4.0})
    assert task.class_weight == (1.0, 1.0, 4.0)
    with pytest.raises(ValueError, match=r"\['z'\] that are not among"):
        TextTask().fit(codes, ["a", "b", "c"], {"z": 2.0})
    with pytest.raises(ValueError, match=r"\['c'\] have none"):
        TextTask().fit(np.array([0, 1, 1]), ["a", "b", "c"], "balanced")


@pytest.mark.parametrize(
    "task, kwargs, message",
    [
        ("regression", {"class_weight": "balanced"}, "task 'regression' has none"),
        ("multilabel", {"class_weight": {"a": 2}}, "task 'multilabel' has none"),
        ("classification", {"class_weight": "inverse"}, "None, 'balanced' or a dict"),
        ("classification", {"class_weight": {"a": -1}}, "finite numbers > 0"),
        ("classification", {"regression_loss": "mse"}, "is for task 'regression'"),
        ("regression", {"regression_loss": "l1"}, "one of ('mse', 'smooth_l1')"),
        ("ordinal", {}, "task must be auto or one of"),
    ],
)
def test_option_combinations_that_do_not_fit_are_refused(task, kwargs, message):
    with pytest.raises(
        ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        check_task_options(task, **kwargs)


def test_options_auto_cannot_refuse_yet_pass():
    check_task_options("auto", class_weight="balanced")
    check_task_options("auto", regression_loss="smooth_l1")


def test_regression_standardises_and_decodes_to_the_label_scale():
    y = np.array([1.0, 2.0, 9.0, 10.0])
    task = TextTask("regression").fit(y, [])
    assert (task.mean, task.std) == pytest.approx((5.5, y.std()))
    z = task.targets(y)
    assert z.dtype == np.float32 and z.mean() == pytest.approx(0, abs=1e-6)
    assert z.std() == pytest.approx(1, rel=1e-5)
    out = torch.tensor(z).reshape(-1, 1)  # the head's (batch, 1) output
    assert np.allclose(task.activation(out).numpy(), y)
    assert task.n_outputs(0) == 1
    assert task.loss_fn()(out, torch.tensor(z)).item() == pytest.approx(0, abs=1e-10)
    pred, t = torch.tensor([[0.0], [3.0]]), torch.tensor([1.0, 0.0])
    assert task.loss_fn()(pred, t).item() == pytest.approx((1 + 9) / 2)  # MSE
    huber = TextTask("regression", regression_loss="smooth_l1").loss_fn()(pred, t)
    assert huber.item() == pytest.approx((0.5 + 2.5) / 2)  # 0.5 d^2 below 1, d - 0.5
    with pytest.raises(ValueError, match="all equal"):
        TextTask("regression").fit(np.array([3.0, 3.0]), [])


def test_regression_metrics_are_on_the_label_scale():
    task = TextTask("regression").fit(np.array([0.0, 10.0]), [])  # mean 5, std 5
    outputs = torch.tensor([[0.2], [-0.4]])  # 6 and 3 on the label scale
    targets = torch.tensor(task.targets(np.array([7.0, 3.0])))
    by_name = {m.__name__: m(outputs, targets) for m in task.metrics()}
    assert by_name == pytest.approx({"mae": 0.5, "rmse": math.sqrt(0.5)})


def test_multilabel_uses_bce_on_every_label_and_scores_by_hand():
    task = TextTask("multilabel")
    logits = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 1.0, -0.2]])
    y = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    by_hand = F.binary_cross_entropy(torch.sigmoid(logits), y)
    assert task.loss_fn()(logits, y).item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert task.n_outputs(3) == 3
    # predicted (p > 0.5): row 0 {0, 2}, row 1 {1}; truth row 0 {0}, row 1 {1, 2}
    # tp 2, fp 1, fn 1: micro-F1 = 2 * 2 / (2 * 2 + 1 + 1); no row entirely right
    scores = task.score(task.activation(logits).numpy(), y.numpy())
    assert scores == pytest.approx({"micro_f1": 4 / 6, "subset_accuracy": 0.0})
    assert [m.__name__ for m in task.metrics()] == ["micro_f1", "subset_accuracy"]


def test_json_round_trip_and_old_configs_read_as_classification():
    tasks = [
        TextTask("regression", regression_loss="smooth_l1", mean=3.0, std=2.5),
        TextTask("multilabel", label_sep=";"),
        TextTask(class_weight=(0.5, 2.0)),
    ]
    for task in tasks:
        assert TextTask.from_json(task.to_json()) == task
    assert TextTask.from_json({"classes": ["neg", "pos"]}) == TextTask()
    with pytest.raises(ValueError, match="task must be one of"):
        TextTask.from_json({"task": "ranking"})
