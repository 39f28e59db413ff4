# Two commands matter: `make qualify` (the conformance suite against rig.yaml) and
# `make test` (the harness's own tests plus the suite against the emulator; what CI runs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv deps qualify test proof lint clean

venv: $(STAMP)

# Rebuilt whenever the pins change; `pip install -c` keeps transitive versions fixed too.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Debian packages: mosquitto, the second real broker (`--broker mosquitto`). Installed only when
# missing and we are root; otherwise one line says how, and the mosquitto tests skip with that reason.
# Debian puts the broker in /usr/sbin, which a non-root PATH may lack: look there too.
DEB_PACKAGES := mosquitto mosquitto-clients
MOSQUITTO_SBIN ?= /usr/sbin/mosquitto
deps:
	@if command -v mosquitto >/dev/null 2>&1 || test -x $(MOSQUITTO_SBIN); then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES); \
	else \
		echo "mosquitto is not installed: its tests will be skipped; install it with: sudo apt-get install -y --no-install-recommends $(DEB_PACKAGES)"; \
	fi

qualify: venv deps
	$(BIN)/pytest suites $(PYTEST_ARGS)

test: venv deps
	$(BIN)/pytest tests suites -p no:cacheprovider $(PYTEST_ARGS)

# The full proof: the whole suite against every faulty firmware profile (make test runs each
# profile against the suite modules where its failures are expected), and the emulator fuzz for 300 s
# (15 s in make test).
proof: venv deps
	BC660K_PROOF_FULL=1 $(BIN)/pytest tests/test_fault_profiles.py tests/test_emulator_fuzz.py -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) reports/html reports/allure-results reports/junit.xml
