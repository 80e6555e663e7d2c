"""Word attributions: integrated gradients on a model that learned a trigger word,
the token-to-word grouping, and the HTML page."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tabtext.nlp import (
    AWDLSTMConfig,
    TextClassifierModel,
    Tokenizer,
    Vocab,
    make_config,
)
from tabtext.nlp.api.attribution import class_logits, integrated_gradients
from tabtext.nlp.api.explanation import (
    STRUCTURAL,
    TextExplanation,
    explain_texts,
    word_spans,
)
from tabtext.nlp.api.html_report import explanations_html, write_html
from tabtext.nlp.api.persistence import TextModel
from tabtext.nlp.text.loaders import ClassifierLoader

FILLER = (
    "the a movie film plot actor story scene was is and it this of very long".split()
)
TRIGGER = "zebra"


def trigger_texts(n, seed):
    """Filler words; the label is 1 exactly when the text holds the trigger word."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(FILLER, rng.integers(6, 12)))
        if i % 2:
            words.insert(int(rng.integers(0, len(words) + 1)), TRIGGER)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(i % 2)
    return texts, np.array(labels)


def tiny_model(vocab_size, **kw):
    cfg = AWDLSTMConfig(
        vocab_size=vocab_size, emb_sz=16, n_hid=32, n_layers=2, input_p=0.0,
        embed_p=0.0, weight_p=0.0, hidden_p=0.0, output_p=0.0, **kw,
    )  # fmt: skip
    return TextClassifierModel(cfg, 2, bptt=8, max_len=64, ps=(0.0, 0.0))


@pytest.fixture(scope="module")
def trained():
    """A tiny classifier that learned "positive iff zebra appears" (a few seconds)."""
    texts, labels = trigger_texts(128, seed=0)
    tok = Tokenizer()
    toks = tok.tokenize(texts)
    vocab = Vocab.from_tokens(toks, min_freq=1)
    docs = [vocab.numericalize(t).astype(np.int64) for t in toks]
    torch.manual_seed(0)
    model = tiny_model(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    dl = ClassifierLoader(docs, labels, 16, shuffle=True, pad_idx=1, seed=0)
    model.train()
    for _ in range(8):
        for x, y in dl:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    cfg = make_config("quick", max_tokens=None)
    return TextModel(model, vocab, tok, cfg, ["neg", "pos"])


@pytest.fixture(scope="module")
def explained(trained):
    texts, labels = trigger_texts(40, seed=1)
    assert (trained.predict_proba(texts).argmax(1) == labels).mean() >= 0.95
    return explain_texts(trained, texts), labels


def test_the_trigger_word_dominates_the_attributions(explained):
    explanations, labels = explained
    positives = [ex for ex, y in zip(explanations, labels, strict=True) if y == 1]
    top = [max(zip(np.abs(ex.word_scores), ex.words))[1] for ex in positives]
    assert sum(TRIGGER in w.lower() for w in top) >= 0.9 * len(positives)
    called = [ex for ex in positives if ex.label == "pos"]
    assert len(called) >= 0.9 * len(positives)  # the fixture checks 95% of all rows
    for ex in called:
        assert ex.proba > 0.5
        trig = [
            s
            for w, s in zip(ex.words, ex.word_scores, strict=True)
            if TRIGGER in w.lower()
        ]
        assert trig and trig[0] > 0  # it pushes towards "pos"


def test_completeness_scores_add_up_to_the_output_change(explained):
    for ex in explained[0]:
        delta = ex.value - ex.baseline_value
        assert math.isclose(sum(ex.scores), delta + ex.gap, abs_tol=1e-6)
        assert abs(ex.gap) <= 0.05 * abs(delta) + 2e-3
        assert math.isclose(sum(ex.word_scores), sum(ex.scores), abs_tol=1e-6)
        assert ex.scores[ex.tokens.index("xxbos")] == 0.0  # kept in the baseline


def test_few_steps_integrate_worse_than_many(trained):
    texts, _ = trigger_texts(8, seed=2)
    coarse = explain_texts(trained, texts[1::2], n_steps=1)
    fine = explain_texts(trained, texts[1::2], n_steps=32)
    assert sum(abs(e.gap) for e in fine) < sum(abs(e.gap) for e in coarse) / 3


@pytest.mark.parametrize("bidir", [False, True])
def test_class_logits_from_embeddings_equal_the_model(bidir):
    torch.manual_seed(0)
    model = tiny_model(30, bidir=bidir).eval()  # max_len 64, bptt 8
    for n in (5, 40, 100):  # 100 > max_len: BPT3C skips whole lead chunks
        ids = torch.randint(2, 30, (1, n))
        emb = model.encoder.embedding(ids)
        got = class_logits(model, emb)
        assert torch.allclose(got, model(ids), atol=1e-5)
    x = model.encoder.embedding(torch.randint(2, 30, (1, 100))).detach()
    x.requires_grad_(True)
    class_logits(model, x)[0, 0].backward()
    assert x.grad[0, :8].abs().sum() > 0  # gradient reaches the skipped lead tokens


def test_truncation_and_direction_follow_prediction(trained):
    text = " ".join(["the movie"] * 10 + [TRIGGER] + ["a plot"] * 10)
    ids = torch.from_numpy(trained.numericalize([text])[0].astype(np.int64))
    n = len(ids)
    cut = TextModel(
        trained.model, trained.vocab, trained.tokenizer,
        make_config("quick", max_tokens=10, backwards=True), trained.classes,
    )  # fmt: skip
    (ex,) = explain_texts(cut, [text], n_steps=8)
    read = list(range(5)) + list(range(n - 5, n))
    assert [i for i, s in enumerate(ex.scores) if not math.isnan(s)] == read
    fixed = torch.zeros(10, dtype=torch.bool)
    fixed[-1] = True  # xxbos, read last backwards
    ref = integrated_gradients(trained.model, ids[read].flip(0), n_steps=8, fixed=fixed)
    assert np.allclose(np.array(ex.scores)[read], ref.scores[::-1], atol=1e-6)
    assert math.isnan(ex.word_scores[ex.words.index(TRIGGER)])  # in the cut middle
    assert ex.proba == pytest.approx(cut.predict_proba([text])[0].max(), abs=1e-5)


def test_unknown_word_baseline_and_log_odds(trained):
    texts, _ = trigger_texts(4, seed=3)
    for ex in explain_texts(trained, texts, baseline="unk", output="log_odds"):
        assert ex.baseline == "unk" and ex.output == "log_odds"
        p = ex.proba
        assert ex.value == pytest.approx(math.log(p / (1 - p)), rel=1e-3, abs=1e-3)
        assert abs(ex.gap) < 0.1  # log-odds units; the values are about +-5


def test_bad_arguments_are_refused(trained):
    ids = torch.tensor([2, 3])
    with pytest.raises(ValueError, match="n_steps"):
        integrated_gradients(trained.model, ids, n_steps=0)
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(trained.model, ids, baseline="mean")
    with pytest.raises(ValueError, match="token id"):
        integrated_gradients(trained.model, ids, baseline=10**6)
    with pytest.raises(ValueError, match="target"):
        integrated_gradients(trained.model, ids, target=5)
    with pytest.raises(TypeError, match="wrap it"):
        explain_texts(trained, "one text")


def test_words_fold_markers_and_keep_the_spelling():
    tok = Tokenizer()
    text = "Hello WORLD!!!! It's sooo good<br />and/or very very very &amp; (so)"
    (toks,) = tok.tokenize([text])
    spans = word_spans(text, toks)
    words = [w for w, _, _ in spans]
    assert words == [
        "Hello", "WORLD!!!!", "It's", "sooo", "good", "\n", "and/or",
        "very very very", "&", "(so)",
    ]  # fmt: skip
    assert toks[spans[1][1] : spans[1][2]] == ["xxup", "world", "xxrep", "4", "!"]
    assert toks[spans[7][1] : spans[7][2]] == ["xxwrep", "3", "very"]


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="aZ é!.'\n<>&;/#-0", max_size=40))
def test_words_cover_every_shown_token_once_in_order(text):
    (toks,) = Tokenizer().tokenize([text])
    spans = word_spans(text, toks)
    covered = [i for _, a, b in spans for i in range(a, b)]
    shown = [i for i, t in enumerate(toks) if t not in STRUCTURAL]
    assert covered == shown
    assert all(w for w, _, _ in spans)


