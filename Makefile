# Every target creates .venv itself when it is missing: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench serve serve-examples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[mock,dev,redis]'
	touch $(STAMP)

demo: $(STAMP)
	PYTHONPATH=. $(BIN)/myna-rp demo

# A throw-away PostgreSQL and a throw-away Redis on 127.0.0.1 (installed with apt when missing and root)
# for the tests that need them; stopped when pytest ends, whatever the outcome. See
# scripts/test-postgres.sh and scripts/test-redis.sh.
test: $(STAMP)
	scripts/with-test-postgres.sh scripts/with-test-redis.sh $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check myna_rp mock_platform myna_demo examples tests benchmarks
	$(BIN)/mypy myna_rp mock_platform myna_demo examples

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_jpki.py
	$(BIN)/python benchmarks/bench_crl.py
	$(BIN)/python benchmarks/bench_ocsp_server.py
	$(BIN)/python benchmarks/bench_mdoc.py

serve: $(STAMP)
	$(BIN)/myna-mock serve

# The mock (test mode, :8700), the age-check shop (:8701) and the bank (:8702) for the examples' READMEs.
serve-examples: $(STAMP)
	scripts/serve-examples.sh

clean:
	-scripts/test-postgres.sh clean
	-scripts/test-redis.sh clean
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
