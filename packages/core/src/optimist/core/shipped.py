"""Models that ship with an installed package (``optimist-zoo``), found through the ``optimist.zoo`` entry point.

A zoo package is data: a folder of model folders (``model.safetensors`` + ``card.json``) and a
``manifest.json`` that names each model and the SHA-256 of each of its files. Loading a shipped model reads it
where it lies (nothing is copied), checks the file hashes and the card's content hash, and rebuilds the
architecture from the card. A file that does not match its hash is an error that says how to repair it.

>>> isinstance(shipped_names(), list)
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from torch import nn

from optimist.core.checkpoints import load_model, read_card
from optimist.core.errors import CheckpointError

ENTRY_POINTS = "optimist.zoo"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Shipped:
    """One shipped model: where its folder lies, the distribution it came with, and its files' hashes."""

    name: str
    folder: Path
    distribution: str
    files: dict[str, str]

    def card(self) -> dict:
        return read_card(self.folder)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _roots() -> list[tuple[str, Path]]:
    """(distribution, folder) of every installed zoo package."""
    roots = []
    for ep in metadata.entry_points(group=ENTRY_POINTS):
        try:
            package = ep.load()
        except ImportError as e:
            raise CheckpointError(f"the installed zoo package {ep.value!r} cannot be imported ({e}); reinstall it "
                                  "(`make setup`, or pip install --force-reinstall optimist-zoo)") from e
        folder = Path(str(resources.files(package)))
        dist = ep.dist.name if ep.dist is not None else ep.value
        roots.append((dist, folder))
    return roots


def _read_manifest(dist: str, folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} (the manifest of {dist}) is missing or corrupt ({e}); reinstall {dist}") from e
    if manifest.get("format") != MANIFEST_FORMAT:
        raise CheckpointError(f"{path} has manifest format {manifest.get('format')!r}; this optimist-core reads "
                              f"format {MANIFEST_FORMAT}. Install matching versions of optimist-core and {dist}.")
    return manifest


def shipped() -> dict[str, Shipped]:
    """Every model of every installed zoo package, by zoo name (the first package wins a name)."""
    found: dict[str, Shipped] = {}
    for dist, folder in _roots():
        for name, entry in _read_manifest(dist, folder).get("models", {}).items():
            found.setdefault(name, Shipped(name, folder / entry["folder"], dist, dict(entry["files"])))
    return found


def shipped_names() -> list[str]:
    """Names of the shipped models, sorted."""
    return sorted(shipped())


def verify_files(item: Shipped) -> None:
    """Raise :class:`CheckpointError` unless every file of ``item`` matches its manifest hash."""
    for file, expected in item.files.items():
        path = item.folder / file
        if not path.is_file():
            raise CheckpointError(f"shipped model {item.name}: {path} is missing; reinstall {item.distribution} "
                                  f"(pip install --force-reinstall {item.distribution}) or rebuild it with "
                                  f"`optimist zoo verify {item.name}`")
        if file_sha256(path) != expected:
            raise CheckpointError(f"shipped model {item.name}: {path} does not match its SHA-256 in "
                                  f"{MANIFEST} (corrupted or edited); reinstall {item.distribution} "
                                  f"(pip install --force-reinstall {item.distribution}) or retrain it with "
                                  f"`optimist zoo verify {item.name}`")


def load_shipped(item: Shipped) -> nn.Module:
    """The shipped model in eval mode, after its file hashes (and the card's content hash) are checked."""
    verify_files(item)
    try:
        return load_model(item.folder)
    except CheckpointError as e:
        raise CheckpointError(f"shipped model {item.name} cannot be loaded: {e} Reinstall {item.distribution} or "
                              f"retrain it with `optimist zoo verify {item.name}`.") from e