def fake(words, scores, label="pos <b>"):
    spans = [(i, i + 1) for i in range(len(words))]
    return TextExplanation(
        " ".join(words), label, 0.9, list(words), list(scores), list(words),
        list(scores), spans, "proba", "zero", 0.9, 0.5, 0.0,
    )  # fmt: skip


def test_html_escapes_and_shows_one_span_per_word(tmp_path):
    words = ["<script>alert(1)</script>", "\n", 'say "hi"', "&amp;", "ok"]
    page = explanations_html([fake(words, [0.3, 0.0, -0.2, float("nan"), 0.1])])
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "pos &lt;b&gt;" in page and "&amp;amp;" in page
    assert "&quot;hi&quot;" in page
    spans = re.findall(r'<span class="w[^"]*"[^>]*>(.*?)</span>', page)
    assert len(spans) == 4  # every word but the line break
    assert page.count("<br>") == 1
    assert 'class="w unread"' in page  # the NaN word
    assert "http" not in page and "<script" not in page and "<link" not in page
    path = write_html([fake(["a"], [1.0])], tmp_path / "sub" / "why.html")
    assert path.read_text(encoding="utf-8") == explanations_html([fake(["a"], [1.0])])


def test_html_colours_follow_the_sign_on_each_text_s_scale():
    texts = [fake(["up", "down", "mid"], [0.4, -0.1, 0.1]), fake(["x"], [0.01])]
    page = explanations_html(texts)
    pattern = r"rgba\((\d+),(\d+),(\d+),([\d.]+)\)\" title=\"([+-][\d.]+)"
    shades = [
        (int(r), int(g), float(a), float(s))
        for r, g, _, a, s in re.findall(pattern, page)
    ]
    up, down, mid, x = shades
    assert up[1] > up[0] and down[0] > down[1]  # green for, red against
    assert up[2] == pytest.approx(0.75)  # the strongest word of its text
    assert mid[2] == pytest.approx(0.75 * 0.25, abs=1e-3)  # 0.1 / 0.4 of full colour
    assert x[2] == pytest.approx(0.75)  # another text, its own scale
    assert "full colour &plusmn;0.4<" in page and "full colour &plusmn;0.01<" in page
    with pytest.raises(ValueError, match="at least one"):
        explanations_html([])
