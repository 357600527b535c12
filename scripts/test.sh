#!/usr/bin/env bash
# Install Sleuth with every CPU extra and run the test suite (slow and GPU tests are
# deselected by default; pass pytest arguments through, e.g. `-m slow`).
source "$(dirname "$0")/_venv.sh"
install_sleuth "embedded,dense,server,bench,wiki,dev"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
