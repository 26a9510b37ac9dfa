"""Transfer tests run torch single-threaded: their batches are tiny, and on a busy machine two spinning
threads cost ten times the work. The previous setting is restored after each test."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
