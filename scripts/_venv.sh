# Shared by demo.sh and test.sh: create .venv and install Sleuth with the given extras.
# The CPU path pins torch through constraints/cpu.txt so pip never pulls a CUDA build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${SLEUTH_VENV:-$ROOT/.venv}"

install_sleuth() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
  # llama-cpp-python builds from source where no wheel exists (8-12 min once; pip caches it).
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_CURL=OFF}" \
    "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints/cpu.txt" -e "$ROOT[$extras]"
}
