"""The AT channel against the real emulator, where the two must agree without a script:
resync out of a stuck data mode (3.3.8 "tap Esc to cancel") and out of a half-typed line."""

from __future__ import annotations

import pytest
from emulated import running_emulator

from harness.at import ATChannel


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    yield from running_emulator(tmp_path_factory, 0.05)


@pytest.fixture
def channel(emulator):
    with ATChannel(emulator.url, time_scale=0.05) as ch:
        assert ch.resync()
        assert ch.command("ATE0").ok
        yield ch


def test_resync_leaves_a_data_mode_the_host_abandoned(channel):
    # QMTCFG write puts nothing in data mode; AT+QSSLCFG cacert does (a '>' prompt, 6.2).
    mark = channel.transcript.mark()
    channel.write_raw(b'AT+QSSLCFG=0,0,"cacert"\r')
    assert channel.resync(attempts=3, timeout=0.5)
    assert "RX  >" in channel.transcript.render(since=mark), "the emulator never entered data mode"
    assert channel.command("AT").final == "OK"


def test_resync_after_a_half_typed_line(channel):
    channel.write_raw(b"AT+QMTCFG=\"keep")
    assert channel.resync(attempts=3, timeout=0.5)
    assert channel.command('AT+QMTCFG="keepalive",0').ok


def test_resync_after_echo_was_switched_off_behind_the_channels_back(channel):
    assert channel.command("ATE1").ok
    assert channel.command("AT").echo is not None
    channel.write_raw(b"ATE0\r")  # the channel still believes echo is on
    assert channel.resync(attempts=3, timeout=0.5)
    assert channel.command("AT").final == "OK"


def test_bare_ate_means_echo_off(channel):
    """V.250: ATE without a value is ATE0; the channel must not wait for an echo afterwards."""
    assert channel.command("ATE1").ok
    assert channel.command("ATE").ok
    resp = channel.command("AT")
    assert resp.final == "OK" and resp.echo is None
