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
from harness.emulator.control import ControlServer, PoweredEngine
from harness.emulator.frontend import ATEngine
from harness.emulator.transport import PtyUart, TcpUart

log = logging.getLogger("harness.emulator")

# Handler modules register their commands on import (api.command). The MQTT connection
# commands are written separately; the emulator runs without them until they exist.
HANDLER_MODULES = ("harness.emulator.general", "harness.emulator.qmtcfg", "harness.emulator.qsslcfg")
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
    control: str | None = None  # --control PATH: the power/reset control socket (control.py)


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
    engine_type = ATEngine if opts.control is None else PoweredEngine
    engine = engine_type(time_scale=opts.time_scale, firmware=opts.firmware, imei=opts.imei)
    control = None if opts.control is None else ControlServer(engine, opts.control)  # type: ignore[arg-type]
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
        try:
            if control is not None:
                await control.start()
        except OSError as exc:
            print(f"emulator: cannot open the control socket {opts.control}: {exc.strerror or exc}", file=sys.stderr)
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
        if control is not None:
            await control.close()
        await engine.close()
