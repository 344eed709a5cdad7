# d2lnets — every set-up step lives here; `make lab` and `make test` do all of it on a fresh machine.
# The Python that makes .venv, 3.11 or newer: `make lab PYTHON=python3.12` where python3 is older.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.d2lnets-installed
DOCS_STAMP := $(VENV)/.d2lnets-docs-installed
# The book's package, installed without its exact pins (numpy==1.23.5, matplotlib==3.7.2, ...),
# which would downgrade the course's packages and do not install on Python 3.12.
D2L    ?= d2l==1.0.3
# `make lab LAB_OPTS="--no-browser --port=8899"` passes options to JupyterLab.
LAB_OPTS ?=
PYTEST_NB := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
SPHINX := $(BIN)/python -m sphinx -W --keep-going -c docs

.PHONY: setup venv lab test unit test-compile gpu-check gpu-carry notebooks exercises check reset hint progress \
        results bench docs test-docs dist test-release clean

# The environment (once), then the steps beyond pip (every time: they are quick when done):
# Fashion-MNIST present, JupyterLab's course settings. Without the data it stops here, once.
setup: $(STAMP)
	$(BIN)/d2lnets setup

# .venv works when its Python runs, is 3.11 or newer and has pip. One that does not (an interrupted
# `python -m venv`, a Python upgraded away) is made again, never trusted: then the stamp below is
# out of date too, whatever its date.
VENV_WORKS := $(shell $(BIN)/python -c "import sys, pip; sys.exit(sys.version_info < (3, 11))" >/dev/null 2>&1 && echo yes)

# Make $(VENV) with $(PYTHON), saying what to do when that cannot work. Never deletes a folder that
# is not a virtual environment.
define MAKE_VENV
v=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || { \
  echo "make: cannot run '$(PYTHON)'. Install Python 3.11 or newer, or name one: make PYTHON=python3.12" >&2; exit 1; }; \
