# Two entry points: `make demo` (train the LSTM on palindromes) and `make test` (the test suite);
# `make part1` and `make part2` reproduce each Part's results, figures and notebooks from scratch;
# `make submission STUDENT_ID=12345678` packs the committed files into 12345678_assignment3.zip.
# All but the last create the project-local virtual environment .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test part1 part2 submission setup clean

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

# Experiments first, with both cores; then the benchmark alone, so that nothing else shares the
# cores while it times, at one thread (as each experiment worker runs) and at two (torch's default
# here, as train.py runs); then the figures and tables again (now with the benchmark's) and the notebook.
part1: setup
	$(PY) Part1/experiments.py
	$(PY) Part1/benchmark.py --json Part1/results/benchmark.json
	$(PY) Part1/plots.py
	cd Part1 && ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace results.ipynb

# The ablation (each run adds one change to the run above it; the DCGAN changes only the template's
# architecture), 50 epochs each (the DCGAN, the slowest per epoch, 32), and the final recipe to 250
# epochs (the committed generator): two runs at a time, one thread each; then their scores, the
# table, the figures and both notebooks.
GAN_RUNS := \
	"final --n_epochs 250 --ema 0.9999 --lr 4e-4 --batch_size 256 --mbstd --beta1 0" \
	"dcgan --n_epochs 32 --arch dcgan" \
	"template --n_epochs 50" \
	"ema --n_epochs 50 --ema 0.9999" \
	"batch256 --n_epochs 50 --ema 0.9999 --lr 4e-4 --batch_size 256" \
	"mbstd --n_epochs 50 --ema 0.9999 --lr 4e-4 --batch_size 256 --mbstd" \
	"beta1 --n_epochs 50 --ema 0.9999 --lr 4e-4 --batch_size 256 --mbstd --beta1 0"
part2: setup
	$(PY) Part2/mnist_data.py
	printf '%s\n' $(GAN_RUNS) | xargs -P 2 -L 1 sh -c \
		'$(PY) Part2/my_gan.py --threads 1 --eval_interval 2 --out_dir Part2/runs/$$0 "$$@"'
	$(PY) Part2/gan_report.py collect $(foreach run,template ema batch256 mbstd beta1 dcgan final,$(run)=Part2/runs/$(run))
	cd Part2 && ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace samples.ipynb interpolation.ipynb

# What the assignment asks to hand in: every committed file (code, executed notebooks, report and
# figures, checkpoints), none of .venv, data or caches.
submission:
	$(if $(and $(if $(findstring ',$(STUDENT_ID)),,ok),$(shell echo '$(STUDENT_ID)' | grep -Ex '[0-9]{8}')),,\
		$(error STUDENT_ID must be an 8-digit student number: make submission STUDENT_ID=12345678))
	git archive --format=zip --prefix=$(STUDENT_ID)_assignment3/ --output=$(STUDENT_ID)_assignment3.zip HEAD
	@echo "wrote $(STUDENT_ID)_assignment3.zip from commit $$(git rev-parse --short HEAD)"

clean:
	rm -rf $(VENV) .pytest_cache
