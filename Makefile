# The two commands a newcomer needs:
#   make up     install seedlab into .venv and start it (SQLite in ./seedlab-data, local agents)
#   make test   install everything the tests need (incl. Debian's chromium) and run the suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: up install test test-deps lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet .

up: install
	$(BIN)/seedlab up

test-deps: $(BIN)/python
	./.ci/install-test-deps.sh
	$(BIN)/pip install --quiet -e '.[test,mlflow,ray]'

lint: test-deps
	$(BIN)/ruff check backend tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

bench: test-deps
	for script in bench_job_vs_cold bench_overhead bench_ingest bench_reads bench_portability \
		bench_ray; do $(BIN)/python benchmarks/$$script.py || exit 1; done
	@# bench_ray needs root (a loopback-only network namespace for its Ray cluster): without
	@# it the script prints "bench_ray skipped: ..." and the reason, and make goes on.

clean:
	rm -rf $(VENV) build *.egg-info backend/*.egg-info
