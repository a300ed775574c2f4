# seqnn — one screen of targets.  `make test` works on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: install train test test-fast lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[dev,bigwig]"
	touch $@

install: $(VENV)/.installed          ## venv + seqnn (editable) + dev tools

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

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
