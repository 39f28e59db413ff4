"""The AT channel against the real emulator, where the two must agree without a script:
resync out of a stuck data mode (3.3.8 "tap Esc to cancel") and out of a half-typed line, also
when the data mode was left by a host that went away."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.at import ATChannel
from harness.rig.reach import Unreachable, greet

SCALE = 0.05  # tests/conftest.py's `emulator` runs at it


@pytest.fixture
def channel(emulator):
    with ATChannel(emulator.url, time_scale=SCALE) as ch:
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


def _abandon_in_data_mode(url: str) -> None:
    """A host that put the module in a data mode (echo on) and went away: a killed run."""
    host, port = url.removeprefix("socket://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b'ATE1\r')
        s.sendall(b'AT+QSSLCFG=0,0,"cacert"\r')
        seen = b""
        while not seen.endswith(b"> "):
            chunk = s.recv(256)
            assert chunk, f"the emulator hung up before the '>' prompt: {seen!r}"
            seen += chunk


@contextlib.contextmanager
def latency(url: str, delay_s: float = 0.02) -> Iterator[str]:
    """A loopback relay to `url` that holds each chunk from the module `delay_s` before passing it
    on, as a USB-serial adapter's latency timer does (FTDI's default: 16 ms): the answer to a line
    comes after the host's next line unless the host waits for it. One host connection."""
    host, port = url.removeprefix("socket://").rsplit(":", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def pump(src: socket.socket, dst: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(4096):
                time.sleep(delay)
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def serve() -> None:
        with contextlib.suppress(OSError):
            near, _ = listener.accept()
            with near, socket.create_connection((host, int(port)), timeout=10) as far:
                near.settimeout(None)
                far.settimeout(None)
                up = threading.Thread(target=pump, args=(near, far, 0.0), daemon=True)
                up.start()
                pump(far, near, delay_s)
                up.join(5)

    relay = threading.Thread(target=serve, daemon=True)
    relay.start()
    try:
        yield f"socket://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        relay.join(10)


@pytest.mark.parametrize("attempt", range(3))
def test_a_new_host_greets_a_module_left_in_data_mode(emulator, attempt):
    """The next host knows nothing of the data mode: its first AT is data, the <ESC> of the 2nd
    probe answers OK, and that OK must not be taken for the probe's (CI, 2026-12: the doctor
    after a SIGTERMed run read it so, and called the DUT's answers garbage)."""
    _abandon_in_data_mode(emulator.url)
    with latency(emulator.url) as url, ATChannel(url, time_scale=SCALE) as ch:
        try:
            ident = greet(ch, attempts=3, timeout=0.5)
        except Unreachable as exc:
            pytest.fail(f"{exc}\n{ch.transcript.render()}")
        assert ident.model.endswith("BC660K-GL")
        assert ch.command("ATE0").ok


SLEEP_IDLE_MODULE_S = 5.0  # harness/emulator/frontend.py SLEEP_IDLE_S: silence before a QSCLK module sleeps


def test_wake_brings_back_a_module_that_fell_asleep(channel):
    """AT+QSCLK=1 (obs. fact 14): once asleep, the line that wakes the module is lost; wake() sends
    `AT` again at once until one gets OK, so the module cannot fall asleep between the tries."""
    assert channel.command("AT+QSCLK=1").ok
    try:
        for _ in range(2):
            time.sleep(2 * SLEEP_IDLE_MODULE_S * channel.time_scale)  # silence is what makes it sleep
            mark = channel.transcript.mark()
            assert channel.wake()
            probes = [e for e in channel.transcript.entries[mark:] if e.direction == "TX" and e.text.strip() == "AT"]
            assert len(probes) >= 2, channel.transcript.render(mark)  # the first AT only woke it
    finally:
        assert channel.wake() and channel.command("AT+QSCLK=0").ok
