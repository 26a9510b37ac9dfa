"""The examples in the package READMEs run as written (each ```python block, in order, in one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
READMES = [ROOT / "packages" / "zoo" / "README.md"]


def test_the_readmes_have_examples():
    for readme in READMES:
        assert BLOCK.search(readme.read_text()), readme


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_readme_examples_run(readme, capsys):
    namespace: dict = {}
    for block in BLOCK.findall(readme.read_text()):
        exec(compile(block, str(readme), "exec"), namespace)  # noqa: S102 - the README's own example
