# Two entry points for a fresh machine (Python 3.11, Debian):
#   make run   installs the runtime, builds the store from data/*.csv and serves the app on :8501
#   make test  installs test-only needs (pip, Debian chromium, R + metafor) and runs the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test install install-dev browser-deps r-deps build bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

install: $(VENV)/.runtime-installed
install-dev: $(VENV)/.dev-installed

# Debian's chromium drives the browser tests; Playwright never downloads a browser of its own.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core nginx-light; }

# R and metafor run the scripts a view exports as code (tests/evidence/test_code_export.py).
r-deps:
	@{ command -v Rscript >/dev/null 2>&1 && dpkg -s r-cran-metafor >/dev/null 2>&1; } || \
	  Rscript -e 'library(metafor)' >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends r-base-core r-cran-metafor; }

build: install
	$(BIN)/python -m evidence build

run: build
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true

test: install-dev browser-deps r-deps
	$(BIN)/python -m evidence build
	$(BIN)/python -m pytest

bench: install-dev
	$(BIN)/python tests/benchmarks/run_all.py

clean:
	rm -rf $(VENV) data/evidence.duckdb .pytest_cache
