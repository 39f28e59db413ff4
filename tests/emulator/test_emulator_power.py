"""The emulator's power/reset control (harness/emulator/control.py) through the emulated relay
driver, against a real emulator process, a real AT channel and a real broker: what a relay
does to a real BC660K-GL, and what the recovery ladder will rely on. Also what a real module
does around power (issue 13 item 2): the boot time (obs. fact 16), AT+CFUN kept across resets and
power cycles with the SIM unpowered at 0 (fact 12), registration that takes time (+CEREG, +IP:
facts 7, 22), and the known state bringing up a module that boots with the radio off."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated import running_emulator

from harness.at import ATChannel
from harness.at.errors import ATTimeout
from harness.broker.embedded import EmbeddedBroker
from harness.broker.observer import Observer
from harness.emulator.launcher import ROOT, EmulatorProcess
from harness.rig.known_state import reset_to_known_state
from harness.rig.relay import RelayError, build_relay
from harness.rig.relay.emulated import EmulatedRelay
from harness.rig.relay_schema import RelayConfig
from harness.spec.timing import GRACE_S, boot_deadline_s, deadline_s

pytestmark = pytest.mark.timeout(60)
SCALE = 0.1
BOOT = boot_deadline_s(SCALE)  # RDY after power-on / reset (DESIGN "Module facts")
SILENT = deadline_s("AT", SCALE)  # an AT the module would have answered within this: it did not
BOOT_S = 10.0  # obs. fact 16: more than about 9.7 s from PWRKEY to the first answer
REGISTER_S = 5.0  # obs. "Timing summary": registration on later boots about 5 s (UD)
BEARER_S = 2.0  # general_net.BEARER_S (DECIDED): +IP after the registration report
EARLY = 0.9  # a lower bound's slack: the emulator's clock and ours are not the same clock


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


def _until(module_s: float) -> float:
    return module_s * SCALE + GRACE_S


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """A firmware that keeps AT+CFUN across restarts (obs. fact 12) and boots in about 10 s (fact 16),
    as a lab writes it (harness/emulator/profile_file.py; the switch state.boot reads)."""
    path = tmp_path_factory.mktemp("firmware") / "a05-power.toml"
    path.write_text('name = "a05-power"\nrevision = "BC660KGLAAR01A05"\nsummary = "an A05 around power"\n'
                    '[[deviation]]\nfact = 12\nswitch = "cfun-kept"\nwhy = "AT+CFUN kept across restarts"\n'
                    f'[[deviation]]\nfact = 16\nboot_s = {BOOT_S}\nwhy = "RDY about 10 s after a reset"\n')
    yield from running_emulator(tmp_path_factory, SCALE, control=True, firmware=str(path))


@pytest.fixture
def kept_at(kept: EmulatorProcess) -> Iterator[tuple[ATChannel, EmulatedRelay]]:
    """A module of that firmware just out of a reset with the radio on."""
    relay = build_relay(RelayConfig(kind="emulated", timeout_s=5), device=str(kept.control))
    ch = ATChannel(kept.url, time_scale=SCALE)
    try:
        relay.on()
        ch.command("AT+CFUN=1")
        relay.pulse()
        ch.wait_urc("RDY", BOOT)
        assert ch.command("ATE0").ok and ch.command("AT+CMEE=1").ok
        yield ch, relay
    finally:
        ch.command("AT+CFUN=1")
        ch.close()
        relay.close()


def test_boot_takes_the_profiles_time_fact_16(kept_at: tuple[ATChannel, EmulatedRelay]) -> None:
    """obs. fact 16: a profile file's `boot_s` 10: RDY about 10 module seconds after a reset or
    power-on (scaled), within the harness's boot deadline (harness.spec.timing.boot_deadline_s)."""
    at, relay = kept_at
    for restart in (relay.pulse, lambda: at.command("AT+QRST=1"), lambda: relay.cycle(off_s=0)):
        start = time.monotonic()
        restart()
        at.wait_urc("RDY", BOOT)
        assert time.monotonic() - start >= BOOT_S * SCALE * EARLY


