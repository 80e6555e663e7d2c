import numpy as np
import pandas as pd
import pytest

from tabtext.tabular import EmbeddingClassifier, EmbeddingRegressor, ParquetDataset
from tabtext.tabular.holdout import split_row_groups, split_rows


def test_split_rows_stratifies_and_takes_eval_set():
    frame = pd.DataFrame({"a": np.arange(40)})
    y = np.array(["p"] * 30 + ["q"] * 10)
    est = EmbeddingClassifier(validation_fraction=0.25, random_state=0)
    est.task_ = "classification"
    ft, yt, _, (fv, yv, _) = split_rows(est, frame, y, None, None)
    assert len(fv) == 10 and yv.tolist().count("q") in (2, 3)  # stratified
    assert set(ft["a"]) | set(fv["a"]) == set(range(40))
    # an eval_set is checked like X at predict time
    est.n_features_in_, est.feature_names_in_ = 1, np.array(["a"], dtype=object)
    est.input_columns_ = ["a"]
    _, _, _, (fv, yv, _) = split_rows(est, frame, y, None, (frame[:3], y[:3]))
    assert len(fv) == 3 and list(yv) == ["p"] * 3


def test_split_row_groups_holds_out_whole_groups(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": np.arange(100), "y": np.zeros(100)}).to_parquet(
        path, row_group_size=10
    )
    data = ParquetDataset(path, "y", ["a"])
    est = EmbeddingRegressor(validation_fraction=0.3)
    train, (ds, held) = split_row_groups(est, data, None, seed=0)
    assert ds is data and len(held) == 3 and len(train) == 7
    assert set(train).isdisjoint(held)
    assert split_row_groups(est, data, None, seed=0)[0] == train  # seeded
    one = tmp_path / "one.parquet"
    pd.DataFrame({"a": [1, 2], "y": [0.0, 1.0]}).to_parquet(one)
    with pytest.raises(ValueError, match="has only 1; write it with smaller"):
        split_row_groups(est, ParquetDataset(one, "y", ["a"]), None, seed=0)
