import numpy as np
import pytest
import torch

from tabtext.nlp import ClassifierLoader, LMLoader


def corpus(n_docs=20, seed=0):
    rng = np.random.default_rng(seed)
    docs = [
        rng.integers(2, 50, rng.integers(3, 30)).astype(np.int32) for _ in range(n_docs)
    ]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    return docs, np.concatenate(docs), offsets


def test_lm_batches_are_one_contiguous_stream_per_row():
    docs, ids, offsets = corpus()
    dl = LMLoader(
        ids, offsets, batch_size=4, bptt=8, shuffle=False, variable_bptt=False
    )
    xs, ys = zip(*list(dl))
    x, y = torch.cat(xs, 1), torch.cat(ys, 1)
    assert all(b.shape == (4, 8) for b in xs[:-1])
    assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one, across batches too
    row_len = len(ids) // 4
    stream = torch.from_numpy(ids[: 4 * row_len].astype(np.int64)).view(4, -1)
    assert torch.equal(x, stream[:, : x.size(1)])


def test_lm_shuffles_documents_per_epoch_and_is_seeded():
    _, ids, offsets = corpus()
    a = LMLoader(ids, offsets, batch_size=2, bptt=8, seed=1)
    first = torch.cat([x for x, _ in a], 1)
    second = torch.cat([x for x, _ in a], 1)
    assert not torch.equal(first, second)
    b = LMLoader(ids, offsets, batch_size=2, bptt=8, seed=1)
    assert torch.equal(first, torch.cat([x for x, _ in b], 1))
    # the stream is a permutation of whole documents, cut to batch_size x row_len
    counts = np.bincount(ids, minlength=50)
    assert (np.bincount(first.flatten().numpy(), minlength=50) <= counts).all()


def test_variable_bptt_lengths_follow_merity():
    _, ids, offsets = corpus(400)
    dl = LMLoader(ids, offsets, batch_size=2, bptt=20, seed=0)
    lens = [x.shape[1] for x, _ in dl][:-1]
    assert min(lens) >= 5 and 12 < np.mean(lens) < 22
    assert any(l_ < 15 for l_ in lens)  # some windows come from the bptt/2 branch


def test_lm_state_dict_reproduces_the_next_epoch():
    _, ids, offsets = corpus()
    dl = LMLoader(ids, offsets, batch_size=2, bptt=8, seed=3)
    list(dl)
    state = dl.state_dict()
    nxt = torch.cat([x for x, _ in dl], 1)
    dl.load_state_dict(state)
    assert torch.equal(nxt, torch.cat([x for x, _ in dl], 1))


def test_lm_ranks_take_disjoint_contiguous_slices():
    _, ids, offsets = corpus(60)
    parts = [
        torch.cat(
            [
                x
                for x, _ in LMLoader(
                    ids,
                    offsets,
                    2,
                    8,
                    shuffle=False,
                    variable_bptt=False,
                    rank=r,
                    world_size=2,
                )
            ],
            1,
        )
        for r in (0, 1)
    ]
    row_len = len(ids) // 2 // 2
    assert torch.equal(
        parts[0].flatten()[:5], torch.from_numpy(ids[:5].astype(np.int64))
    )
    assert parts[1][0, 0].item() == ids[2 * row_len]


def test_lm_backwards_reverses_the_stream():
    _, ids, offsets = corpus()
    fwd = LMLoader(ids, offsets, 1, 8, shuffle=False, variable_bptt=False)
    bwd = LMLoader(
        ids, offsets, 1, 8, shuffle=False, variable_bptt=False, backwards=True
    )
    assert np.array_equal(bwd._stream(), fwd._stream()[::-1])


def test_lm_too_little_text_is_a_clear_error():
    with pytest.raises(ValueError, match="too few"):
        LMLoader(np.arange(5), np.array([0, 5]), batch_size=4, bptt=8)


def test_classifier_batches_pad_right_and_cover_every_doc():
    docs, _, _ = corpus(50)
    labels = np.arange(50) % 2
    dl = ClassifierLoader(docs, labels, batch_size=8, shuffle=True, pad_idx=1, seed=0)
    seen = []
    for x, y in dl:
        lens = (x != 1).sum(1)
        assert (x[:, : lens.min()] != 1).all()
        for row, lab in zip(x, y):
            n = int((row != 1).sum())
            match = [
                i
                for i, d in enumerate(docs)
                if len(d) == n and np.array_equal(d, row[:n].numpy())
            ]
            assert match and labels[match[0]] == lab
            seen.append(match[0])
    assert sorted(seen) == list(range(50))
    first = next(iter(dl))[0]
    assert first.shape[1] == max(len(d) for d in docs)  # the longest batch comes first


def test_classifier_sortish_keeps_padding_low():
    rng = np.random.default_rng(0)
    docs = [np.full(rng.integers(1, 400), 5) for _ in range(1000)]
    dl = ClassifierLoader(docs, np.zeros(1000), batch_size=10, shuffle=True)
    padded = sum(x.numel() for x, _ in dl)
    assert padded < 1.3 * sum(len(d) for d in docs)


def test_classifier_truncation_and_unlabeled():
    docs = [np.arange(2, 100), np.arange(2, 10)]
    dl = ClassifierLoader(docs, None, batch_size=2, max_tokens=20)
    (x,) = list(dl)
    assert x.shape == (2, 20) and x[0, 0] == 2
    # the opening and the end of a long document are kept
    assert x[0, :10].tolist() == list(range(2, 12)) and x[0, 10:].tolist() == list(
        range(90, 100)
    )


def test_classifier_min_batches_repeats_small_sets_with_fresh_shuffles():
    docs = [np.arange(n) + 2 for n in range(1, 11)]  # 10 docs
    labels = np.arange(10) % 2
    dl = ClassifierLoader(docs, labels, 4, shuffle=True, min_batches=7, seed=0)
    batches = list(dl)
    assert len(dl) == len(batches) == 9  # 3 passes of 3 batches
    seen = [tuple((x != 1).sum(1).tolist()) for x, _ in batches]  # doc lengths
    assert sorted(n for s in seen[:3] for n in s) == list(range(1, 11))
    assert sum(len(s) for s in seen) == 30  # every document once per pass
    eval_dl = ClassifierLoader(docs, labels, 4, shuffle=False, min_batches=7)
    assert len(eval_dl) == len(list(eval_dl)) == 3  # evaluation passes once
    big = ClassifierLoader(
        docs * 10, np.tile(labels, 10), 4, shuffle=True, min_batches=7
    )
    assert len(big) == 25  # already more than 7 batches: one pass
