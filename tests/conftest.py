"""Shared test setup: the `slow` and `gpu` markers and small deterministic helpers."""

import pytest
import torch


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests on real data")


def pytest_collection_modifyitems(config, items):
    skip_slow = pytest.mark.skip(reason="real-data test: pass --runslow")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


# Tests use tiny models: one thread avoids oversubscription on 2 cores, and the same
# thread count everywhere keeps float results comparable between fixtures and tests.
torch.set_num_threads(1)
