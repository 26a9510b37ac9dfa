"""Every public function of core and of each application package shows a short runnable example, and it runs.

The examples (numpy-style ``Examples`` sections) are doctests on tiny untrained models and a handful of random
images; this runs them in the modules that define the functions of each package's ``__all__``. Core modules
whose doctests ``tests/core/test_doctests.py`` already runs are left to it.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest


def _core_doctest_modules() -> set[str]:
    """The modules tests/core/test_doctests.py runs (read from that file, which is not an importable package)."""
    spec = importlib.util.spec_from_file_location("_core_doctests", Path(__file__).parent / "core" / "test_doctests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(module.MODULES)


CORE_DOCTEST_MODULES = _core_doctest_modules()

PACKAGES = ["core", "interpretability", "generation", "transfer", "geometry", "shifts"]


def public_functions(package: str) -> dict[str, object]:
    """The functions in ``optimist.<package>.__all__`` defined in that package (re-exports from core excluded)."""
    module = importlib.import_module(f"optimist.{package}")
    functions = {}
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj) and inspect.getmodule(obj).__name__.startswith(f"optimist.{package}."):
            functions[name] = obj
    return functions


def defining_modules(package: str) -> list[str]:
    names = {inspect.getmodule(f).__name__ for f in public_functions(package).values()}
    return sorted(names - CORE_DOCTEST_MODULES)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_function_has_examples(package):
    functions = public_functions(package)
    assert functions, f"optimist.{package} exports no functions"
    missing = [name for name, f in functions.items() if "Examples" not in (f.__doc__ or "")]
    assert not missing, f"optimist.{package}: no Examples section in {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_docstring_examples_run(package):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    attempted = 0
    for name in defining_modules(package):
        result = doctest.testmod(importlib.import_module(name), optionflags=flags)
        assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
        attempted += result.attempted
    assert attempted > 0, f"optimist.{package}: no example ran"
