"""How many threads torch gets: the flag, the environment, a load-aware share of the cores."""

from __future__ import annotations

import os

import pytest
import torch

from optimist.core.errors import InputError
from optimist.core.threads import configure_threads, default_threads, usable_cores


@pytest.fixture(autouse=True)
def _keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_torchrun_processes_share_the_cores(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert default_threads() == usable_cores()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert default_threads() == max(1, usable_cores() // 2)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(4 * usable_cores()))
    assert default_threads() == 1


def test_busy_cores_are_left_out(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (float(usable_cores()) + 3, 0.0, 0.0))
    assert default_threads() == 1


def test_the_flag_beats_the_environment_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("OPTIMIST_THREADS", "1")
    assert configure_threads() == 1 == torch.get_num_threads()
    assert configure_threads(2) == 2 == torch.get_num_threads()
    monkeypatch.setenv("OPTIMIST_THREADS", "two")
    with pytest.raises(InputError, match="OPTIMIST_THREADS must be a positive integer"):
        configure_threads()
    with pytest.raises(InputError, match="--threads must be >= 1"):
        configure_threads(0)
