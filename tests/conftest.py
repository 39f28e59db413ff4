"""The shared fixtures of the harness's own tests (the conformance suite's are the plugin's,
harness/plugin/fixtures/, loaded through its pytest11 entry point). A test module keeps only what
is its own; the test modules sit in folders that mirror harness/ (tests/at/, tests/emulator/, ...),
and the helper modules here (emulated.py, run_project.py, ...) are importable from all of them.

- `emulator` (module): an emulator for the module, at the module's `SCALE` and started with its
  `EMULATOR_START` (keyword arguments of EmulatorProcess.start) when it sets one; when it stops,
  no handler may have crashed (tests/emulated.py). A module that needs more (a parametrized
  network, the log text) declares its own `emulator`, and `at` follows it.
- `at` (function): a channel to that emulator's module, just reset (tests/emulated.py).
- `link` (module): a byte-exact host on that emulator, of the module's `Uart` class when it has
  one (tests/raw_uart.py), one connection for the whole module.
- `amqtt_broker`, `mosquitto_broker` (skips where mosquitto is not installed) and
  `mosquitto_or_amqtt` (module): a started broker on loopback.
- `proxy` (function): a fault proxy (harness.proxy) in front of `amqtt_broker`; no proxy thread
  outlives it.
- `session_pki` (module): a fresh PKI (harness.pki.SessionPki) in a temporary directory.
- `report_dir` (function): a temporary directory for a subprocess run's `--report-dir`
  (tests/run_project.py runs pytest in a subprocess).
- the repository's reports/ is as it was when a run of the harness's tests ends.

The names here must not shadow the product's fixtures (`broker`, `pki`, `peer`, `dut`, `modem`,
`rig`, ...): the modules under tests/rig_cases/ run in subprocess conformance runs beneath this
directory and take the product's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated import fresh_module, mosquitto_else_amqtt, running_emulator
from raw_uart import RawUart, kept_open

from harness.at.channel import ATChannel
from harness.broker.embedded import EmbeddedBroker
from harness.broker.mosquitto import MosquittoBroker, missing_reason
from harness.emulator.launcher import EmulatorProcess
from harness.pki import SessionPki
from harness.plugin.hooks import run_life
from harness.proxy import FaultProxy

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def _scale(request: pytest.FixtureRequest) -> float:
    scale = getattr(request.module, "SCALE", None)
    if scale is None:
        pytest.fail(f"{request.module.__name__}: the shared `emulator` and `at` fixtures need a module-level SCALE")
    return float(scale)


@pytest.fixture(scope="module")
def emulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    yield from running_emulator(tmp_path_factory, _scale(request), **getattr(request.module, "EMULATOR_START", {}))


@pytest.fixture
def at(emulator: EmulatorProcess, request: pytest.FixtureRequest) -> Iterator[ATChannel]:
    with fresh_module(emulator.url, _scale(request)) as ch:
        yield ch


@pytest.fixture(scope="module")
def link(emulator: EmulatorProcess, request: pytest.FixtureRequest) -> Iterator[RawUart]:
    """A byte-exact host on `emulator`: the module's `Uart` (a raw_uart.RawUart with its own
    helpers), one connection for the whole module."""
    yield from kept_open(getattr(request.module, "Uart", RawUart), emulator.url)


@pytest.fixture(scope="module")
def amqtt_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def proxy(amqtt_broker: EmbeddedBroker) -> Iterator[FaultProxy]:
    before = set(threading.enumerate())  # a suite's own proxy may run in this process too
    with FaultProxy(amqtt_broker.host, amqtt_broker.port) as running:
        yield running
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("mqtt-proxy")]


@pytest.fixture(scope="module")
def mosquitto_broker() -> Iterator[MosquittoBroker]:
    missing = missing_reason()
    if missing is not None:
        pytest.skip(missing)
    with MosquittoBroker() as running:
        yield running


@pytest.fixture(scope="module")
def mosquitto_or_amqtt() -> Iterator[MosquittoBroker | EmbeddedBroker]:
    yield from mosquitto_else_amqtt()


@pytest.fixture(scope="module")
def session_pki(tmp_path_factory: pytest.TempPathFactory) -> SessionPki:
    return SessionPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    return tmp_path / "reports"


def _listing(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory below `directory`: (size, mtime in ns) of files, (-1, 0) of directories."""
    found: dict[str, tuple[int, int]] = {}
    for path in directory.rglob("*") if directory.is_dir() else ():
        with contextlib.suppress(OSError):  # gone meanwhile
            st = path.stat()
            found[str(path.relative_to(directory))] = (-1, 0) if path.is_dir() else (st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture(scope="session", autouse=True)
def _reports_untouched(pytestconfig: pytest.Config) -> Iterator[None]:
    """A run of the harness's tests (directly or in a subprocess) writes no report into the
    repository's reports/: a subprocess conformance run needs a temporary --report-dir. A
    conformance run itself (tests/rig_cases/ in a subprocess) writes its own reports: not checked."""
    if run_life(pytestconfig) is not None:
        yield
        return
    before = _listing(REPORTS)
    yield
    after = _listing(REPORTS)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, (f"this run of the harness's tests changed {REPORTS}: {changed[:20]}; a pytest run in a "
                         "subprocess without a temporary --report-dir (tests/run_project.py)? (or a conformance "
                         "run of your own wrote there meanwhile)")
