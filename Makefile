# Two commands matter: `make qualify` (the conformance suite against rig.yaml) and
# `make test` (the harness's own tests plus the suite against the emulator; what CI runs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv deps labgrid qualify test proof allure report pdf lint bench clean

venv: $(STAMP)

# Rebuilt whenever the pins change; `pip install -c` keeps transitive versions fixed too.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Debian packages: mosquitto, the second real broker (`--broker mosquitto`), and ser2net, the remote
# serial port of a lab (tests/at/test_ser2net.py). Installed only when missing and we are root;
# otherwise one line says how, and their tests skip with that reason.
# Debian puts both in /usr/sbin, which a non-root PATH may lack: look there too.
DEB_PACKAGES := mosquitto mosquitto-clients ser2net
MOSQUITTO_SBIN ?= /usr/sbin/mosquitto
SER2NET_SBIN ?= /usr/sbin/ser2net
deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || test -x $(MOSQUITTO_SBIN) || missing="$$missing mosquitto mosquitto-clients"; \
	command -v ser2net >/dev/null 2>&1 || test -x $(SER2NET_SBIN) || missing="$$missing ser2net"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else \
		echo "not installed:$$missing: their tests will be skipped; install with: sudo apt-get install -y --no-install-recommends$$missing"; \
	fi

# labgrid in its own venv: its pyserial-labgrid fork clashes with our pyserial==3.5 (labgrid #1245).
# The harness runs labgrid-client/-coordinator/-exporter from here (harness/rig/labgrid.py).
LABGRID_VENV := .venv-labgrid
LABGRID_STAMP := $(LABGRID_VENV)/.installed
labgrid: $(LABGRID_STAMP)
$(LABGRID_STAMP): tools/labgrid/requirements.txt
	@test -x $(LABGRID_VENV)/bin/python || $(PYTHON) -m venv $(LABGRID_VENV)
	$(LABGRID_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(LABGRID_VENV)/bin/python -m pip install --quiet -r tools/labgrid/requirements.txt
	@touch $(LABGRID_STAMP)

qualify: venv deps
	$(BIN)/pytest suites $(PYTEST_ARGS)

test: venv deps labgrid
	$(BIN)/pytest tests suites -p no:cacheprovider $(PYTEST_ARGS)

# The full proof: the whole suite against every faulty firmware profile (make test runs each
# profile against the suite modules where its failures are expected), the emulator fuzz for 300 s
# (15 s in make test), the whole suite behind a byte relay (a few modules in make test), and the
# whole suite on the emulated NB-IoT link (--network nbiot, about 5 min;
# its reports in $(REPORT_DIR)/proof-nbiot).
proof: venv deps
	BC660K_PROOF_FULL=1 $(BIN)/pytest tests/emulator/test_fault_profiles.py tests/emulator/test_emulator_fuzz.py tests/at/test_byte_relay.py -p no:cacheprovider $(PYTEST_ARGS)
	$(BIN)/pytest suites -p no:cacheprovider --network nbiot --report-dir $(REPORT_DIR)/proof-nbiot $(PYTEST_ARGS)

# The Allure HTML of the last run (reports/allure-report/index.html, one file, offline), with the
# nightly trend carried over. Allure is pinned in tools/allure (npm allure-commandline, Java 17).
REPORT_DIR ?= reports
ALLURE_BIN := tools/allure/node_modules/allure-commandline/dist/bin/allure
$(ALLURE_BIN): tools/allure/package.json tools/allure/package-lock.json
	@missing=""; command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else echo "Allure needs$$missing: sudo apt-get install -y --no-install-recommends$$missing"; exit 2; fi
	cd tools/allure && npm ci --no-audit --no-fund
	@touch $(ALLURE_BIN)

allure: $(ALLURE_BIN)

report: venv $(ALLURE_BIN)
	$(BIN)/python -m harness.report allure $(REPORT_DIR)

# The matrix as a PDF a lab can file (reports/matrix.pdf), printed by headless Chromium; the
# Debian package is installed when missing and we are root.
CHROMIUM ?= chromium
pdf:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } || \
		{ echo "chromium is not installed: sudo apt-get install -y --no-install-recommends chromium"; exit 2; }
	@test -f $(REPORT_DIR)/matrix.html || { echo "$(REPORT_DIR)/matrix.html: no matrix (run make qualify first)"; exit 2; }
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
		--print-to-pdf=$(REPORT_DIR)/matrix.pdf file://$(abspath $(REPORT_DIR))/matrix.html 2>/dev/null
	@echo "$(REPORT_DIR)/matrix.pdf"

lint: venv
	$(BIN)/ruff check .

# Benchmarks (issue 17): every figure beside its goal in bench/README.md, all of them in
# bench/results/<date>.json; the whole suite runs six times, so about 7 minutes (at most 15).
bench: venv
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(LABGRID_VENV) reports/html reports/allure-results reports/junit.xml
