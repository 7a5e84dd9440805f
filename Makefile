# Every target creates .venv itself when it is missing: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[mock,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/myna-rp demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check myna_rp mock_platform myna_demo tests benchmarks
	$(BIN)/mypy myna_rp mock_platform myna_demo

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_jpki.py
	$(BIN)/python benchmarks/bench_crl.py

serve: $(STAMP)
	$(BIN)/myna-mock serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
