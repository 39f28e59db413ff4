"""A dead broker or proxy is the rig's fault (issue 19, item 1): "a dead broker is 'rig broken'
(exit 3), restarted or not as the rig file says", and the health check before a verdict asks
whether the broker and the fault proxy are alive. Real conformance runs against the real emulator:
mosquitto SIGKILLed as a crash kills it, the embedded amqtt stopped under the run, the fault proxy
stopped mid-case, the broker's port taken while it was down.

With ``broker.restart: true`` the harness starts the dead broker again on the same host and port,
once per death; the case that saw the death is an error "rig fault" and the run goes on. A broker
that cannot be restarted (its port taken meanwhile) stops the run as rig broken, exit 3. The
default (``restart: false``, the run stops) is tests/rig/test_rig_fault_blame.py's."""

from __future__ import annotations

import os
import signal
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from run_project import BROKER_CHILDREN, BROKER_CRASH_IMPORTS, case_module, run_cases

from harness.broker import BrokerError, EmbeddedBroker, MosquittoBroker
from harness.broker.mosquitto import missing_reason
from harness.pki import SessionPki
from harness.rig.loader import RigError, load_rig

pytestmark = pytest.mark.timeout(150)

MOSQUITTO_RIG = "dut: {kind: emulator, time_scale: 0.1}\nbroker: {kind: mosquitto, restart: true}\n"
AMQTT_RIG = "dut: {kind: emulator, time_scale: 0.1}\nbroker: {kind: amqtt, restart: true}\n"

KILLED_TWICE = case_module('PORTS = Path("ports.txt")\n', BROKER_CHILDREN, '''def _crash(broker) -> None:
    (pid,) = _broker_children()
    os.kill(pid, signal.SIGKILL)
    with PORTS.open("a") as out:
        out.write(f"{broker.port} {pid}\\n")


def test_1_broker_dies(modem, broker):
    _crash(broker)
    open_connect(modem, broker.dut_host, broker.port, "restart-1")


def test_2_runs_on_the_restarted_broker(modem, wire):
    open_connect(modem, wire.dut_host, wire.port, "restart-2")  # through the proxy: same upstream port


def test_3_broker_dies_again(modem, broker):
    _crash(broker)
    open_connect(modem, broker.dut_host, broker.port, "restart-3")


def test_4_runs_again(modem, broker):
    open_connect(modem, broker.dut_host, broker.port, "restart-4")
    (pid,) = _broker_children()
    with PORTS.open("a") as out:
        out.write(f"{broker.port} {pid}\\n")
''', spec="3.3.2", imports=BROKER_CRASH_IMPORTS)

AMQTT_STOPPED = '''
import socket

import pytest

from harness.plugin.fixtures.broker import KEPT_KEY
from harness.at.flows import open_connect

pytestmark = pytest.mark.spec("3.3.2")
HOLD = []


def test_1_broker_dies(modem, broker, request):
    request.config.stash[KEPT_KEY].server.stop()  # the in-process broker gone under the run
    if {take_port}:  # someone takes its port while it is down: it cannot come back
        s = socket.socket()
        s.bind((broker.host, broker.port))
        HOLD.append(s)
    open_connect(modem, broker.dut_host, broker.port, "amqtt-1")


def test_2_after(modem, broker):
    open_connect(modem, broker.dut_host, broker.port, "amqtt-2")
'''

PROXY_STOPPED = '''
import pytest

from harness.at.flows import open_connect

pytestmark = pytest.mark.spec("3.3.2")


def test_1_proxy_dies(modem, wire):
    wire.proxy.stop()  # the fault proxy between the DUT and the broker gone mid-case
    open_connect(modem, wire.dut_host, wire.port, "proxy-1", account=wire.account)


def test_2_never_runs(modem, wire):
    open_connect(modem, wire.dut_host, wire.port, "proxy-2", account=wire.account)
'''


OBSERVER_SEES_IT = '''
import pytest

from harness.plugin.fixtures.broker import KEPT_KEY

pytestmark = pytest.mark.spec("3.3.2")


def test_1_broker_dies_quietly(modem, broker, request):
    request.config.stash[KEPT_KEY].server.stop()  # and the case passes: nothing to blame yet


def test_2_observer_cannot_connect(modem, observer):
    assert modem.command("AT").ok


def test_3_after(modem, observer):
    assert modem.command("AT").ok
'''


