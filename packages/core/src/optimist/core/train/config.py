"""Training settings, with defaults per dataset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from optimist.core.attacks import Threat, as_threat
from optimist.core.errors import InputError

METHODS = ("standard", "pgd", "trades", "fast")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "cyclic", "constant")

# Usual budgets per dataset (pixel space [0, 1]).
DEFAULT_THREATS = {
    "fashion-mnist": "linf:0.1",
    "mnist": "linf:0.3",
    "digits": "linf:0.1",
    "cifar10": "linf:0.0313725",
    "imagefolder": "l2:3.0",
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (and must match when it is resumed)."""

    method: str = "standard"
    threat: str | None = None
    epochs: int = 5
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    attack_steps: int = 7
    attack_step_size: float | None = None
    trades_beta: float = 6.0
    fast_alpha: float = 1.25
    guard_size: int = 512
    guard_every: int = 50
    guard_drop: float = 0.2
    holdout: int = 0  # training images kept out of training; each epoch's record measures them (learning curve)
    augment: bool = False  # random horizontal flips and shifts of up to 2 pixels (zero fill) of each batch

    def __post_init__(self):
        if self.method not in METHODS:
            raise InputError(f"unknown training method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.method != "standard":
            if self.threat is None:
                raise InputError(f"method {self.method!r} needs a threat, e.g. threat='linf:0.1'")
            object.__setattr__(self, "threat", str(as_threat(self.threat)))
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise InputError("epochs and batch_size must be >= 1 and lr > 0")
        if self.holdout < 0:
            raise InputError(f"holdout must be >= 0 (training images kept out for the learning curve), "
                             f"got {self.holdout}")

    @property
    def threat_obj(self) -> Threat | None:
        return None if self.threat is None else as_threat(self.threat)

    def step_size(self) -> float:
        """Attack step: given, or 2.5 * eps / steps (PGD/TRADES) or fast_alpha * eps (fast AT)."""
        t = self.threat_obj
        if self.attack_step_size is not None:
            return self.attack_step_size
        if self.method == "fast":
            return self.fast_alpha * t.eps
        return t.default_step_size(self.attack_steps)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def with_(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


def default_config(dataset: str, method: str = "standard", threat: str | None = None, **overrides) -> TrainConfig:
    """Sensible defaults: the dataset's usual budget and, for fast AT, a cyclic schedule."""
    if method != "standard" and threat is None:
        threat = DEFAULT_THREATS.get(dataset.split(":")[0], "linf:0.1")
    base = {"method": method, "threat": threat}
    if method == "fast":
        base.update(schedule="cyclic", optimizer="sgd", lr=0.1, weight_decay=5e-4)
    if method == "trades":
        base.update(trades_beta=1.0 if dataset in ("mnist", "fashion-mnist") else 6.0)
    base.update(overrides)
    return TrainConfig(**base)
