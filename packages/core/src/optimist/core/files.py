"""Files that readers never see half-written, with the permissions the user's umask allows.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
>>> atomic_write_text(p, "a,b")
>>> p.read_text()
'a,b'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def readable(path: str | os.PathLike, *, folder: bool = False) -> None:
    """Give a file (0666) or folder (0777) the permissions the user's umask allows, as ``open()`` would.

    ``tempfile`` creates private (0600 / 0700) entries; saved models and reports are meant to be shared.
    """
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes so that readers see the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    readable(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file so that readers see the old or the new content, never half of it."""
    atomic_write_bytes(Path(path), text.encode())


__all__ = ["atomic_write_bytes", "atomic_write_text", "readable"]
