"""check_application: the documented third-party example passes it, and three broken toy applications fail it,
each on the rule it breaks."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from optimist.core.application import Result
from optimist.core.errors import ContractError
from optimist.core.testing import check_application

DESIGN = Path(__file__).resolve().parents[2] / "docs" / "design.md"


def _example() -> dict:
    """The code blocks of docs/design.md's "Adding an application" section, run as written."""
    blocks = re.findall(r"```python\n(.*?)```", DESIGN.read_text(), re.S)
    app_block = next(b for b in blocks if "APPLICATION = Application(" in b)
    namespace: dict = {}
    exec(compile(app_block, str(DESIGN), "exec"), namespace)  # noqa: S102 - the docs' own example
    return namespace


@pytest.fixture(scope="module")
def example():
    return _example()


def test_documented_example_passes(example):
    seconds = check_application(example["APPLICATION"], kinds=("sequential", "checkpoint"))
    assert set(seconds) == {"settings-errors", "models:sequential", "models:checkpoint", "trained-spec-rng",
                            "same-seed-same-table"}
    check_block = next(b for b in re.findall(r"```python\n(.*?)```", DESIGN.read_text(), re.S)
                       if "check_application(APPLICATION)" in b)
    exec(compile(check_block, str(DESIGN), "exec"), dict(example))  # noqa: S102 - every kind, as documented


def _broken(example, compare) -> object:
    return replace(example["APPLICATION"], compare=compare)


def test_reseeding_the_global_rng_fails(example):
    good = example["compare"]

    def compare(models, data="fashion-mnist", **kw):
        torch.manual_seed(torch.initial_seed() + 1)  # outside prepare(): the caller's RNG moves
        return good(models, data, **kw)

    with pytest.raises(ContractError, match=r"\[global-rng-untouched\]") as e:
        check_application(_broken(example, compare), kinds=("sequential",))
    assert e.value.check == "global-rng-untouched"


def test_leaving_models_in_train_mode_fails(example):
    good = example["compare"]

    def compare(models, data="fashion-mnist", **kw):
        result = good(models, data, **kw)
        for m in models.values():
            if isinstance(m, nn.Module):
                m.train()  # after prepare() gave them back: left in train mode
        return result

    with pytest.raises(ContractError, match=r"\[models-unchanged\]"):
        check_application(_broken(example, compare), kinds=("sequential",))


def test_a_table_without_a_contract_column_fails(example):
    good = example["compare"]

    def compare(models, data="fashion-mnist", **kw):
        r = good(models, data, **kw)
        return Result(r.application, r.table.drop(columns=["n"]), r.per_example, settings=r.settings)

    with pytest.raises(ContractError, match=r"\[result-shape\].*lacks columns \['n'\]"):
        check_application(_broken(example, compare), kinds=("sequential",))


def test_settings_that_are_silently_accepted_fail(example):
    good = example["compare"]

    def compare(models, data="fashion-mnist", *, device=None, progress=True, seed=0, **settings):
        known = {k: v for k, v in settings.items() if k in ("n", "temperature") and isinstance(v, (int, float))}
        return good(models, data, device=device, progress=progress, seed=seed, **known)  # drops bad keys

    with pytest.raises(ContractError, match=r"\[settings-errors\] unknown setting"):
        check_application(_broken(example, compare), kinds=("sequential",))


def test_check_application_refuses_what_is_not_an_application():
    with pytest.raises(TypeError, match="takes an optimist.core.application.Application"):
        check_application(lambda models, data: pd.DataFrame())
