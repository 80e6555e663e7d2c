"""min_freq: rare categories share code 0 with missing and unseen values."""

import numpy as np
import pandas as pd
import pytest

from tabtext.tabular import EmbeddingClassifier, TabularPreprocessor
from tabtext.tabular.streaming_stats import PreprocessorStats


def frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    common = rng.choice(["a", "b", "c"], n).astype(object)
    common[:4] = ["r1", "r2", "r2", "r3"]  # seen once, twice, once
    return pd.DataFrame({"shop": common, "x": rng.normal(size=n)})


def test_rare_categories_are_coded_like_unseen_ones():
    X = frame()
    pre = TabularPreprocessor(min_freq=3).fit(X)
    assert list(pre.categorify_.categories_["shop"]) == ["a", "b", "c"]
    cats, _ = pre.transform(pd.DataFrame({"shop": ["r1", "r2", "zz", None, "a"],
                                          "x": [0.0] * 5}))  # fmt: skip
    assert cats[:, 0].tolist() == [0, 0, 0, 0, 1]
    kept = TabularPreprocessor().fit(X)
    assert len(kept.categorify_.categories_["shop"]) == 6
    with pytest.raises(ValueError, match="min_freq"):
        TabularPreprocessor(min_freq=0).fit(X)


def test_streamed_min_freq_equals_in_memory():
    X = frame()
    stats = PreprocessorStats(X.iloc[:0], min_freq=3, seed=0)
    for start in range(0, len(X), 50):
        stats.add(X.iloc[start : start + 50])
    streamed, memory = stats.finish(), TabularPreprocessor(min_freq=3).fit(X)
    np.testing.assert_array_equal(streamed.transform(X)[0], memory.transform(X)[0])


def test_estimator_trains_the_unknown_row_on_rare_categories():
    X = frame()
    X.loc[4:39, "shop"] = [f"once{i}" for i in range(36)]  # 40 rows of rare shops
    y = (X["x"] > 0).to_numpy() ^ X["shop"].isin(["a"]).to_numpy()

    def unknown_row_share(est):
        """|row 0| relative to the mean norm of the trained rows."""
        rows = np.linalg.norm(est.embeddings_["shop"].to_numpy(), axis=1)
        return rows[0] / rows[1:4].mean()

    est = EmbeddingClassifier(min_freq=3, epochs=3, batch_size=32, random_state=0)
    est.fit(X, y)
    assert est.embeddings_["shop"].index.tolist() == ["#na#", "a", "b", "c"]
    plain = EmbeddingClassifier(min_freq=1, epochs=3, batch_size=32, random_state=0)
    plain.fit(X, y)
    # without min_freq, row 0 is never looked up in training: it stays near its init
    assert unknown_row_share(plain) < 0.3 < unknown_row_share(est)
