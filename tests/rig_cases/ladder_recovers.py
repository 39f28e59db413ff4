"""Cases run by tests/rig/test_ladder.py in a pytest subprocess, in file order, with the real
fixtures (`modem`, `dut`, `broker`) against the emulator and its control socket. Each odd case
leaves the DUT unusable in one way; the case after it must pass, because the `modem` fixture's
recovery ladder brings the DUT back. Not collected by `pytest tests` (no test_ prefix)."""

from __future__ import annotations

import socket

import pytest

from harness.at import ATError, ATTimeout
from harness.at.flows import open_connect
from harness.spec.timing import deadline_s


def _healthy(modem) -> None:
    assert modem.command("AT").ok
    assert modem.command("ATI").ok


def test_1_parser_hangs(modem, dut) -> None:
    dut.relay.hang()  # control `hang`: the AT parser stops answering until a reset
    with pytest.raises(ATTimeout):
        modem.command("AT", timeout=deadline_s("AT", dut.time_scale))


def test_2_answers_after_hang(modem) -> None:
    _healthy(modem)


def test_3_port_dies(modem, dut) -> None:
    # the host's end of the link goes away (a USB-serial adapter unplugged): the channel is dead
    modem._port._socket.shutdown(socket.SHUT_RDWR)
    with pytest.raises(ATError):
        modem.command("AT")
        modem.wait_urc("NEVER", deadline_s("AT", dut.time_scale))


def test_4_answers_after_lost_port(modem, dut) -> None:
    _healthy(modem)


def test_5_power_cut_mid_publish(modem, dut, broker) -> None:
    open_connect(modem, broker.dut_host, broker.port, "ladder-power-cut")
    # 3.3.8 fixed-length data mode: 10 bytes announced, 4 sent: the module waits in data mode
    with pytest.raises(ATTimeout):
        modem.send_data('AT+QMTPUB=0,1,1,0,"ladder/cut",10', b"half", end=None,
                        timeout=deadline_s("AT", dut.time_scale))
    dut.relay.off()  # control `power off` while AT+QMTPUB is in data mode
    assert dut.relay.status() == "off"


def test_6_answers_after_power_cut(modem, dut, broker) -> None:
    _healthy(modem)
    state = modem.command("AT+QMTOPEN?")
    assert state.ok and not [ln for ln in state.lines if ln.startswith("+QMTOPEN:")]  # a fresh module
    open_connect(modem, broker.dut_host, broker.port, "ladder-after-cut")
