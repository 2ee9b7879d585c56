"""Shared fixtures: every test starts from the same random state."""

import random

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 - legacy global state some libraries still read
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover - torch is a runtime dependency
        pass
    yield


# Doctests cannot carry a marker: these run a whole pipeline (several seconds each).
SLOW_DOCTESTS = ("cmcd.runs.pipeline", "cmcd.runs.executors")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)
