# Two commands matter: `make run` (set up and start the app) and `make test` (set up and run every test).
PY := .venv/bin/python
PIP := .venv/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run setup install test browser services clean

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

test: install browser services
	$(PY) -m pytest -q

clean:
	rm -rf .venv var staticfiles
