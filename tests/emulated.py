"""Shared setup for the harness tests that drive the emulator over its real transport: start it
and, when it stops, check that no handler crashed along the way; hand a case a freshly reset
module; pick the broker a case needs. Each test module keeps one-line fixtures over these."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator

import pytest

from harness.at.channel import ATChannel
from harness.broker.embedded import EmbeddedBroker
from harness.broker.mosquitto import MosquittoBroker, missing_reason
from harness.emulator.launcher import EmulatorProcess
from harness.spec.timing import boot_deadline_s


def running_emulator(tmp_path_factory: pytest.TempPathFactory, time_scale: float,
                     **start: object) -> Generator[EmulatorProcess, None, str]:
    """Yield a started emulator; afterwards stop it, fail on any `emulator ERROR` log line (a
    handler or background task that crashed) and return the log, for checks of its own."""
    log = tmp_path_factory.mktemp("emulator") / "stderr.log"
    emu = EmulatorProcess.start(time_scale=time_scale, log_path=log, **start)  # type: ignore[arg-type]
    yield emu
    emu.stop()
    assert emu.control is None or not emu.control.exists()  # a control socket goes with its emulator
    text = log.read_text(errors="replace")
    crashed = [x for x in text.splitlines() if x.startswith("emulator ERROR")]
    assert not crashed, crashed
    return text


@contextlib.contextmanager
def fresh_module(url: str, time_scale: float) -> Iterator[ATChannel]:
    """A channel to a module just reset with AT+QRST=1 (connections closed, AT+QMTCFG defaults
    back, 3.3.1 "will not be saved"), echo off and numeric errors."""
    ch = ATChannel(url, time_scale=time_scale)
    try:
        assert ch.command("AT+QRST=1").ok
        ch.wait_urc("RDY", boot_deadline_s(time_scale))
        ch.drain_urcs()  # what the previous case's links reported before the reset
        assert ch.command("ATE0").ok and ch.command("AT+CMEE=1").ok
        yield ch
    finally:
        ch.close()


def mosquitto_else_amqtt() -> Iterator[MosquittoBroker | EmbeddedBroker]:
    """mosquitto when installed (a second, independent broker implementation), else amqtt."""
    b: MosquittoBroker | EmbeddedBroker
    b = MosquittoBroker().start() if missing_reason() is None else EmbeddedBroker(host="127.0.0.1", port=0).start()
    yield b
    b.stop()
