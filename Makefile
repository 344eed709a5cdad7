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
# JupyterLab refuses to start as root (containers, CI) unless told it may.
ROOT_OPT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
PYTEST_NB := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: setup lab test unit notebooks exercises check hint progress reset results bench clean

# The environment (once), then the steps beyond pip (every time: they are quick when done):
# Fashion-MNIST present, JupyterLab's course settings. Without the data it stops here, once.
setup: $(STAMP)
	$(BIN)/python -m d2lnets.setup

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[course,dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(D2L)"
	$(BIN)/python -c "import d2lnets, nbval, jupyterlab; from d2l import torch as d2l; print('environment ready:', d2lnets.__version__)"
	@touch $(STAMP)

# Your copies of the chapters in exercises/: written only where none exists, never overwritten.
exercises: $(STAMP)
	$(BIN)/python -m d2lnets.exercises chapters exercises

# JupyterLab on your copies (exercises/); the solved chapters are one folder up, in chapters/.
lab: setup exercises
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/exercises $(ROOT_OPT) $(LAB_OPTS)

# Check your exercises in seconds (no training): `make check`, or `make check NB=exercises/02_alexnet.ipynb`.
NB ?=
check: $(STAMP)
	$(BIN)/python -m d2lnets.check $(NB)

# A hint when you are stuck: `make hint NB=02 EX=1` (the first), `make hint NB=02 EX=1 N=2` (the second).
EX ?=
N ?=
hint: $(STAMP)
	@test -n "$(NB)" -a -n "$(EX)" || { echo "say which exercise: make hint NB=02 EX=1 (N=2 for the second hint)"; exit 2; }
	@$(BIN)/python -m d2lnets.check --hint $(NB) $(EX) $(N)

# When you first solved each exercise (make check keeps the record in exercises/.progress.json).
progress: $(STAMP)
	@$(BIN)/python -m d2lnets.check --progress

# Start one chapter's exercises again: `make reset NB=02` (your copy is moved to exercises/backups/ first).
reset: $(STAMP)
	@test -n "$(NB)" || { echo "say which chapter: make reset NB=02"; exit 2; }
	$(BIN)/python -m d2lnets.exercises --reset $(NB)

# The whole suite: unit tests, then every chapter executed top to bottom in the smoke profile.
test: setup
	D2LNETS_PROFILE=smoke $(BIN)/python -m pytest tests chapters $(PYTEST_NB) -q -ra --durations=10

unit: setup
	$(BIN)/python -m pytest tests -q

notebooks: setup
	D2LNETS_PROFILE=smoke $(BIN)/python -m pytest chapters $(PYTEST_NB) -q

# Re-run every chapter in the cpu profile and save its outputs (what is committed).
results: setup
	$(BIN)/python -m d2lnets.notebooks --profile cpu --results RESULTS.md

# Training and data-loading speed against the book's code, all measured in one run (~10 min on 2 cores).
bench: setup
	$(BIN)/python benchmarks/run.py

# Build and test debris only: never your exercises/ or your runs/.
clean:
	rm -rf .pytest_cache build dist
	find . -name __pycache__ -prune -exec rm -rf {} +
