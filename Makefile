# The two set-up commands are `make quickstart` and `make test`; both install what they need.
#   make quickstart: the main job's dependencies only (requirements.lock, ~650 MB)
#   make test:       everything: extras, torch (CPU build) and the test tools (requirements-dev.lock)
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
HASH = $(shell cat $(1) pyproject.toml | sha1sum | cut -c1-12)
CORE_STAMP := $(VENV)/.core-$(call HASH,requirements.lock)
DEV_STAMP := $(VENV)/.dev-$(call HASH,requirements-dev.lock)
# The CPU build of torch: this machine keeps its wheel in /opt/wheels; elsewhere PyTorch's CPU index has it.
TORCH_SOURCE := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,--extra-index-url https://download.pytorch.org/whl/cpu)

.PHONY: test-cluster install install-dev quickstart example-recs example-features example-bank test test-fast lint services bench clean lock

$(UV):
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==0.13.9

$(CORE_STAMP): requirements.lock pyproject.toml | $(UV)
	@echo "Installing the main job's dependencies into $(VENV) (first time only; uv shows each step)"
	$(UV) pip install --python $(PY) -r requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	rm -f $(VENV)/.core-*
	touch $(CORE_STAMP)

$(DEV_STAMP): requirements-dev.lock pyproject.toml | $(UV)
	@echo "Installing every extra and the test tools into $(VENV) (first time only; uv shows each step)"
	$(UV) pip sync --python $(PY) $(TORCH_SOURCE) requirements-dev.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	rm -f $(VENV)/.dev-* $(VENV)/.core-*
	touch $(DEV_STAMP) $(CORE_STAMP)

install: $(CORE_STAMP)

install-dev: $(DEV_STAMP)

lock:
	bash scripts/lock.sh

# Bytecode caching stays on: the tests and the quickstart start many Python processes, and
# recompiling pandas and scikit-learn in each one costs seconds.
RUN := env -u PYTHONDONTWRITEBYTECODE

quickstart: install
	$(RUN) $(VENV)/bin/slipway quickstart

# The second example (needs the recs extra, which the dev install holds, and Debian's prometheus for its
# monitoring stage, which scripts/services.sh installs): see docs/examples/recommendation.md.
example-recs: install-dev
	$(RUN) $(VENV)/bin/slipway example recommendation --home .slipway-recs

# A bank's platform (embedded default; a few minutes on two cores, --small for a quick run):
# see docs/examples/bank.md.
example-bank: install-dev
	$(RUN) $(VENV)/bin/slipway example bank --home .slipway-bank

# The feature store on MovieLens (embedded default): see docs/features.md.
example-features: install-dev
	$(RUN) $(PY) examples/features/run.py --home .slipway-features

test: install-dev services
	$(RUN) $(PY) -m pytest -n 2 --dist loadgroup --durations=25 -m "not cluster"

# The multi-node Ray cluster tests (tests/scale/test_ray_cluster.py): a head and two worker nodes
# started as processes, one killed mid-run. Minutes on two cores, so not part of `make test`.
test-cluster: install-dev
	$(RUN) $(PY) -m pytest -n 0 -m cluster

# The quick loop while editing: no PostgreSQL, nothing marked slow.
test-fast: install-dev
	$(RUN) $(PY) -m pytest -n 2 --dist loadgroup -m "not postgres and not slow"

lint: install-dev
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy
	cd examples/predictive_maintenance && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml *.py
	cd examples/recommendation && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml *.py
	cd examples/features && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml *.py
	cd examples/bank && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml *.py platform-repo/pipelines/*.py platform-repo/features/*.py
	$(VENV)/bin/lint-imports

services:
	bash scripts/services.sh

clean:
	rm -rf $(VENV) .bench
