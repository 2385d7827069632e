#!/usr/bin/env bash
# The console's tests in a real browser: headless Chromium from Debian's `chromium` package
# (Playwright's own browser download is not reachable) driven by Playwright for Python.
# Installs what is missing (chromium with apt-get, playwright and pytest into $VENV, default
# .venv), builds the local stack (debug, console assets embedded), runs `pytest tests/browser`.
# Extra arguments go to pytest (e.g. scripts/browser-tests.sh -k inbox -x).
# LOCAL_STACK_BIN=<binary> skips the build and tests that binary instead.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  sudo_=""
  if [ "$(id -u)" != 0 ]; then sudo_="sudo"; fi
  $sudo_ apt-get install -y chromium || { $sudo_ apt-get update && $sudo_ apt-get install -y chromium; }
fi

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import playwright, pytest' 2>/dev/null; then
  echo "installing playwright and pytest into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check playwright pytest
fi

if [ -z "${LOCAL_STACK_BIN:-}" ]; then
  cargo build -p local-stack
  LOCAL_STACK_BIN="${CARGO_TARGET_DIR:-target}/debug/local-stack"
fi
export LOCAL_STACK_BIN
# Playwright must not try to download its own browsers; the harness points it at /usr/bin/chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest tests/browser -p no:cacheprovider "$@"
