# Two commands matter: `make qualify` (the conformance suite against rig.yaml) and
# `make test` (the harness's own tests plus the suite against the emulator; what CI runs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv qualify test test-harness test-suite lint clean

venv: $(STAMP)

# Rebuilt whenever the pins change; `pip install -c` keeps transitive versions fixed too.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

qualify: venv
	$(BIN)/pytest suites $(PYTEST_ARGS)

test: venv
	$(BIN)/pytest tests suites -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) reports/html reports/allure-results reports/junit.xml
