"""Where Optimist keeps its cache (models, decompressed data): ``$OPTIMIST_HOME`` or ``~/.cache/optimist``."""

from __future__ import annotations

import os
from pathlib import Path


def optimist_home() -> Path:
    return Path(os.environ.get("OPTIMIST_HOME", "~/.cache/optimist")).expanduser()