major=$${v%%.*}; minor=$${v#*.}; \
if [ "$$major" -lt 3 ] || { [ "$$major" -eq 3 ] && [ "$$minor" -lt 11 ]; }; then \
  echo "make: $(PYTHON) is Python $$v, and the course needs Python 3.11 or newer." >&2; \
  echo "      Name a newer one: make PYTHON=python3.12 (or python3.13, or its full path)." >&2; \
  found=""; for n in 13 12 11; do command -v python3.$$n >/dev/null 2>&1 && found="$$found python3.$$n"; done; \
  echo "      Found on this machine:$${found:- none (install one from python.org, your system's packages, pyenv or conda)}" >&2; \
  exit 1; fi; \
no_venv() { \
  echo "make: $(PYTHON) (Python $$v) cannot make a virtual environment: its venv module or ensurepip is missing." >&2; \
  echo "      On Debian or Ubuntu install it, then run make again: sudo apt-get install python$$v-venv" >&2; \
  echo "      (elsewhere, use a Python from python.org, Homebrew, pyenv or conda)" >&2; exit 1; }; \
$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || no_venv; \
if [ -e "$(VENV)" ]; then \
  if [ ! -f "$(VENV)/pyvenv.cfg" ]; then \
    echo "make: $(VENV) exists but is not a virtual environment; move it away, or use another: make VENV=.venv-course" >&2; \
    exit 1; fi; \
  if [ ! -x "$(BIN)/python" ]; then why="it has no bin/python"; \
  elif ! "$(BIN)/python" -c "" >/dev/null 2>&1; then why="its python does not run"; \
  elif ! "$(BIN)/python" -m pip --version >/dev/null 2>&1; then why="it has no pip"; \
  else why="its Python is older than 3.11"; fi; \
  echo "make: $(VENV) is incomplete ($$why): making it again." >&2; \
  rm -rf "$(VENV)"; fi; \
if ! $(PYTHON) -m venv "$(VENV)" || ! "$(BIN)/python" -m pip --version >/dev/null 2>&1; then \
  rm -rf "$(VENV)"; no_venv; fi
endef

# A working $(VENV) (made, or made again); nothing installed in it yet.
venv:
ifneq ($(VENV_WORKS),yes)
	@$(MAKE_VENV)
endif

$(STAMP): pyproject.toml setup.py Makefile $(if $(VENV_WORKS),,venv)
	$(BIN)/python -m pip install --quiet -e ".[course,dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(D2L)"
	$(BIN)/python -c "import d2lnets, nbval, jupyterlab; from d2l import torch as d2l; print('environment ready:', d2lnets.__version__)"
	$(BIN)/d2lnets --version >/dev/null
	@touch $(STAMP)

# What the website adds (the `docs` extra): installed by `make docs` and `make test`, not by `make lab`.
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[course,dev,docs]"
	@touch $(DOCS_STAMP)

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

# A hint when you are stuck: `make hint NB=02 EX=1` (the first), `make hint NB=02 EX=1 N=2` (the second).
EX ?=
N ?=
hint: $(STAMP)
	@test -n "$(NB)" -a -n "$(EX)" || { echo "say which exercise: make hint NB=02 EX=1 (N=2 for the second hint)"; exit 2; }
	@$(BIN)/d2lnets hint $(NB) $(EX) $(N)

# When you first solved each exercise (make check keeps the record in exercises/.progress.json).
progress: $(STAMP)
	@$(BIN)/d2lnets progress

# The whole suite: unit tests, then every chapter executed top to bottom in the smoke profile.
test: setup $(DOCS_STAMP)
	D2LNETS_PROFILE=smoke $(BIN)/python -m pytest tests chapters $(PYTEST_NB) -q -ra --durations=10

unit: setup
	$(BIN)/python -m pytest tests -q

# torch.compile on every factory of d2l.models (fullgraph, aot_eager, no graph break): slower than
# `make test`, which compiles the five chapters' networks (about 12 minutes on 2 busy cores).
test-compile: setup
	D2LNETS_TEST_COMPILE_ALL=1 $(BIN)/python -m pytest tests/test_compile.py -q -ra

notebooks: setup
	D2LNETS_PROFILE=smoke $(BIN)/python -m pytest chapters $(PYTEST_NB) -q

# Re-run every chapter in the cpu profile and save its outputs (what is committed).
results: setup
	$(BIN)/d2lnets results

# Training and data-loading speed against the book's code, all measured in one run (~10 min on 2 cores).
bench: setup
	$(BIN)/d2lnets bench

# On a GPU: the CUDA tests, the bench's GPU rows, chapters 1-6 in the full profile, RESULTS.md's GPU
# section; resumable over several calls (benchmarks/gpu_check.py). GPU_CHECK_REHEARSAL=1 rehearses it on the CPU.
gpu-check:
	bash benchmarks/gpu_check.sh $(GPU_CHECK_OPTS)

# Before a lent GPU machine (no network): Fashion-MNIST's files into data/ and wheels for its Python 3.12
# into gpu-wheels/ (`GPU_WHEELS="pytest scikit-learn matplotlib"`), within the 64 MiB a call carries.
GPU_WHEELS ?= pytest scikit-learn
gpu-carry: setup
	$(BIN)/python benchmarks/gpu_check.py --prepare --wheels $(GPU_WHEELS)

# The course website, from the committed chapters (never re-run), offline, warnings as errors:
# docs/_build/html/index.html. tests/test_docs.py builds it again in a temporary folder.
docs: $(DOCS_STAMP)
	$(SPHINX) . docs/_build/html
	@echo "the website: docs/_build/html/index.html"

test-docs: $(DOCS_STAMP)
	$(BIN)/python -m pytest tests/test_docs.py -q -ra

# The release files: the sdist and the wheel in dist/, checked as PyPI will check them.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

# Colab's route, tried here (.ci/colab_route.py): in a fresh Python 3.13 environment that has only
# what Colab has, with a stand-in google.colab, each chapter's first cell installs the wheel in dist/
# (pip with no index), then its set-up cells run. Not part of `make test`: the base, a Python 3.13
# environment of the course, downloads torch for 3.13 (gigabytes) the first time.
PYTHON313 ?= python3.13
COLAB_VENV ?= .venv313
test-release: dist $(COLAB_VENV)/.d2lnets-installed
	$(COLAB_VENV)/bin/python .ci/colab_route.py --dist dist --wheels .cache/wheels

ifneq ($(COLAB_VENV),$(VENV))
$(COLAB_VENV)/.d2lnets-installed: pyproject.toml setup.py Makefile
	@test -x $(COLAB_VENV)/bin/python || $(PYTHON313) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' \
	  2>/dev/null || { echo "make test-release: $(COLAB_VENV) needs Python 3.13 (Colab's), and '$(PYTHON313)' is not" \
	  "one that runs here: name it, e.g. make test-release PYTHON313=/path/to/python3.13" >&2; exit 1; }
	$(MAKE) --no-print-directory VENV=$(COLAB_VENV) PYTHON=$(PYTHON313) $@
endif

# Build and test debris only: never your exercises/ or your runs/.
clean:
	rm -rf .pytest_cache build dist docs/_build .cache/wheels
	find . -name __pycache__ -prune -exec rm -rf {} +
