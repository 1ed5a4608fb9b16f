# Two entry points: `make demo` (train the LSTM on palindromes) and `make test` (the test suite);
# `make part1` reproduces Part 1's results, figures and notebook from scratch.
# All create the project-local virtual environment .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test part1 setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

demo: setup
	$(PY) Part1/train.py

test: setup
	$(PY) -m pytest

# Experiments first, with both cores; then the benchmark alone, on one thread as each experiment
# worker runs, so that nothing else shares its core while it times; then the figures and tables
# again (now with the benchmark's) and the notebook.
part1: setup
	$(PY) Part1/experiments.py
	$(PY) Part1/benchmark.py --threads 1 --json Part1/results/benchmark.json
	$(PY) Part1/plots.py
	cd Part1 && ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace results.ipynb

clean:
	rm -rf $(VENV) .pytest_cache
