# The two commands a newcomer needs: `make e2e` and `make test`. Both set up when needed.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
WORKERS ?= 2
E2E_ARGS ?=

.PHONY: setup e2e test lint selftest bench clean

setup: $(VENV)/.setup-stamp

$(VENV)/.setup-stamp: pyproject.toml scripts/setup
	bash scripts/setup

## The suite against the embedded reference console; pushes its metrics.
e2e: setup
	$(PYTEST) e2e -n $(WORKERS) $(E2E_ARGS)

## Every check: lint, self-tests, the e2e suite.
test: setup lint selftest
	$(PYTEST) e2e -n $(WORKERS) $(E2E_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

selftest: setup
	$(PYTEST) tests -n $(WORKERS) --no-metrics

## Benchmarks (bench/): tables with ratios against a baseline measured in the same run.
bench: setup
	$(PY) -m bench.ws_latency
	$(PY) -m bench.reporter_push
	$(PY) -m bench.reporter_faults

clean:
	rm -rf reports test-results .pytest_cache .ruff_cache
