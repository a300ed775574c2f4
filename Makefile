# seqnn — one screen of targets.  `make test` works on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: install train test test-fast lint bench docs dist clean

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[dev,bigwig,enformer,borzoi,personal,cohort,motifs,search]"
	# the published-model ports (tests/test_zoo.py): bpnet-lite without its training tools
	# (MACS3 compiles from source), after what its networks import (installed last and
	# without dependencies, so pip's resolver does not report the tools left out)
	$(PIP) install -q -c constraints.txt tangermeme h5py tqdm
	$(PIP) install -q -c constraints.txt --no-deps "bpnet-lite>=1.1"
	touch $@

install: $(VENV)/.installed          ## venv + seqnn (editable) + dev tools

$(VENV)/.docs-installed: $(VENV)/.installed
	$(PIP) install -q -c constraints.txt -e ".[dev,bigwig,docs]"
	touch $@

train: install                       ## train the default model on the embedded E. coli data
	$(VENV)/bin/seqnn-train $(ARGS)

test: install                        ## the whole test suite (what CI runs)
	$(PY) -m pytest -q

test-fast: install                   ## skip the slow tests
	$(PY) -m pytest -q -m "not slow"

lint: install                        ## ruff check + format check
	$(VENV)/bin/ruff check seqnn tests scripts
	$(VENV)/bin/ruff format --check seqnn tests scripts

bench: install                       ## data-layer and network speed (JSON lines)
	$(PY) scripts/bench_data.py
	$(PY) scripts/bench_train.py
	$(PY) scripts/bench_predict.py

docs: $(VENV)/.docs-installed         ## the docs site in site/ (strict: a warning fails it)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

dist: install                        ## wheel + sdist in dist/, checked as PyPI would
	rm -rf dist
	$(PY) -m build
	$(VENV)/bin/twine check --strict dist/*

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache
