"""The emulator's power/reset control (harness/emulator/control.py) through the emulated relay
driver, against a real emulator process, a real AT channel and a real broker: what a relay
does to a real BC660K-GL, and what the recovery ladder will rely on."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated import running_emulator

from harness.at import ATChannel
from harness.at.errors import ATTimeout
from harness.broker.embedded import EmbeddedBroker
from harness.broker.observer import Observer
from harness.emulator.launcher import ROOT, EmulatorProcess
from harness.rig.relay import RelayError, build_relay
from harness.rig.relay.emulated import EmulatedRelay
from harness.rig.relay_schema import RelayConfig
from harness.spec.timing import boot_deadline_s, deadline_s

pytestmark = pytest.mark.timeout(60)
SCALE = 0.1
BOOT = boot_deadline_s(SCALE)  # RDY after power-on / reset (DESIGN "Module facts")
SILENT = deadline_s("AT", SCALE)  # an AT the module would have answered within this: it did not


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    yield from running_emulator(tmp_path_factory, SCALE, control=True)


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker(host="127.0.0.1", port=0).start()
    yield b
    b.stop()


@pytest.fixture
def relay(emulator: EmulatorProcess) -> Iterator[EmulatedRelay]:
    r = build_relay(RelayConfig(kind="emulated", timeout_s=5), device=str(emulator.control))
    assert isinstance(r, EmulatedRelay)
    yield r
    r.close()


@pytest.fixture
def at(emulator: EmulatorProcess, relay: EmulatedRelay) -> Iterator[ATChannel]:
    """A module just out of a reset (powered on first if a previous case left it off)."""
    relay.on()
    ch = ATChannel(emulator.url, time_scale=SCALE)
    try:
        relay.pulse()
        ch.wait_urc("RDY", BOOT)
        assert ch.command("ATE1").ok and ch.command("AT+CMEE=1").ok
        yield ch
    finally:
        ch.close()


def silent(at: ATChannel) -> bool:
    try:
        at.command("AT", timeout=SILENT)
    except ATTimeout:
        return True
    return False


def test_power_off_silences_the_uart_and_power_on_boots_a_fresh_module(at: ATChannel,
                                                                       relay: EmulatedRelay) -> None:
    assert at.command('AT+QMTCFG="keepalive",0,60').ok  # 3.3.1: "The configuration will not be saved"
    changed = at.command('AT+QMTCFG="keepalive",0').lines
    assert at.command("ATE0").ok  # saved (DESIGN "Module facts")
    relay.off()
    assert relay.status() == "off"
    assert silent(at)
    relay.on()
    at.wait_urc("RDY", BOOT)
    assert relay.status() == "on"
    r = at.command('AT+QMTCFG="keepalive",0')
    assert r.ok and [x.replace("60", "120") for x in changed] == r.lines  # 3.3.1 default keep-alive 120 s
    assert at.command("AT").echo is None  # ATE0 survived the power cycle


def test_power_off_drops_the_mqtt_connection_so_the_broker_publishes_the_will(
        at: ATChannel, relay: EmulatedRelay, broker: EmbeddedBroker) -> None:
    with Observer(broker.host, broker.port).connect() as observer:
        observer.subscribe("will/topic", 1)
        assert at.command('AT+QMTCFG="will",0,1,1,0,"will/topic","gone"').ok  # 3.3.1 "will"
        assert at.command(f'AT+QMTOPEN=0,"127.0.0.1",{broker.port}').ok
        assert at.wait_urc("+QMTOPEN", deadline_s("AT+QMTOPEN", SCALE)).args == [0, 0]
        assert at.command('AT+QMTCONN=0,"powered"').ok
        assert at.wait_urc("+QMTCONN", deadline_s("AT+QMTCONN", SCALE)).args == [0, 0, 0]
        observer.expect_no_message("will/topic", within=0.2)  # nothing before the power goes
        relay.off()
        message = observer.wait_message("will/topic", timeout=deadline_s("AT+QMTDISC", SCALE))
        assert message.payload == b"gone"
    assert silent(at)  # and no +QMTSTAT reaches the host: the UART is dead


def test_hang_stops_answers_until_reset(at: ATChannel, relay: EmulatedRelay) -> None:
    relay.hang()
    assert relay.status() == "hung"
    assert silent(at)
    relay.pulse()
    at.wait_urc("RDY", BOOT)
    assert at.command("AT").ok


def test_hang_ends_with_a_power_cycle_too(at: ATChannel, relay: EmulatedRelay) -> None:
    relay.hang()
    relay.cycle(off_s=0)
    at.wait_urc("RDY", BOOT)
    assert at.command("AT").ok and relay.status() == "on"


def test_control_errors_are_one_line(at: ATChannel, relay: EmulatedRelay) -> None:
    with pytest.raises(RelayError, match=r"^relay emulated \(.*control.sock\): bogus: unknown request 'bogus' "
                                         r"\(expected one of: power off, power on, reset, hang, status, stats\)$"):
        relay.request("bogus")
    relay.on()  # already on: a relay closing a closed contact changes nothing
    assert relay.status() == "on"
    relay.off()
    with pytest.raises(RelayError, match=r"reset: powered off \(reset needs power\)$"):
        relay.pulse()
    with pytest.raises(RelayError, match=r"hang: powered off$"):
        relay.hang()
    relay.on()
    at.wait_urc("RDY", BOOT)


def test_one_connection_carries_several_requests_and_long_lines_are_refused(emulator: EmulatorProcess) -> None:
    assert emulator.control is not None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(emulator.control))
        s.sendall(b"status\n  STATUS \n")
        f = s.makefile("rb")
        assert f.readline().startswith(b"ok ") and f.readline().startswith(b"ok ")
        s.sendall(b"x" * 1000 + b"\n")
        assert f.readline().startswith(b"error request longer than")
        f.close()


def test_missing_socket_is_a_one_line_relay_error(tmp_path: Path) -> None:
    r = EmulatedRelay(RelayConfig(kind="emulated", device=str(tmp_path / "no.sock")))
    with pytest.raises(RelayError, match=r"^relay emulated \(.*no\.sock\): cannot reach the control socket: "
                                         r"No such file or directory$"):
        r.on()
    with pytest.raises(RelayError, match=r"^relay emulated: no control socket"):
        EmulatedRelay(RelayConfig(kind="emulated")).on()


def test_cli_control_keeps_the_one_line_contract_and_refuses_a_non_socket(tmp_path: Path) -> None:
    sock = tmp_path / "c.sock"
    proc = subprocess.Popen([sys.executable, "-m", "harness.emulator", "--tcp", "127.0.0.1:0", "--control",
                             str(sock)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(10), "no URL line"
        sel.close()
        first = os.read(proc.stdout.fileno(), 4096)
        assert first.startswith(b"socket://127.0.0.1:") and first.count(b"\n") == 1
        assert sock.is_socket() and (sock.stat().st_mode & 0o777) == 0o600
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out == b"" and not sock.exists()
    plain = tmp_path / "file"
    plain.write_text("x")
    done = subprocess.run([sys.executable, "-m", "harness.emulator", "--control", str(plain)], cwd=ROOT,
                          capture_output=True, timeout=20)
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1 and "exists and is not a socket" in err
    assert plain.read_text() == "x"
