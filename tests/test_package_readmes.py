"""The READMEs and docs pages: their examples run as written, and their links hold.

Each README's ```python blocks run in order, in one namespace, in a temporary working folder (the session's
``OPTIMIST_HOME`` is a temporary folder too, so the zoo models come from the installed ``optimist-zoo``). The front
page keeps its size and its first screen; every docs page is linked from it; every relative link in README.md,
docs/ and the package READMEs names a file that exists (and a heading that exists, for a link into a page).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PACKAGES = sorted(p.parent for p in (ROOT / "packages").glob("*/pyproject.toml"))
READMES = [ROOT / "README.md", *(p / "README.md" for p in PACKAGES)]
DOCS = sorted((ROOT / "docs").rglob("*.md"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FRONT_PAGE_BYTES, FIRST_SCREEN_BYTES = 16_000, 3_000
#: a zoo name in an example: "zoo:NAME" or zoo.get("NAME")
ZOO_NAME = re.compile(r"""(?:zoo:|zoo\.get\(["'])([\w.-]+/[\w.-]+/[\w.-]+)""")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code (links there are examples, not links)."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))


def _links(path: Path) -> list[str]:
    return LINK.findall(_prose(path.read_text()))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", re.sub(r"```.*?```", "", path.read_text(), flags=re.S),
                              re.M):
        slug = _slug(heading)
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


def test_every_package_has_a_readme_with_an_example_and_a_way_back():
    assert len(PACKAGES) >= 7, PACKAGES
    for package in PACKAGES:
        readme = package / "README.md"
        assert readme.is_file(), f"{_name(package)} has no README.md"
        text = readme.read_text()
        assert BLOCK.search(text), f"{_name(readme)} has no ```python example"
        assert "../../README.md" in _links(readme), f"{_name(readme)} does not link back to the top-level README"


@pytest.mark.parametrize("readme", [r for r in READMES if BLOCK.search(r.read_text())],
                         ids=lambda p: p.parent.name if p.parent != ROOT else "top-level")
def test_readme_examples_run(readme, tmp_path, monkeypatch):
    from optimist.core import zoo

    blocks = BLOCK.findall(readme.read_text())
    missing = sorted({n for n in ZOO_NAME.findall("".join(blocks)) if zoo.shipped_model(n) is None})
    if missing:  # the examples would train them first: minutes, not seconds
        pytest.fail(f"{_name(readme)} uses zoo models that the installed optimist-zoo does not ship: {missing}; "
                    "run `make setup`")
    monkeypatch.chdir(tmp_path)  # examples may save their results
    namespace: dict = {"__name__": "__readme__"}
    for block in blocks:
        exec(compile(block, str(readme), "exec"), namespace)  # noqa: S102 - the README's own example


def test_the_front_page_is_short_and_opens_with_its_picture_and_commands():
    data = (ROOT / "README.md").read_bytes()
    assert len(data) <= FRONT_PAGE_BYTES, f"README.md is {len(data):,} bytes; at most {FRONT_PAGE_BYTES:,}"
    first = data[:FIRST_SCREEN_BYTES].decode("utf-8", "ignore")
    assert re.search(r"!\[[^\]]+\]\(docs/figures/showcase\.png\)", first), "the showcase picture, with alt text"
    for command in ("make demo", "make test"):
        assert command in first, f"{command!r} is not within the first {FIRST_SCREEN_BYTES:,} bytes"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / target.split("#")[0]).resolve() for target in _links(ROOT / "README.md")}
    missing = [_name(page) for page in DOCS if page.resolve() not in linked]
    assert not missing, f"docs pages the README does not link: {missing}"


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS, *(p / "README.md" for p in PACKAGES)], ids=_name)
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.name})")
    assert not broken, f"{_name(page)}: {broken}"
