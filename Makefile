# The two commands a newcomer needs:
#   make up     install seedlab into .venv and start it (SQLite in the user data directory, local agents)
#   make test   install everything the tests need (incl. Debian's chromium) and run the suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: up install test test-deps lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# No --quiet: installing TensorFlow and the rest takes minutes, pip's progress shows them.
install: $(BIN)/python
	@echo "== installing seedlab and its dependencies into $(VENV) (TensorFlow: a few minutes)"
	$(BIN)/pip install --progress-bar on .
	@echo "== installed: start it with 'make up' or '$(BIN)/seedlab up'"

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
	for script in bench_job_vs_cold bench_overhead bench_ingest bench_reads bench_portability bench_cli; do \
		$(BIN)/python benchmarks/$$script.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info backend/*.egg-info
