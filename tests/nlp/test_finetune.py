"""End-to-end ULMFiT on a tiny synthetic sentiment corpus (seconds, CPU)."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from sklearn.base import clone

from tabtext.nlp import TextClassifier, finetune, load_lm, predict, pretrain
from tabtext.nlp.models.lm_dir import pretrained_backwards, save_lm
from tabtext.nlp.text.tokenize import Tokenizer

from .conftest import TINY, make_texts


@pytest.fixture(scope="module")
def trained(data_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cache = tmp_path_factory.mktemp("cache")
    metrics = finetune.main(
        ["--data", str(data_file), "--out", str(out), "--cache-dir", str(cache), *TINY]
    )
    return out, metrics, cache


def test_finetune_learns_and_writes_its_outputs(trained):
    out, metrics, _ = trained
    assert metrics["valid_accuracy"] >= 0.8
    assert set(metrics["phases"]) == {"lm", "lm_ft", "clas_1", "clas_2", "clas_all"}
    assert all(p["tokens_per_s"] > 0 for p in metrics["phases"].values())
    for name in (
        "encoder.safetensors",
        "vocab.json",
        "config.json",
        "metrics.json",
        "log_clas_all.csv",
        "clas_loss.png",
        "clas_lr.png",
        "lm_loss.png",
        "model/model.safetensors",
        "model/config.json",
        "model/vocab.json",
    ):
        assert (out / name).exists(), name
    assert (
        json.loads((out / "metrics.json").read_text())["valid_accuracy"]
        == metrics["valid_accuracy"]
    )


def test_encoder_transferred_into_the_classifier(trained):
    out, _, _ = trained
    enc = load_file(out / "encoder.safetensors")
    clas = load_file(out / "model" / "model.safetensors")
    key = "embed.embedding.weight"
    assert key in enc and f"sentence_encoder.encoder.{key}" in clas
    assert enc[key].shape == clas[f"sentence_encoder.encoder.{key}"].shape


def test_predict_cli_scores_a_labeled_file(trained, data_file, tmp_path, capsys):
    out, metrics, _ = trained
    preds = tmp_path / "preds.csv"
    res = predict.main([str(out), str(data_file), "--out", str(preds), "--json"])
    assert 0.8 <= res["accuracy"] <= 1.0
    frame = pd.read_csv(preds)
    assert list(frame.columns) == ["predicted", "proba_neg", "proba_pos"]
    assert np.allclose(frame[["proba_neg", "proba_pos"]].sum(axis=1), 1, atol=1e-5)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 240


def test_predict_cli_explains_the_first_texts(trained, data_file, tmp_path, capsys):
    out, _, _ = trained
    page = tmp_path / "why.html"
    argv = [str(out), str(data_file), "--explain", str(page), "--explain-n", "3"]
    res = predict.main([*argv, "--explain-steps", "4", "--json"])
    html = page.read_text(encoding="utf-8")
    assert html.count('<section class="doc">') == 3
    assert res["explain_seconds_per_text"] > 0
    with pytest.raises(SystemExit):
        predict.main([*argv[:2], "--explain", str(page), "--explain-n", "0"])


def test_text_classifier_explain_names_its_labels(trained, tmp_path):
    clf = TextClassifier.load(trained[0])
    texts = ["Great wonderful superb movie.", "Awful terrible boring film."]
    ex = clf.explain(texts, tmp_path / "why.html", n_steps=8)
    assert [e.label for e in ex] == list(clf.predict(texts))
    assert np.allclose([e.proba for e in ex], clf.predict_proba(texts).max(1))
    sentiment = [max(zip(e.word_scores, e.words))[1] for e in ex]
    assert sentiment[0].lower() in {"great", "wonderful", "superb"}
    assert sentiment[1].lower() in {"awful", "terrible", "boring"}
    assert (tmp_path / "why.html").stat().st_size > 0


def test_text_classifier_load_predict_save(trained, tmp_path):
    out, _, _ = trained
    clf = TextClassifier.load(out)
    texts = ["Great wonderful superb movie.", "Awful terrible boring film."]
    assert list(clf.predict(texts)) == ["pos", "neg"]
    clf.save(tmp_path / "m")
    again = TextClassifier.load(tmp_path / "m")
    assert np.array_equal(again.predict_proba(texts), clf.predict_proba(texts))
    with pytest.raises(TypeError, match="single str"):
        clf.predict("one text")


def test_text_classifier_fit_and_clone(tmp_path):
    texts, labels = make_texts(120, seed=1)
    over = dict(
        clas_min_steps=0,
        emb_sz=16,
        n_hid=24,
        n_layers=2,
        bptt=12,
        lm_bs=8,
        clas_bs=16,
        max_vocab=200,
        min_freq=1,
        lm_docs="all",
        clas_docs="all",
        max_tokens="all",
        lm_epochs=1,
        lm_ft_epochs=0,
        unfreeze=(1,),
        clas_epochs=1,
        clas_drop_mult=0.0,
    )
    clf = TextClassifier(
        "quick", overrides=over, pretrained=None, work_dir=str(tmp_path)
    )
    assert clone(clf).get_params() == clf.get_params()
    clf.fit(texts, labels)
    assert set(clf.classes_) == {"neg", "pos"}
    assert clf.predict_proba(texts[:3]).shape == (3, 2)
    with pytest.raises(ValueError, match="2 classes"):
        TextClassifier(overrides=over, pretrained=None).fit(texts[:4], ["a"] * 4)


def test_resume_after_interruption_ends_like_an_uninterrupted_run(
    data_file, tmp_path, trained, monkeypatch
):
    from tabtext.nlp.training import phase_plan

    ref_out, ref_metrics, cache = trained
    real = phase_plan.run_phase

    def crash_in_clas_2(learn, phase, *args, **kwargs):
        if phase.name == "clas_2":
            raise KeyboardInterrupt  # as if killed after clas_1 was checkpointed
        return real(learn, phase, *args, **kwargs)

    out = tmp_path / "run"
    args = [
        "--data",
        str(data_file),
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
        *TINY,
    ]
    monkeypatch.setattr(phase_plan, "run_phase", crash_in_clas_2)
    with pytest.raises(KeyboardInterrupt):
        finetune.main(args)
    monkeypatch.setattr(phase_plan, "run_phase", real)
    metrics = finetune.main([*args, "--resume"])
    a = load_file(ref_out / "model" / "model.safetensors")
    b = load_file(out / "model" / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert metrics["valid_accuracy"] == ref_metrics["valid_accuracy"]


def test_bf16_on_a_cpu_without_it_fails_before_any_work(monkeypatch, capsys):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    with pytest.raises(SystemExit):
        finetune.main(["--precision", "bf16", "--device", "cpu"])
    assert "use --precision fp32 or auto" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--bptt", "0"], "bptt"),
        (["--valid-pct", "2"], "valid_pct"),
        (["--lm-docs", "many"], "integer or 'all'"),
        (["--pretrained", "/nonexistent"], "no such directory"),
        (["--pretrained", "no_such_lm"], "not a shipped model"),
        (["--unlabeled", "/nonexistent.parquet"], "no such file"),
        (["--max-len", "64"], "max_len (64) must be >= bptt (70)"),
        (["--clas-drop-mult", "5"], "the classifier model cannot be built"),
        (["--lm-drop-mult", "5"], "the lm model cannot be built"),
        (["--clas-final-lr", "0"], "clas_final_lr must be > 0"),
        (["--quiet", "--verbose"], "not allowed with"),
        (["--device", "tpu"], "tpu"),
    ],
)
def test_bad_flags_fail_before_any_work(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        finetune.main(flags)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err


def test_pretrain_then_finetune_from_it(data_file, tmp_path, trained):
    _, _, cache = trained
    lm_out = tmp_path / "lm"
    sizes = ["--emb-sz", "16", "--n-hid", "24", "--n-layers", "2"]
    metrics = pretrain.main(
        [
            "--data",
            str(data_file),
            "--out",
            str(lm_out),
            "--epochs",
            "1",
            "--bs",
            "8",
            "--bptt",
            "12",
            "--min-freq",
            "1",
            "--valid-pct",
            "0.1",
            "--cache-dir",
            str(cache),
            *sizes,
        ]
    )
    assert metrics["segments"][0]["valid_perplexity"] > 1
    assert metrics["valid_perplexity"] > 1
    assert (lm_out / "model" / "model.safetensors").exists()
    assert (lm_out / "log_lm.csv").exists() and (lm_out / "lm_lr.png").exists()
    flags = [a for a in TINY if a != "--no-pretrained"]
    out = tmp_path / "clf"
    res = finetune.main(
        ["--data", str(data_file), "--out", str(out), "--cache-dir", str(cache)]
        + flags
        + ["--pretrained", str(lm_out)]
    )
    assert res["pretrained"] == str(lm_out)
    assert "lm" not in res["phases"] and "lm_ft" in res["phases"]
    assert res["valid_accuracy"] >= 0.7


def test_pretrained_sizes_must_fit(data_file, tmp_path, trained, capsys):
    _, _, cache = trained
    lm_out = tmp_path / "lm"
    pretrain.main(
        ["--data", str(data_file), "--out", str(lm_out), "--max-tokens", "300"]
        + ["--bs", "4", "--bptt", "8", "--min-freq", "1", "--valid-pct", "0.1"]
        + ["--emb-sz", "8", "--n-hid", "8", "--cache-dir", str(cache)]
    )
    with pytest.raises(SystemExit):
        finetune.main(["--pretrained", str(lm_out), "--emb-sz", "16"])
    err = capsys.readouterr().err
    assert (
        "emb_sz=16 does not fit the pretrained LM" in err and "--no-pretrained" in err
    )


def test_unlabeled_texts_feed_the_lm_only_and_never_validation_texts(
    data_file, tmp_path, trained
):
    _, ref, cache = trained
    texts, _ = make_texts()
    extra, _ = make_texts(60, seed=5)  # new unlabeled texts
    unlabeled = tmp_path / "unsup.parquet"
    pd.DataFrame({"text": texts + extra}).to_parquet(unlabeled)  # validation ones too
    metrics = finetune.main(
        ["--data", str(data_file), "--out", str(tmp_path / "run")]
        + ["--cache-dir", str(cache), "--unlabeled", str(unlabeled), *TINY]
    )
    # every text of the file but the validation ones reaches the LM stages
    assert metrics["n_unlabeled"] == len(texts) + len(extra) - ref["n_valid"]
    assert metrics["n_train"] == ref["n_train"]  # the classifier's texts are the same
    lm_tokens = metrics["phases"]["lm"]["train_tokens"]
    assert lm_tokens > 1.8 * ref["phases"]["lm"]["train_tokens"]


def test_finetuned_lm_is_written_and_serves_another_classifier(
    data_file, tmp_path, trained
):
    out, ref, cache = trained
    lm, vocab = load_lm(out / "lm")  # a full LM directory, like pretrain's
    assert len(vocab) == ref["vocab_size"]
    encoder = load_file(out / "encoder.safetensors")
    lm_state = lm.encoder.state_dict()
    assert all(torch.equal(encoder[k], lm_state[k]) for k in encoder)
    flags = [a for a in TINY if a != "--no-pretrained"]
    second = tmp_path / "second"
    metrics = finetune.main(
        ["--data", str(data_file), "--out", str(second), "--cache-dir", str(cache)]
        + flags
        + ["--pretrained", str(out / "lm"), "--lm-ft-epochs", "0", "--max-labels", "40"]
    )
    assert metrics["phases"].keys().isdisjoint({"lm", "lm_ft"})  # no LM training
    assert not (second / "lm").exists()  # nothing new to write
    again = load_file(second / "encoder.safetensors")
    assert all(torch.equal(again[k], encoder[k]) for k in encoder)


def test_an_lm_reading_the_other_way_is_said(data_file, tmp_path, trained, caplog):
    out, _, cache = trained
    assert not pretrained_backwards(out / "lm")  # written as it was trained
    lm, vocab = load_lm(out / "lm")
    save_lm(lm, vocab, Tokenizer(), tmp_path / "bwd_lm", backwards=True)
    assert pretrained_backwards(tmp_path / "bwd_lm")
    flags = [a for a in TINY if a != "--no-pretrained"]
    flags += ["--lm-ft-epochs", "0", "--max-labels", "40", "--cache-dir", str(cache)]
    data = ["--data", str(data_file)]
    with caplog.at_level(logging.INFO, logger="tabtext.nlp.training.ulmfit"):
        finetune.main(
            data
            + flags
            + ["--out", str(tmp_path / "a"), "--pretrained", str(out / "lm")]
        )
        assert "model starts from" not in caplog.text  # same direction: nothing
        finetune.main(
            data + flags
            + ["--out", str(tmp_path / "b"), "--pretrained", str(tmp_path / "bwd_lm")]
        )  # fmt: skip
    said = [r for r in caplog.records if "reversed text" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING


def test_self_training_adds_the_surest_pseudo_labels_and_trains_again(
    data_file, tmp_path, trained
):
    out, ref, cache = trained
    flags = [a for a in TINY if a != "--no-pretrained"]
    metrics = finetune.main(
        ["--data", str(data_file), "--out", str(tmp_path / "st"), "--cache-dir"]
        + [str(cache), *flags, "--pretrained", str(out / "lm"), "--lm-ft-epochs", "0"]
        + ["--max-labels", "40", "--self-train", "30", "--self-train-pool", "120"]
        + ["--self-train-rounds", "2"]
        + ["--clas-min-steps", "30"]  # after TINY's 0: 40 labels train long enough
    )
    first, second = metrics["self_train"]
    assert first["pool"] == 120 and first["per_class"] == [30, 30]
    # the pool holds training texts only here: their unused labels score the guesses
    assert first["accuracy_where_known"] >= 0.9
    assert second["round"] == 2 and second["per_class"] == [30, 30]
    assert {"clas_all", "st1_clas_all", "st2_clas_all"} <= set(metrics["phases"])
    assert (tmp_path / "st" / "st2_clas_loss.png").exists()
    assert metrics["valid_accuracy"] >= 0.8


def test_pseudo_labels_skip_labeled_rows_and_take_the_most_confident():
    from tabtext.nlp.text.corpus import Corpus
    from tabtext.nlp.text.splits import Split
    from tabtext.nlp.training.config import make_config
    from tabtext.nlp.training.sampling import classifier_rows
    from tabtext.nlp.training.self_training import pseudo_labels

    class Teacher(torch.nn.Module):  # P(class 1) = the document's first token / 100
        config = type("C", (), {"pad_idx": 0})

        def forward(self, ids):
            p = ids[:, 0].float() / 100
            return torch.stack([1 - p, p], 1).log()

    docs = [np.array([k, 5]) for k in range(1, 100)]
    corpus = Corpus(
        np.concatenate(docs), np.arange(0, 2 * len(docs) + 1, 2), vocab=None
    )
    labels = np.arange(1, 100) % 2
    split = Split([str(k) for k in range(99)], labels, [], labels[:0], ["a", "b"])
    cfg = make_config("quick", max_labels=10, self_train=5, self_train_pool=1000)
    rows, classes, found = pseudo_labels(cfg, corpus, split, Teacher(), "cpu")
    metrics = {"self_train": [found]}
    assert not np.isin(rows, classifier_rows(cfg, split, "classification")).any()
    free = np.setdiff1d(np.arange(99), classifier_rows(cfg, split, "classification"))
    assert list(rows[:5]) == list(free[:5]) and (classes[:5] == 0).all()  # surest 0s
    assert list(rows[5:]) == list(free[::-1][:5]) and (classes[5:] == 1).all()
    assert metrics["self_train"][0]["per_class"] == [5, 5]


def test_self_training_without_texts_to_pseudo_label_is_refused_up_front():
    from tabtext.nlp.text.reading import TextDataset
    from tabtext.nlp.training.config import make_config
    from tabtext.nlp.training.ulmfit import plan_task

    texts = [f"text {i}" for i in range(40)]
    train = TextDataset(texts, np.arange(40) % 2, ["a", "b"], "t.csv")
    valid = TextDataset(texts[:4], np.arange(4) % 2, ["a", "b"], "v.csv")
    st = dict(self_train=5, self_train_pool=100)
    for cfg in (make_config("quick", **st), make_config("quick", max_labels=40, **st)):
        with pytest.raises(ValueError, match="learns from all 40 training texts"):
            plan_task(train, valid, cfg)
        plan_task(train, valid, cfg, n_unlabeled=10)  # unlabeled texts: fine
    plan_task(train, valid, make_config("quick", max_labels=10, **st))
    regression = TextDataset(texts, np.arange(40.0), [], "t.csv", task="regression")
    with pytest.raises(ValueError, match="the task here is regression"):
        plan_task(regression, None, make_config("quick", max_labels=10, **st))
