# Two entry points: `make demo` (train the LSTM on palindromes) and `make test` (the test suite).
# Both create the project-local virtual environment .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test setup clean

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

clean:
	rm -rf $(VENV) .pytest_cache
