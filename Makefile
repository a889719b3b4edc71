# Two commands a newcomer needs: `make demo` and `make test`. Each creates the venv it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench gpu clean browser

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: a bare `torch` would pull a multi-GB CUDA build (see DEVELOPERS.md)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/torchlogit demo

test: $(STAMP) browser
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

# The HTML report test renders a report in headless Chromium (Debian's package): install it when
# missing and we can (root with apt-get, as in CI); otherwise that one test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && DEBIAN_FRONTEND=noninteractive apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium unavailable: the headless report test will be skipped"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP)
	$(PY) benchmarks/bench_solvers.py

# gpu.sh runs $PYTHON (python3 by default): point it at the venv's interpreter, which has torch
gpu: $(STAMP)
	PYTHON="$(CURDIR)/$(PY)" bash benchmarks/gpu.sh

clean:
	rm -rf $(VENV) torchlogit-demo build src/*.egg-info
