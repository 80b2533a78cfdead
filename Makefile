# The two set-up commands are `make quickstart` and `make test`; both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install quickstart test lint services bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==0.13.9
	$(UV) pip sync -q --python $(PY) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Bytecode caching stays on: the tests and the quickstart start many Python processes, and
# recompiling pandas and scikit-learn in each one costs seconds.
RUN := env -u PYTHONDONTWRITEBYTECODE

quickstart: install
	$(RUN) $(VENV)/bin/slipway quickstart

test: install services
	$(RUN) $(PY) -m pytest -n 2 --dist loadgroup --durations=25

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

services:
	bash scripts/services.sh

clean:
	rm -rf $(VENV) .bench
