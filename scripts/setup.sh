#!/usr/bin/env bash
# Set up a fresh machine for Optimist: the Debian Fashion-MNIST package and a venv (.venv) with every
# package installed in editable mode, pinned by constraints.txt. Safe to run again (it skips what is done).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${OPTIMIST_DATA:-}" ]; then
  echo "[setup] installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y dataset-fashion-mnist >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y dataset-fashion-mnist; }
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi

# Every package in the tree, named in ONE pip call: the applications require `optimist-core` by name and
# version range, and pip resolves that name to the editable packages/core given next to them.
PKGS=(-e "packages/core[eval]")
for p in packages/*/; do
  name=$(basename "$p")
  [ "$name" = core ] && continue
  [ -f "$p/pyproject.toml" ] && PKGS+=(-e "$p")
done

STAMP="$VENV/.optimist-installed"
HASH=$( { cat constraints.txt packages/*/pyproject.toml scripts/setup.sh
          grep '^__version__' packages/core/src/optimist/core/__init__.py; } | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  echo "[setup] installing packages into $VENV (first time: a few minutes, torch is large)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt \
    "${PKGS[@]}" pytest pytest-xdist ruff dill build hatchling editables import-linter
  echo "$HASH" > "$STAMP"
fi
echo "[setup] ready: $VENV"
