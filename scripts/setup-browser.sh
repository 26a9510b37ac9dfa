#!/usr/bin/env bash
# Chromium for the slow report test (tests/test_report_browser.py): Debian's `chromium` package, installed when
# missing and when apt can run (root or sudo). Without it that one test skips and says why.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
echo "[setup] installing Chromium for the browser test (Debian package chromium)"
$SUDO apt-get install -y chromium >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y chromium >/dev/null 2>&1; } \
  || echo "[setup] could not install Chromium; tests/test_report_browser.py will skip"
exit 0