PROXY_STOPPED_QUIETLY = '''
import pytest

pytestmark = pytest.mark.spec("3.3.2")


def test_1_proxy_dies_quietly(modem, wire):
    wire.proxy.stop()  # and the case passes: nothing to blame in its teardown


def test_2_needs_the_proxy(modem, wire):
    assert modem.command("AT").ok
'''


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_a_killed_mosquitto_is_restarted_on_its_port_once_per_death(tmp_path: Path) -> None:
    # two errors, no failure, no rig broken
    run = run_cases(tmp_path, {"test_restart.py": KILLED_TWICE}, status=1, rig=MOSQUITTO_RIG)
    proc, data, cases = run.proc, run.data, run.cases
    assert data["complete"] is True and "RIG BROKEN" not in proc.stdout, proc.stdout[-3000:]
    ports = [line.split() for line in (run.project / "ports.txt").read_text().splitlines()]
    port = ports[0][0]
    assert {p for p, _ in ports} == {port}, ports  # the same port after each restart
    for name, nth in (("test_1_broker_dies", 1), ("test_3_broker_dies_again", 2)):
        died = run.case(name, "error")
        assert died["message"].startswith(f"rig fault: the broker (mosquitto) at 127.0.0.1:{port} does not "), died
        assert f"the broker was restarted on 127.0.0.1:{port} (rig.yaml: broker.restart is true; restart {nth} " \
               "of this run)" in died["message"], died
    assert cases["test_2_runs_on_the_restarted_broker"]["verdict"] == "passed"
    assert cases["test_4_runs_again"]["verdict"] == "passed"
    junit = run.junit()
    assert junit["test_1_broker_dies"].find("error") is not None and junit["test_1_broker_dies"].find("failure") is None
    assert "the broker was restarted" in (junit["test_1_broker_dies"].findtext("system-out") or "")
    # the restarted broker died with the run: no orphan
    last_pid = int(ports[-1][1])
    assert not Path(f"/proc/{last_pid}").exists() or "mosquitto" not in Path(f"/proc/{last_pid}/comm").read_text()


def test_a_stopped_embedded_broker_is_restarted_and_the_run_goes_on(tmp_path: Path) -> None:
    run = run_cases(tmp_path, {"test_restart.py": AMQTT_STOPPED.format(take_port=False)}, status=1, rig=AMQTT_RIG)
    died = run.case("test_1_broker_dies", "error")
    assert died["message"].startswith("rig fault: the broker (amqtt) at "), died
    assert "the broker was restarted on 127.0.0.1:" in died["message"], died
    assert run.cases["test_2_after"]["verdict"] == "passed", run.cases["test_2_after"]
    assert run.data["complete"] is True


def test_a_broker_that_cannot_be_restarted_breaks_the_rig(tmp_path: Path) -> None:
    run = run_cases(tmp_path, {"test_restart.py": AMQTT_STOPPED.format(take_port=True)}, status=3, rig=AMQTT_RIG)
    died = run.case("test_1_broker_dies", "error")
    assert "restarting the broker failed: " in died["message"] and "the run stops" in died["message"], died
    run.stopped_rig_broken("test_2_after")


@pytest.mark.parametrize("restart", [True, False])
def test_a_broker_found_dead_in_a_cases_setup_is_blamed_there(tmp_path: Path, restart: bool) -> None:
    rig = AMQTT_RIG.replace("restart: true", f"restart: {str(restart).lower()}")
    run = run_cases(tmp_path, {"test_setup.py": OBSERVER_SEES_IT}, status=1 if restart else 3, rig=rig)
    data, cases = run.data, run.cases
    assert cases["test_1_broker_dies_quietly"]["verdict"] == "passed"
    saw = run.case("test_2_observer_cannot_connect", "error")
    assert saw["message"].startswith("rig fault: the broker (amqtt) at "), saw
    if restart:
        assert "the broker was restarted on" in saw["message"], saw
        assert cases["test_3_after"]["verdict"] == "passed" and data["complete"] is True
    else:
        assert "no rung restarts the broker (rig.yaml: broker.restart is false); the run stops" in saw["message"]
        assert cases["test_3_after"]["verdict"] == "not-run" and data["incomplete"]["kind"] == "rig-broken"


