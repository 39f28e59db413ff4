"""Wires the emulator together: handlers, the AT engine, a transport, signals.

`serve()` prints the URL line (the CLI contract, DESIGN "Contracts") only once the transport
accepts input, then runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pkgutil
import signal
import sys
from dataclasses import dataclass

import harness.emulator as emulator_pkg
from harness.emulator.frontend import ATEngine
from harness.emulator.transport import PtyUart, TcpUart

log = logging.getLogger("harness.emulator")

# Handler modules register their commands on import (api.command). The MQTT connection
# commands are written separately; the emulator runs without them until they exist.
HANDLER_MODULES = ("harness.emulator.general", "harness.emulator.qmtcfg")
OPTIONAL_HANDLER_MODULES = ("harness.emulator.qmt_conn",)


@dataclass(frozen=True)
class Options:
    pty: bool
    link: str | None
    host: str
    port: int
    time_scale: float
    firmware: str
    baud: int
    pace: bool
    imei: str


def load_handlers() -> None:
    """Import the handler modules: ours, then every `qmt_*` module of the MQTT side (guarded,
    so a missing or broken one leaves its commands answering ERROR, said once on stderr)."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)
    present = {f"{__package__}.{m.name}" for m in pkgutil.iter_modules(emulator_pkg.__path__)
               if m.name.startswith("qmt_")}
    for name in sorted(present | set(OPTIONAL_HANDLER_MODULES)):
        if name not in present:
            log.warning("%s is missing: the MQTT connection commands answer ERROR", name)
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken handler module must not take the module down
            log.error("%s not loaded: %r", name, exc)


async def serve(opts: Options) -> int:
    load_handlers()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = ATEngine(time_scale=opts.time_scale, firmware=opts.firmware, imei=opts.imei)
    uart: PtyUart | TcpUart
    if opts.pty:
        uart = PtyUart(engine, opts.link, opts.baud, opts.pace)
    else:
        uart = TcpUart(engine, opts.host, opts.port, opts.baud if opts.pace else None)
    try:
        try:
            url = await uart.start()
        except OSError as exc:
            print(f"emulator: cannot open the UART: {exc}", file=sys.stderr)
            return 1
        sys.stdout.write(url + "\n")
        sys.stdout.flush()
        log.info("serving %s (firmware %s, time scale %g)", url, opts.firmware, opts.time_scale)
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        with contextlib.suppress(Exception):
            await uart.close()
        await engine.close()
