# The README's commands. Each target installs what it needs first, into a project virtualenv
# (.venv), so they work on a fresh machine — also with Debian's own python3, which refuses
# system-wide pip installs (PEP 668).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: install demo test lint bench

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { echo "cannot create $(VENV): on Debian/Ubuntu run 'apt-get install python3-venv'" >&2; exit 1; }

# Re-installs when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	# torch first, pinned: it comes from local disk as a CPU build; unpinned, pip pulls a CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/platemark demo --workdir platemark-demo

lint: install
	$(BIN)/ruff check platemark tests benchmarks
	$(BIN)/ruff format --check platemark tests benchmarks

test: lint
	$(BIN)/platemark --help > /dev/null
	$(BIN)/python -m pytest tests

# The benchmarks' peers (imagededup, without its dependencies: see pyproject.toml's bench extra).
$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev,bench]'
	$(PIP) install --quiet --no-deps imagededup==0.3.3.post2
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_retrieval.py --bench ../shared/bench
