"""Robust training: standard, PGD-AT, TRADES and fast AT, with atomic checkpoints and exact resume."""

from optimist.core.train.config import DEFAULT_THREATS, METHODS, TrainConfig, default_config
from optimist.core.train.loop import TrainResult, train

__all__ = ["DEFAULT_THREATS", "METHODS", "TrainConfig", "TrainResult", "default_config", "train"]
