"""Measure 2: what the AT channel adds to one round trip, against bare pyserial on the same port.

Why: every case is a string of AT round trips, so the channel's cost per command (its reader
thread, the hand-over to the caller, framing, demux, transcript) multiplies through the suite.
The baseline is what a script without the harness does: pyserial write(b"AT\\r") then
read_until(b"OK\\r\\n"). Both talk to the same emulator port, in alternating blocks (so a busy
moment of the machine hits both), and the figure is the ratio of their medians. With --pace the
emulator sends no faster than 115200 baud, as a module's UART; the wire-time floor is then
bytes x 10 / baud for the 9 bytes a round trip moves (AT<CR> out, <CR><LF>OK<CR><LF> back).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import serial

from bench.common import median
from harness.at import ATChannel
from harness.emulator.launcher import EmulatorProcess

BAUD = 115200
COMMAND = b"AT\r"
ANSWER = b"\r\nOK\r\n"  # echo off (ATE0 first): what the module answers to AT
WIRE_FLOOR_S = (len(COMMAND) + len(ANSWER)) * 10 / BAUD


def _channel_block(url: str, n: int) -> list[float]:
    times: list[float] = []
    with ATChannel(url, baud=BAUD) as ch:
        assert ch.command("ATE0").ok  # warm-up; echo known off from here
        for _ in range(n):
            t0 = time.perf_counter()
            resp = ch.command("AT")
            times.append(time.perf_counter() - t0)
            assert resp.ok, resp
    return times


def _bare_block(url: str, n: int) -> list[float]:
    times: list[float] = []
    port = serial.serial_for_url(url, baudrate=BAUD, timeout=2.0)
    try:
        port.reset_input_buffer()
        for _ in range(n):
            t0 = time.perf_counter()
            port.write(COMMAND)
            got = port.read_until(b"OK\r\n")
            times.append(time.perf_counter() - t0)
            if not got.endswith(b"OK\r\n"):
                raise RuntimeError(f"bare pyserial: no OK within 2 s on {url}: {got!r}")
    finally:
        port.close()
    return times


def _threaded_block(url: str, n: int) -> list[float]:
    """Bare pyserial plus the one thing the channel cannot do without: a reader thread that owns
    the port (URCs come at any time) and hands each answer to the waiting caller through a
    Condition. What this costs over `_bare_block` is the thread hand-over, not the channel's logic."""
    port = serial.serial_for_url(url, baudrate=BAUD, timeout=0.05)
    cond = threading.Condition()
    buf = bytearray()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():  # ends when the block does (stop is set below)
            data = port.read(max(1, port.in_waiting))
            if data:
                with cond:
                    buf.extend(data)
                    cond.notify()

    t = threading.Thread(target=reader, name="bench-reader", daemon=True)
    times: list[float] = []
    try:
        port.reset_input_buffer()
        t.start()
        for _ in range(n):
            t0 = time.perf_counter()
            port.write(COMMAND)
            with cond:
                if not cond.wait_for(lambda: buf.endswith(b"OK\r\n"), 2.0):
                    raise RuntimeError(f"threaded pyserial: no OK within 2 s on {url}: {bytes(buf)!r}")
                buf.clear()
            times.append(time.perf_counter() - t0)
    finally:
        stop.set()
        t.join(2)
        port.close()
    return times


def round_trip(transport: str, *, pace: bool = False, n: int = 100, rounds: int = 5) -> dict[str, Any]:
    """Median seconds per AT round trip through ATChannel and through bare pyserial, and the ratio."""
    emu = EmulatorProcess.start(transport=transport, time_scale=1.0, baud=BAUD, extra=["--pace"] if pace else None)
    try:
        with ATChannel(emu.url, baud=BAUD) as ch:  # echo off for both, and the module is awake
            ch.resync()
            assert ch.command("ATE0").ok
        chan: list[float] = []
        bare: list[float] = []
        threaded: list[float] = []
        for _ in range(rounds):  # alternating blocks, each opening the port afresh
            chan += _channel_block(emu.url, n)
            bare += _bare_block(emu.url, n)
            threaded += _threaded_block(emu.url, n)
    finally:
        emu.stop()
    c, b, th = median(chan), median(bare), median(threaded)
    row: dict[str, Any] = {"transport": transport, "paced": pace, "commands_each": len(chan),
                           "channel_ms": round(1000 * c, 3), "bare_pyserial_ms": round(1000 * b, 3),
                           "channel_over_bare": round(c / b, 2),
                           "threaded_pyserial_ms": round(1000 * th, 3), "threaded_over_bare": round(th / b, 2),
                           "channel_p90_ms": round(1000 * sorted(chan)[int(0.9 * len(chan))], 3),
                           "bare_p90_ms": round(1000 * sorted(bare)[int(0.9 * len(bare))], 3)}
    if pace:
        row["wire_floor_ms"] = round(1000 * WIRE_FLOOR_S, 3)
        row["channel_over_floor"] = round(c / WIRE_FLOOR_S, 2)
        row["bare_over_floor"] = round(b / WIRE_FLOOR_S, 2)
    return row


def all_round_trips(n: int = 100, rounds: int = 5) -> list[dict[str, Any]]:
    return [round_trip(t, pace=p, n=n, rounds=rounds) for p in (False, True) for t in ("pty", "tcp")]


def known_state_reset(n: int = 20, time_scale: float = 0.1) -> dict[str, Any]:
    """The setup every case pays (harness/plugin/fixtures/modem.py: harness/rig/known_state.py), timed alone on a
    module already in its known state: how many AT commands it sends and what they cost."""
    from harness.rig.known_state import reset_to_known_state

    emu = EmulatorProcess.start(transport="tcp", time_scale=time_scale)
    try:
        with ATChannel(emu.url, time_scale=time_scale) as ch:
            ch.resync()
            sent: list[str] = []
            plain = ch.command

            def counting(line: str, timeout: float | None = None) -> Any:
                sent.append(line)
                return plain(line, timeout)

            ch.command = counting  # type: ignore[method-assign]
            reset_to_known_state(ch)  # warm-up: the first one may change state
            times: list[float] = []
            for _ in range(n):
                sent.clear()
                t0 = time.perf_counter()
                reset_to_known_state(ch)
                times.append(time.perf_counter() - t0)
    finally:
        emu.stop()
    t = median(times)
    return {"runs": n, "ms": round(1000 * t, 2), "at_commands": len(sent),
            "ms_per_command": round(1000 * t / len(sent), 3)}
