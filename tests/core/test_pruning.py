"""OptunaPruning on the core's Learner: reports each epoch, stops a pruned trial."""

import pytest

from tabtext.core import EarlyStopping, OptunaPruning, rmse

from .conftest import make_learner

optuna = pytest.importorskip("optuna")


def _study(upper: float):
    """A study whose pruner prunes any trial reporting a value above ``upper``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=upper))


def _objective(learns: list, epochs: int = 3, monitor="valid_loss", extra=()):
    def objective(trial):
        learn = make_learner(metrics=[rmse])
        learns.append(learn)
        with learn.added_cbs([OptunaPruning(trial, monitor), *extra]):
            learn.fit_one_cycle(epochs, 1e-2)
        return float(learn.history[monitor].min())

    return objective


def test_every_epoch_is_reported_and_the_trial_completes():
    learns, study = [], _study(upper=1e9)
    study.optimize(_objective(learns, monitor="rmse"), n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    hist = learns[0].history
    assert trial.intermediate_values == dict(enumerate(hist["rmse"].tolist()))


def test_a_pruned_trial_stops_cleanly_then_raises_trial_pruned():
    learns, study = [], _study(upper=0.0)  # every loss is above 0: pruned at once
    study.optimize(_objective(learns), n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    learn = learns[0]
    assert len(learn.history) == 1  # the fit stopped after its first epoch
    assert not learn.training  # after_fit ran: the learner is left as after any fit
    assert list(trial.intermediate_values) == [0]


def test_another_stop_does_not_prune():
    learns, study = [], _study(upper=1e9)
    stop = EarlyStopping(patience=1, min_delta=1e9)  # stops after the 2nd epoch
    study.optimize(_objective(learns, epochs=5, extra=[stop]), n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert len(learns[0].history) == 2


def test_steps_keep_counting_over_several_fits():
    study = _study(upper=1e9)
    trial = study.ask()
    learn = make_learner()
    cb = OptunaPruning(trial)
    learn.add_cbs([cb])
    learn.fit_one_cycle(2, 1e-2)
    learn.fit_one_cycle(1, 1e-3)
    study.tell(trial, 0.0)
    assert sorted(study.trials[0].intermediate_values) == [0, 1, 2]


def test_unknown_monitor_names_the_results():
    study = _study(upper=1e9)
    learn = make_learner()
    learn.add_cbs([OptunaPruning(study.ask(), "auc")])
    with pytest.raises(ValueError, match="'auc' is not among the epoch results"):
        learn.fit_one_cycle(1, 1e-2)