def test_a_stopped_fault_proxy_is_a_rig_fault_not_a_dut_failure(tmp_path: Path) -> None:
    run = run_cases(tmp_path, {"test_proxy.py": PROXY_STOPPED}, status=3)
    died = run.case("test_1_proxy_dies", "error")
    assert died["message"].startswith("rig fault: the fault proxy at 127.0.0.1:"), died
    assert ":0 " not in died["message"] and "no rung restarts the fault proxy" in died["message"], died
    run.stopped_rig_broken("test_2_never_runs")
    junit = run.junit()
    assert junit["test_1_proxy_dies"].find("failure") is None, ET.tostring(junit["test_1_proxy_dies"])[:2000]


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), (None, False)])
def test_broker_restart_in_the_rig_file(tmp_path: Path, value: str | None, expected: bool) -> None:
    rig = tmp_path / "rig.yaml"
    rig.write_text("broker: {kind: amqtt" + (f", restart: {value}" if value is not None else "") + "}\n")
    assert load_rig(rig, env=os.environ).broker.restart is expected


def test_a_wrong_broker_restart_is_one_line(tmp_path: Path) -> None:
    rig = tmp_path / "rig.yaml"
    rig.write_text("broker: {restart: sometimes}\n")
    with pytest.raises(RigError) as err:
        load_rig(rig, env=os.environ)
    assert "broker.restart" in str(err.value) and "\n" not in str(err.value), str(err.value)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _restarts_on_both_ports(broker: EmbeddedBroker | MosquittoBroker, die: Callable[[], None]) -> None:
    """`die` ends the started `broker` under it; restart() brings both listeners back on their ports."""
    try:
        ports = (broker.port, broker.tls_port)
        die()
        assert not _accepts(broker.host, ports[0])
        broker.restart()
        assert (broker.port, broker.tls_port) == ports and broker.running
        assert _accepts(broker.host, ports[0]) and _accepts(broker.host, ports[1])  # type: ignore[arg-type]
    finally:
        broker.stop()
    assert not broker.running


def test_the_embedded_broker_restarts_on_both_of_its_ports(session_pki: SessionPki) -> None:
    broker = EmbeddedBroker(tls=session_pki.server_files()).start()
    _restarts_on_both_ports(broker, broker.stop)  # how it died does not matter: stop() even forgets the ports


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_a_sigkilled_mosquitto_restarts_on_both_of_its_ports(session_pki: SessionPki) -> None:
    broker = MosquittoBroker(tls=session_pki.server_files()).start()

    def sigkill() -> None:
        assert broker._process is not None
        os.kill(broker._process.pid, signal.SIGKILL)
        broker._process.wait(5)

    _restarts_on_both_ports(broker, sigkill)


def test_a_restart_onto_a_taken_port_is_one_line() -> None:
    broker = EmbeddedBroker().start()
    holder = socket.socket()
    try:
        port = broker.port
        broker.stop()
        holder.bind((broker.host, port))  # taken while the broker was down
        with pytest.raises(BrokerError) as err:
            broker.restart()
        assert str(port) in str(err.value) and "\n" not in str(err.value), str(err.value)
    finally:
        holder.close()
        broker.stop()


def test_a_proxy_found_stopped_when_a_case_needs_it_stops_the_run(tmp_path: Path) -> None:
    run = run_cases(tmp_path, {"test_proxy.py": PROXY_STOPPED_QUIETLY}, status=3)
    assert run.cases["test_1_proxy_dies_quietly"]["verdict"] == "passed"
    needs = run.cases["test_2_needs_the_proxy"]
    assert needs["verdict"] in ("skipped", "not-run"), needs
    assert "rig broken: rig fault: the fault proxy at 127.0.0.1:" in needs["message"], needs
    assert run.data["incomplete"]["kind"] == "rig-broken" and "RIG BROKEN" in run.proc.stdout
