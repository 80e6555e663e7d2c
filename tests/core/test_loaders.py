"""The core's loaders: TensorLoader's shards, ParquetLoader's bounded shuffle buffer."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from tabtext.core import ParquetLoader
from tabtext.tabular import ParquetDataset


def _row_ids(frame, y):
    ids = torch.tensor(frame["id"].to_numpy())
    return [ids, ids.float()]


@pytest.fixture(scope="module")
def id_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("ids") / "ids.parquet"
    n = 1_000
    pd.DataFrame({"id": np.arange(n), "y": np.zeros(n)}).to_parquet(
        path, row_group_size=100
    )
    return ParquetDataset(path, "y", ["id"])


def test_loader_yields_every_row_once_per_epoch_in_bounded_memory(id_dataset):
    loader = ParquetLoader(
        id_dataset, id_dataset.row_groups, _row_ids, batch_size=32, batch_rows=40,
        shuffle=True, shuffle_rows=120, seed=0,
    )  # fmt: skip
    epochs = []
    for _ in range(2):
        batches = [x[0] for x, _ in loader]
        assert len(batches) == len(loader) == math.ceil(1_000 / 32)
        assert all(len(b) == 32 for b in batches[:-1])
        ids = torch.cat(batches)
        assert sorted(ids.tolist()) == list(range(1_000))
        epochs.append(ids)
    assert not torch.equal(epochs[0], epochs[1])  # reshuffled each epoch
    first = epochs[0][:32] // 100  # the row group of each row of the first batch
    assert len(set(first.tolist())) >= 2  # rows of several row groups are mixed
    # never more than shuffle_rows + batch_rows - 1 rows held, far below 1,000
    assert loader.max_rows_held <= 120 + 40 - 1
    assert id_dataset.max_frame_rows <= 40


def test_loader_drop_last_and_plain_order(id_dataset):
    loader = ParquetLoader(
        id_dataset, id_dataset.row_groups, _row_ids, batch_size=333, batch_rows=40,
        drop_last=True,
    )  # fmt: skip
    batches = [x[0] for x, _ in loader]
    assert len(batches) == len(loader) == 3  # 1,000 = 3 x 333 + 1 dropped
    assert torch.equal(torch.cat(batches), torch.arange(999))
