"""Wires the emulator together: handlers, the AT engine, a transport, signals.

`serve()` prints the URL line (the CLI contract, DESIGN "Contracts") only once the transport
accepts input, then runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from harness.emulator.control import ControlServer, PoweredEngine
from harness.emulator.frontend import ATEngine
from harness.emulator.transport import PtyUart, TcpUart

log = logging.getLogger("harness.emulator")

# The command handler modules: each registers its commands' forms on import (api.handles).
# A new handler module is added here; one that fails to import stops the start-up with its
# traceback (no URL is printed, so the launcher reports it), never a module that answers ERROR.
HANDLER_MODULES = (
    "harness.emulator.general",
    "harness.emulator.general_power",
    "harness.emulator.general_net",
    "harness.emulator.general_ping",
    "harness.emulator.qmtcfg",
    "harness.emulator.qsslcfg",
    "harness.emulator.qmt_conn",
    "harness.emulator.qmt_pub",
)


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


def load_handlers(modules: Iterable[str] | None = None) -> None:
    """Import the handler modules (default HANDLER_MODULES); any error propagates."""
    for name in HANDLER_MODULES if modules is None else modules:
        importlib.import_module(name)


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
