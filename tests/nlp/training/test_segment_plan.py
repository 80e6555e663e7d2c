"""The pretraining run's plan: the shortest of its limits, within its budget."""

from tabtext.nlp import Corpus, PretrainConfig
from tabtext.nlp.text.loaders import LMStream
from tabtext.nlp.training.segment_plan import make_plan

from .test_pretraining import _corpus


def test_plan_takes_the_shortest_limit_and_fits_the_budget():
    ids, offsets = _corpus(400)
    stream = LMStream(ids, offsets, batch_size=4, bptt=6, segment_batches=1)
    valid = Corpus(*_corpus(5))
    per_pass = stream.batches_per_pass(0)
    plan = make_plan(PretrainConfig(epochs=2, bs=4, bptt=6), stream, valid, 0.01)
    assert plan["batches"] == 2 * per_pass and plan["limited_by"] == "epochs"
    cfg = PretrainConfig(epochs=2, budget_min=0.05, ckpt_min=0.01, bs=4, bptt=6)
    plan = make_plan(cfg, stream, valid, 0.01)  # 3 s of training at 10 ms a batch
    assert plan["limited_by"] == "budget_min" and 250 <= plan["batches"] <= 300
    assert plan["segments"] * plan["segment_batches"] >= plan["batches"]
    assert plan["segment_batches"] <= 60  # about ckpt_min = 0.6 s each
    cfg = PretrainConfig(max_tokens=960, bs=4, bptt=6)
    plan = make_plan(cfg, stream, valid, 0.01)
    mean_batch = stream.tokens_before(per_pass) / per_pass  # ~4 rows x ~7 tokens
    assert plan["limited_by"] == "max_tokens"
    assert abs(plan["batches"] - 960 / mean_batch) <= 1
