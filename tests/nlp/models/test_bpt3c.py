"""BPT3C: the document encoded chunk by chunk, gradients for its last tokens only."""

import pytest
import torch

from tabtext.nlp import AWDLSTM
from tabtext.nlp.models.bpt3c import SentenceEncoder

from .test_classifier import PAD, docs, tiny


@pytest.mark.parametrize("bidir", [False, True])
def test_bpt3c_output_equals_one_pass_over_the_whole_document(bidir):
    torch.manual_seed(0)
    enc = AWDLSTM(tiny(bidir=bidir)).eval()
    lengths = [30, 12, 25, 40]
    # bptt 8, max_len 16: grad part = last 16 tokens on each row's own 8-token grid
    keep = [14, 12, 9, 16]
    ids = docs(lengths)
    out, mask = SentenceEncoder(enc, bptt=8, max_len=16)(ids)
    assert out.shape == (4, 16, 8)
    assert (~mask).sum(1).tolist() == keep
    for i, (n, k) in enumerate(zip(lengths, keep, strict=True)):
        full, _ = enc.run(ids[i : i + 1, :n])  # one pass, no chunks
        if not bidir:  # a backward pass per chunk cannot match one whole pass
            assert torch.allclose(out[i, :k], full[0, -k:], atol=1e-5)
    everything, mask = SentenceEncoder(enc, bptt=8, max_len=None)(ids)
    assert everything.shape == (4, 40, 8)
    assert mask.sum(1).tolist() == [10, 28, 15, 0]


def test_bidirectional_single_chunk_is_blind_to_padding():
    torch.manual_seed(0)
    enc = AWDLSTM(tiny(bidir=True)).eval()
    ids = docs([10, 5, 7])
    out, mask = SentenceEncoder(enc, bptt=16, max_len=None)(ids)
    for i, n in enumerate([10, 5, 7]):
        alone, _ = enc.run(ids[i : i + 1, :n])  # the reverse pass starts at token n
        assert torch.allclose(out[i, :n], alone[0], atol=1e-5)


def test_bpt3c_no_gradient_before_the_kept_tokens():
    torch.manual_seed(0)
    enc = AWDLSTM(tiny(embed_p=0.0))
    early, late = torch.arange(2, 26), torch.arange(26, 50)  # disjoint words
    ids = torch.cat([early, late[:12]]).view(1, -1).repeat(2, 1)  # (2, 36)
    ids[1, 30:] = PAD  # row 1: 30 tokens, keeps its last 14: early[16:] + late[:6]
    out, mask = SentenceEncoder(enc, bptt=8, max_len=16)(ids)
    assert (~mask).sum(1).tolist() == [12, 14]
    out[~mask].sum().backward()
    grad = enc.embedding.weight.grad.abs().sum(1)  # (vocab,)
    assert (grad[late[:12]] > 0).all()
    assert (grad[early[16:]] > 0).all()  # in row 1's window
    assert (grad[early[:16]] == 0).all()  # only ever before the windows
    assert all(p.grad is not None for p in enc.rnns.parameters())


def test_bpt3c_rejects_max_len_below_bptt():
    with pytest.raises(ValueError, match="max_len >= bptt"):
        SentenceEncoder(AWDLSTM(tiny()), bptt=70, max_len=50)
