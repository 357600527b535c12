#!/usr/bin/env bash
# mypy --strict over the package as users import it. The subpackages live in top-level
# folders mapped by setuptools' package-dir, which mypy cannot follow, so we check a
# throwaway tree of symlinks shaped like the installed package.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TREE="$(mktemp -d)"
trap 'rm -rf "$TREE"' EXIT
mkdir -p "$TREE/sleuth"
for f in "$ROOT"/sleuth/*; do ln -s "$f" "$TREE/sleuth/"; done
for d in engines retrieval agents graphs sandboxes evals; do ln -s "$ROOT/$d" "$TREE/sleuth/$d"; done
cd "$TREE"
exec "${PYTHON:-python3}" -m mypy --config-file "$ROOT/pyproject.toml" -p sleuth "$@"
