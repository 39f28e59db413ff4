"""The known state every case starts from (DESIGN "How a case runs", step 2), reached with the
note's commands only: against the emulator (what a module does after a case left a mess) and
against a scripted peer (a module that never comes back onto the network)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from at_peer import OK, AtPeer, resp

from harness.at.channel import ATChannel
from harness.emulator.launcher import EmulatorProcess
from harness.rig.known_state import KnownStateError, reset_to_known_state

pytestmark = pytest.mark.timeout(60)
SCALE = 0.05  # tests/conftest.py's `emulator` runs at it


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """Something to AT+QMTOPEN to: 3.3.2 opens TCP only, no MQTT is spoken before AT+QMTCONN."""
    with socket.create_server(("127.0.0.1", 0)) as srv:
        yield srv


def test_a_case_left_radio_off_socket_open_and_options_changed(emulator: EmulatorProcess,
                                                               listener: socket.socket,
                                                               tmp_path: Path) -> None:
    port = listener.getsockname()[1]
    with ATChannel(emulator.url, time_scale=SCALE) as at:
        assert at.command(f'AT+QMTOPEN=2,"127.0.0.1",{port}').ok
        assert at.wait_urc("+QMTOPEN", 3).args == [2, 0]
        assert at.command('AT+QMTCFG="keepalive",1,77').ok
        assert at.command("AT+CFUN=0").ok
        reset_to_known_state(at)
        assert at.command("AT+CFUN?").lines == ["+CFUN: 1"]
        assert at.command("AT+QMTOPEN?").lines == []
        assert at.command('AT+QMTCFG="keepalive",1').lines == ["+QMTCFG: 120"]
        assert at.command(f'AT+QMTOPEN=0,"127.0.0.1",{port}').ok  # the radio works again
        assert at.wait_urc("+QMTOPEN", 3).args == [0, 0]
        reset_to_known_state(at)


def test_a_module_that_never_registers_again_is_named() -> None:
    with AtPeer("tcp") as peer:
        for line in ("ATE0", "AT+CMEE=1", "AT+CFUN=1", "AT+CEREG=1", "AT+CEREG=0"):
            peer.on(line, OK)
        peer.on("AT+CFUN?", resp("+CFUN: 0", "OK"))
        peer.on("AT+CEREG?", resp("+CEREG: 0,2", "OK"))  # 2: searching, forever, and no URC
        with ATChannel(peer.url, time_scale=0.01) as at, pytest.raises(KnownStateError) as err:
            reset_to_known_state(at)
        peer.wait_seen("AT+CEREG=0")  # the URC setting went back to what it was
    assert "not registered after AT+CFUN=1" in str(err.value) and "stat '2'" in str(err.value)


def test_registration_reported_later_by_urc_is_waited_for() -> None:
    """The module registers a while after AT+CFUN=1 and says so with +CEREG: 1 (27.007, <n>=1)."""
    with AtPeer("tcp") as peer:
        for line in ("ATE0", "AT+CMEE=1", "AT+CEREG=1", "AT+CEREG=0"):
            peer.on(line, OK)
        peer.on("AT+CFUN?", resp("+CFUN: 0", "OK"))
        peer.on("AT+CEREG?", resp("+CEREG: 0,2", "OK"))
        peer.on("AT+CFUN=1", OK, resp("+CEREG: 1"))
        peer.on("AT+QMTCONN?", OK)
        peer.on("AT+QMTOPEN?", OK)
        for cid in range(5):
            peer.on(f'AT+QMTCFG="aliauth",{cid}', OK)
        peer.on(lambda line: line.startswith("AT+QMTCFG="), OK)
        with ATChannel(peer.url, time_scale=0.01) as at:
            reset_to_known_state(at)
        peer.wait_seen("AT+CEREG=0")
