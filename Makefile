# stbench: `make demo` runs the main job, `make test` runs the test suite.
# Both create .venv/ on first use (CPU build of torch, no GPU needed).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stbench-installed
TORCH_SPEC ?= torch==2.13.0
# Extra pip arguments for the torch install, e.g. a CPU-only index on a machine whose
# default index would serve the CUDA build:
#   make test TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=

.PHONY: venv demo test lint format bench clean browser faults fuzz

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/stbench demo

browser:
	bash scripts/ensure_chromium.sh

test: $(STAMP) browser
	$(BIN)/ruff check stbench cli models zoo bench benchmarks plots tests scripts
	$(BIN)/ruff format --check stbench cli models zoo bench benchmarks plots tests scripts
	$(BIN)/python -m pytest -q tests
	$(MAKE) --no-print-directory faults

# The command-line fuzzer with many more examples than `make test` runs (tests/test_fuzz_cli.py).
fuzz: $(STAMP)
	STBENCH_FUZZ=fuzz $(BIN)/python -m pytest -q tests/test_fuzz_cli.py --hypothesis-show-statistics

# Fault injection on the results store (damage, double merges, races, killed writers):
# prints a table and fails if any row is lost or duplicated.
faults: $(STAMP)
	$(BIN)/python scripts/faults.py

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks/ --benchmark-only --benchmark-json=benchmark.json

lint: $(STAMP)
	$(BIN)/ruff check stbench cli models zoo bench benchmarks plots tests scripts

format: $(STAMP)
	$(BIN)/ruff format stbench cli models zoo bench benchmarks plots tests scripts
	$(BIN)/ruff check --fix stbench cli models zoo bench benchmarks plots tests scripts

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .benchmarks results stbench_out