def test_cfun_0_is_kept_across_reset_and_power_cycle_with_the_sim_unpowered_fact_12(
        kept_at: tuple[ATChannel, EmulatedRelay]) -> None:
    """obs. fact 12: the module keeps CFUN across restarts (UD); switched off by AT+CFUN=0 the SIM
    reads `+CPIN: NOT READY` (UD, CF); after a power-up at CFUN=0 AT+CPIN? answers
    `+CME ERROR: ue not power on` (CF, AT+CMEE=2; numeric 303, errors.py DECIDED) until AT+CFUN=1."""
    at, relay = kept_at
    assert at.command("AT+CPIN?").lines == ["+CPIN: READY"]
    assert at.command("AT+CFUN=0").ok
    assert at.command("AT+CPIN?").lines == ["+CPIN: NOT READY"]
    assert at.command("AT+QRST=1").ok
    at.wait_urc("RDY", BOOT)
    assert at.command("AT+CFUN?").lines == ["+CFUN: 0"]
    assert at.command("AT+CEREG?").lines == ["+CEREG: 0,0"]
    assert at.command("AT+CMEE=2").ok  # not saved: back at 0 after the reset
    assert at.command("AT+CPIN?").final == "+CME ERROR: ue not power on"
    assert at.command("AT+CMEE=1").ok
    assert at.command("AT+CPIN?").final == "+CME ERROR: 303"
    relay.cycle(off_s=0)
    at.wait_urc("RDY", BOOT)
    assert at.command("AT+CFUN?").lines == ["+CFUN: 0"]
    assert at.command("AT+CFUN=1").ok
    assert at.command("AT+CPIN?").lines == ["+CPIN: READY"]
    relay.pulse()
    at.wait_urc("RDY", BOOT)
    assert at.command("AT+CFUN?").lines == ["+CFUN: 1"]
    assert at.command("AT+CEREG?").lines == ["+CEREG: 0,1"]  # registered while it booted


def test_conformant_firmware_boots_with_the_radio_on(at: ATChannel) -> None:
    """state.boot DECIDED: without "cfun-kept" a reset brings the radio back on (the note is
    silent); the SIM a case switched off reads NOT READY until then (obs. fact 12)."""
    assert at.command("AT+CFUN=0").ok
    assert at.command("AT+CPIN?").lines == ["+CPIN: NOT READY"]
    assert at.command("AT+QRST=1").ok
    at.wait_urc("RDY", BOOT)
    assert at.command("AT+CFUN?").lines == ["+CFUN: 1"]
    assert at.command("AT+CPIN?").lines == ["+CPIN: READY"]


def test_registration_takes_time_and_is_reported_fact_7_22(at: ATChannel) -> None:
    """After AT+CFUN=1 the module searches (read form <stat> 2, no address), registers about 5
    module seconds later (`+CEREG: 1,...` with <n> 2, 27.007), then the bearer's `+IP: <addr>`
    (obs. fact 22). The search itself is not reported (general.set_radio DECIDED)."""
    assert at.command("AT+CEREG=2").ok
    assert at.command("AT+CFUN=0").ok
    assert at.wait_urc("+CEREG", _until(0)).line == "+CEREG: 0"
    start = time.monotonic()
    assert at.command("AT+CFUN=1").ok
    assert at.command("AT+CEREG?").lines == ["+CEREG: 2,2"]
    assert at.command("AT+CGPADDR=0").lines == ["+CGPADDR: 0"]
    assert at.command("AT+CGATT?").lines == ["+CGATT: 0"]
    registered = at.wait_urc("+CEREG", _until(REGISTER_S))
    assert registered.line == '+CEREG: 1,"1A2B","0C0D0E0F",9'
    assert time.monotonic() - start >= REGISTER_S * SCALE * EARLY
    assert at.wait_urc("+IP", _until(BEARER_S)).line == "+IP: 192.0.2.10"
    assert time.monotonic() - start >= (REGISTER_S + BEARER_S) * SCALE * EARLY
    assert at.command("AT+CEREG?").lines == ['+CEREG: 2,1,"1A2B","0C0D0E0F",9']
    assert at.command("AT+CGPADDR=0").lines == ['+CGPADDR: 0,"192.0.2.10"']
    assert at.pending_urcs() == []  # nothing reported the search


def test_known_state_brings_up_a_module_that_boots_with_the_radio_off(
        kept_at: tuple[ATChannel, EmulatedRelay]) -> None:
    """DESIGN "How a case runs" step 2 on a module that keeps CFUN=0 (obs. fact 12): the known
    state turns the radio on and waits for registration (a deadline, not a sleep); a radio that
    is on but still searching is waited for the same way."""
    at, relay = kept_at
    assert at.command("AT+CFUN=0").ok
    relay.pulse()
    at.wait_urc("RDY", BOOT)
    assert at.command("AT+CFUN?").lines == ["+CFUN: 0"]
    reset_to_known_state(at)
    assert at.command("AT+CFUN?").lines == ["+CFUN: 1"]
    assert at.command("AT+CEREG?").lines == ["+CEREG: 0,1"]
    assert at.command("AT+CFUN=0").ok and at.command("AT+CFUN=1").ok  # a case left it searching
    reset_to_known_state(at)
    assert at.command("AT+CEREG?").lines == ["+CEREG: 0,1"]
