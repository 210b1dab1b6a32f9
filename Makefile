# The two commands a newcomer needs:
#   make up     install seedlab into .venv and start it (SQLite in the user data directory, local
#               agents; PORT=8765 for another port)
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

# make up PORT=8765 listens on another port (default 8000)
up: install
	$(BIN)/seedlab up $(if $(PORT),--port $(PORT))

# The editable install is redone only when pyproject.toml changed since the last one (a stamp).
test-deps: $(VENV)/.test-deps
	./.ci/install-test-deps.sh

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,mlflow,ray,torch,jax]' 'torch==2.13.0' 'jax[cpu]'
	touch $@

lint: test-deps
	$(BIN)/ruff check backend tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# Two pytest-xdist workers: the tests sharing the live system, the runner's launcher or the Ray
# cluster stay together, one unit each, first and in order; every other module goes whole to
# whichever worker is free (tests/xdist_serial.py). PYTEST_PARALLEL= runs everything in one.
PYTEST_PARALLEL ?= -n 2

test: lint
	$(BIN)/python -m pytest -ra $(PYTEST_PARALLEL) $(PYTEST_ARGS)

bench: test-deps
	for script in bench_job_vs_cold bench_overhead bench_ingest bench_reads bench_portability \
		bench_patterns bench_cli bench_floor bench_memory bench_ray; do $(BIN)/python benchmarks/$$script.py || exit 1; done
	@# bench_ray needs root (a loopback-only network namespace for its Ray cluster): without
	@# it the script prints "bench_ray skipped: ..." and the reason, and make goes on.

clean:
	rm -rf $(VENV) build *.egg-info backend/*.egg-info
