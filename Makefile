# make demo / make test do their own set-up: a .venv with workscope and everything it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench notebooks clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch 2.13.0 lies on the project machines; install it first so the
	# dev extra's pin is already met and pip never fetches a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/workscope demo

test: $(STAMP)
	@bash .ci/ensure-chromium
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/characterize.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/predictors.py
	$(BIN)/python bench/results.py
	$(BIN)/python bench/spark.py
	$(BIN)/python bench/objectstore.py

notebooks: $(STAMP)
	$(BIN)/python examples/execute.py

clean:
	rm -rf $(VENV) workscope-data bench/.cache

# make conformance: the target systems' own loaders read what workscope exports, and two live
# loopback replays (AIPerf, GuideLLM against guidellm's mock server). A second venv with the
# real clients from PyPI (conformance/requirements.txt); the CPU torch goes in first, as
# above (guidellm needs torch). See conformance/README.md.
CVENV := .venv-conformance
CBIN := $(CVENV)/bin
CSTAMP := $(CVENV)/.installed

.PHONY: conformance

$(CSTAMP): pyproject.toml conformance/requirements.txt
	$(PY) -m venv $(CVENV)
	$(CBIN)/python -m pip install -q --upgrade pip
	$(CBIN)/python -m pip install -q torch==2.13.0
	$(CBIN)/python -m pip install -q -r conformance/requirements.txt
	$(CBIN)/python -m pip install -q -e .
	touch $(CSTAMP)

conformance: $(CSTAMP)
	PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(CBIN)/python -m pytest -q -p no:cacheprovider conformance
