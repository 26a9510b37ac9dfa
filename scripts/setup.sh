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

# Every application package present in the tree. Each one depends on core by path, so pip would install
# core as a plain copy; core is installed last in editable mode so that changes to it take effect.
APPS=()
for p in packages/*/; do
  name=$(basename "$p")
  [ "$name" = core ] && continue
  [ -f "$p/pyproject.toml" ] && APPS+=(-e "$p")
done

STAMP="$VENV/.optimist-installed"
HASH=$(cat constraints.txt packages/*/pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  echo "[setup] installing packages into $VENV (first time: a few minutes, torch is large)"
  PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
  "${PIP[@]}" -c constraints.txt -e "packages/core[eval]" pytest ruff dill
  [ ${#APPS[@]} -gt 0 ] && "${PIP[@]}" -c constraints.txt "${APPS[@]}"
  "${PIP[@]}" --no-deps -e packages/core
  echo "$HASH" > "$STAMP"
fi
echo "[setup] ready: $VENV"
