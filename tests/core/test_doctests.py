"""The runnable examples in the docstrings of core's new floors run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["optimist.core.errors", "optimist.core.files", "optimist.core.runtime", "optimist.core.stats",
           "optimist.core.settings", "optimist.core.attacks.threat", "optimist.core.attacks.pgd",
           "optimist.core.models.sources", "optimist.core.specs", "optimist.core.zoo",
           "optimist.core.application.runner", "optimist.core.testing"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0, f"{name} has no runnable example"
