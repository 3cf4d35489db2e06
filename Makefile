# The README's commands. Each target installs what it needs first, so they work on a fresh machine.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install demo test lint bench

install:
	# torch first, pinned: it comes from local disk as a CPU build; unpinned, pip pulls a CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'

demo: install
	platemark demo --workdir platemark-demo

lint: install
	ruff check platemark tests benchmarks
	ruff format --check platemark tests benchmarks

test: lint
	platemark --help > /dev/null
	$(PYTHON) -m pytest tests

bench: install
	$(PYTHON) benchmarks/bench_retrieval.py --bench ../shared/bench
