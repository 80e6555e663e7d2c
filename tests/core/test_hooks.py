from tabtext.core import EVENTS, Callback, CancelBatch, Order

from .conftest import make_learner


class Log(Callback):
    def __init__(self, name, order, log):
        self.name, self.order, self.log = name, order, log

    def before_fit(self, learn):
        self.log.append(self.name)


def test_events_are_the_declared_hooks_in_calling_order():
    assert EVENTS[0] == "before_fit" and EVENTS[-1] == "after_fit"
    assert len(EVENTS) == 18 and all(callable(getattr(Callback, e)) for e in EVENTS)
    assert EVENTS.index("after_pred") < EVENTS.index("after_loss")


def test_hooks_run_by_order_and_removed_cbs_restores_the_list():
    learn, log = make_learner(), []
    late, early = Log("late", Order.CHECKPOINT, log), Log("early", Order.NAN_GUARD, log)
    learn.add_cbs([late, early])
    learn("before_fit")
    assert log == ["early", "late"]
    before = list(learn.callbacks)
    with learn.removed_cbs([early]):
        assert early not in learn.callbacks
        log.clear()
        learn("before_fit")
        assert log == ["late"]
    assert learn.callbacks == before


def test_loop_state_exists_before_the_first_fit():
    learn = make_learner()
    assert (learn.xb, learn.yb, learn.pred, learn.loss) == (None, None, None, None)
    assert (learn.epoch, learn.iter, learn.n_batches, learn.training) == (
        0,
        0,
        0,
        False,
    )
    assert issubclass(CancelBatch, Exception)
