# d2lnets — every set-up step lives here; `make lab` and `make test` do all of it on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.d2lnets-installed
# The book's package, installed without its exact pins (numpy==1.23.5, matplotlib==3.7.2, ...),
# which would downgrade the course's packages and do not install on Python 3.12.
D2L    ?= d2l==1.0.3
# `make lab LAB_OPTS="--no-browser --port=8899"` passes options to JupyterLab.
LAB_OPTS ?=
PYTEST_NB := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: setup lab test unit notebooks exercises check reset hint progress results bench clean

# The environment (once), then the steps beyond pip (every time: they are quick when done):
# Fashion-MNIST present, JupyterLab's course settings. Without the data it stops here, once.
setup: $(STAMP)
	$(BIN)/d2lnets setup

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[course,dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(D2L)"
	$(BIN)/python -c "import d2lnets, nbval, jupyterlab; from d2l import torch as d2l; print('environment ready:', d2lnets.__version__)"
	$(BIN)/d2lnets --version >/dev/null
	@touch $(STAMP)

# Your copies of the chapters in exercises/: written only where none exists, never overwritten.
exercises: $(STAMP)
	$(BIN)/d2lnets exercises chapters exercises

# JupyterLab on your copies (exercises/); the solved chapters are one folder up, in chapters/.
lab: setup exercises
	$(BIN)/d2lnets lab $(LAB_OPTS)

# Check your exercises in seconds (no training): `make check`, or `make check NB=exercises/02_alexnet.ipynb`.
NB ?=
check: $(STAMP)
	$(BIN)/d2lnets check $(NB)

# Start one chapter's exercises again: `make reset NB=02` (your copy is moved to exercises/backups/ first).
reset: $(STAMP)
	@test -n "$(NB)" || { echo "say which chapter: make reset NB=02"; exit 2; }
	$(BIN)/d2lnets reset $(NB)

# A hint for an exercise, a step closer each time: `make hint NB=02 EX=1` (`N=2`: hint 2 itself).
EX ?=
N ?=
hint: $(STAMP)
	@test -n "$(NB)" -a -n "$(EX)" || { echo "say which exercise: make hint NB=02 EX=1"; exit 2; }
	$(BIN)/d2lnets hint $(NB) $(EX) $(N)

# When you first solved each exercise (kept beside your copies, in exercises/).
progress: $(STAMP)
	$(BIN)/d2lnets progress

# The whole suite: unit tests, then every chapter executed top to bottom in the smoke profile.
test: setup
	D2LNETS_PROFILE=smoke $(BIN)/python -m pytest tests chapters $(PYTEST_NB) -q -ra --durations=10

unit: setup
	$(BIN)/python -m pytest tests -q

notebooks: setup
	D2LNETS_PROFILE=smoke $(BIN)/python -m pytest chapters $(PYTEST_NB) -q

# Re-run every chapter in the cpu profile and save its outputs (what is committed).
results: setup
	$(BIN)/d2lnets results

# Training and data-loading speed against the book's code, all measured in one run (~10 min on 2 cores).
bench: setup
	$(BIN)/d2lnets bench

# Build and test debris only: never your exercises/ or your runs/.
clean:
	rm -rf .pytest_cache build dist
	find . -name __pycache__ -prune -exec rm -rf {} +
