# Two commands for a fresh machine: `make demo` and `make test` (each sets up .venv first).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

.PHONY: setup demo test torch bench clean
setup: $(VENV)/.installed

demo: setup
	$(BIN)/python demos/mlp_worked_example.py --out out/worked_example

test: setup
	$(BIN)/python -m pytest -q

# PyTorch CPU, the reference the tests and benchmarks compare against (optional; CI installs it)
torch: setup
	$(BIN)/python -m pip install -q torch==2.13.0

bench: setup
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
