"""predict_docs: batched longest-first, returned in the documents' order."""

import numpy as np
import torch

from tabtext.nlp import AWDLSTMConfig, TextClassifierModel
from tabtext.nlp.models.inference import predict_docs


def test_predict_docs_rows_follow_the_documents():
    torch.manual_seed(0)
    cfg = AWDLSTMConfig(vocab_size=40, emb_sz=8, n_hid=12, n_layers=2, pad_idx=1)
    model = TextClassifierModel(cfg, n_classes=3, bptt=8, max_len=24).eval()
    rng = np.random.default_rng(0)
    docs = [rng.integers(2, 40, n).astype(np.int32) for n in (5, 30, 2, 17, 9, 30, 1)]
    seen = []
    probs = predict_docs(model, docs, 3, None, device="cpu", progress=seen.append)
    assert probs.shape == (7, 3) and probs.dtype == np.float32
    assert np.allclose(probs.sum(1), 1, atol=1e-6)
    with torch.no_grad():
        one_by_one = [
            torch.softmax(model(torch.from_numpy(d).long()[None]), 1)[0].numpy()
            for d in docs
        ]
    assert np.allclose(probs, np.stack(one_by_one), atol=1e-5)
    assert sorted(seen, reverse=True) == [3, 3, 1] and sum(seen) == len(docs)
