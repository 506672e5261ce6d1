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

.PHONY: setup demo worked-example test test-slow torch fashion-mnist bench clean
setup: $(VENV)/.installed

# The main demo: train the reference CNN on whatever Fashion-MNIST is found (the bundled sample on a fresh
# machine) and write its report (checkpoint, metrics.json, curves, confusion matrix, predictions) to out/demo
demo: setup
	$(BIN)/scratchnet train --epochs 3 --out out/demo

worked-example: setup
	$(BIN)/python demos/mlp_worked_example.py --out out/worked_example

test: setup
	$(BIN)/python -m pytest -q

# Accuracy on the full dataset (needs `make fashion-mnist`); CI runs these too
test-slow: setup
	$(BIN)/python -m pytest -q -m slow -s

# The full Fashion-MNIST from Debian's package (root needed)
fashion-mnist:
	test -d /usr/share/datasets/fashion-mnist || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)

# PyTorch CPU, the reference the tests and benchmarks compare against (optional; CI installs it)
torch: setup
	$(BIN)/python -m pip install -q torch==2.13.0

bench: setup
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/cnn_step.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
