"""The emulator's power/reset control: what a relay does to a real module, over a Unix socket.

``--control PATH`` opens a Unix domain socket speaking one line per request:

    power off | power on | reset | hang | status | stats   ->   ok | ok <state> | error <msg>

- power off: the UART goes silent (input ignored, nothing sent), the command in progress
  and all background work stop, MQTT sockets close without DISCONNECT (so the broker
  publishes the will), and the module's state is gone.
- power on: a fresh module: only what a reset keeps survives (``state.SAVED``: echo, the
  AT+QSSLCFG certificates; the AT+CFUN level with "cfun-kept", ``state.boot``, obs. fact 12),
  then RDY after the profile's boot time (obs. fact 16, scaled).
- reset: as AT+QRST=1 (RESET_N pulled low): reset_module(), also out of a hang.
- hang: the AT parser stops answering (input ignored) until reset or a power cycle; the
  module's background work (URCs of open connections) goes on. For the recovery ladder.
- status: ``ok on|booting|hung|off``.
- stats: ``ok output_dropped=<bytes>``: output lost to a host that did not read (overflow.py),
  since the emulator started; the log says when each loss began and ended.

Power is VBAT: this assumes the module boots by itself when VBAT comes (no PWRKEY press).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import Awaitable, Callable

from harness.emulator.frontend import ATEngine

log = logging.getLogger("harness.emulator")

MAX_REQUEST = 256  # bytes in one request line


class ControlError(Exception):
    """A request that cannot be done in this state; the text follows ``error``."""


class PoweredEngine(ATEngine):
    """ATEngine with a power switch and a hang: gates the UART through the public attach/feed."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.power = "on"  # on | hung | off

    def attach(self, sink: Callable[[bytes], None]) -> None:
        def gated(data: bytes) -> None:
            if self.power != "off":
                sink(data)

        super().attach(gated)

    def feed(self, data: bytes) -> None:
        if self.power == "on":
            super().feed(data)

    def state(self) -> str:
        if self.power == "on" and self._loop.time() < self._boot_until:
            return "booting"
        return self.power

    async def power_off(self) -> None:
        if self.power == "off":
            return
        self.power = "off"
        await self._restart_worker(start=False)
        await self._power_off()
        self._buf.clear()
        log.info("control: power off")

    async def power_on(self) -> None:
        if self.power != "off":
            return  # VBAT is already there: nothing happens
        self.power = "on"
        await self._restart_worker()
        await self.reset_module()
        log.info("control: power on")

    async def reset(self) -> None:
        if self.power == "off":
            raise ControlError("powered off (reset needs power)")
        self.power = "on"
        await self._restart_worker()
        await self.reset_module()
        log.info("control: reset")

    def hang(self) -> None:
        if self.power == "off":
            raise ControlError("powered off")
        self.power = "hung"
        log.info("control: the AT parser hangs")

    async def _restart_worker(self, start: bool = True) -> None:
        """Stop the command in progress (power loss or RESET_N mid-command); a fresh parser."""
        self._worker.cancel()
        await asyncio.gather(self._worker, return_exceptions=True)
        if start:
            self._worker = self._loop.create_task(self._run(), name="at-engine")


class ControlServer:
    def __init__(self, engine: PoweredEngine, path: str) -> None:
        self.engine = engine
        self.path = path
        self._server: asyncio.Server | None = None
        self._lock = asyncio.Lock()
        self._requests: dict[str, Callable[[], Awaitable[str]]] = {
            "power off": self._power_off, "power on": self._power_on, "reset": self._reset,
            "hang": self._hang, "status": self._status, "stats": self._stats,
        }

    async def start(self) -> None:
        """Listen at ``path`` (owner-only); a stale socket there is replaced, any other file is not."""
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._client, path=self.path, limit=MAX_REQUEST)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    async def handle(self, text: str) -> str:
        request = self._requests.get(" ".join(text.split()).lower())
        if request is None:
            return f"error unknown request {text[:40]!r} (expected one of: {', '.join(self._requests)})"
        async with self._lock:
            try:
                return await request()
            except ControlError as exc:
                return f"error {exc}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(f"error request longer than {MAX_REQUEST} bytes\n".encode())
                    break
                if not line:
                    break
                writer.write((await self.handle(line.decode(errors="replace").strip()) + "\n").encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _power_off(self) -> str:
        await self.engine.power_off()
        return "ok"

    async def _power_on(self) -> str:
        await self.engine.power_on()
        return "ok"

    async def _reset(self) -> str:
        await self.engine.reset()
        return "ok"

    async def _hang(self) -> str:
        self.engine.hang()
        return "ok"

    async def _status(self) -> str:
        return f"ok {self.engine.state()}"

    async def _stats(self) -> str:
        return f"ok output_dropped={self.engine.output_dropped}"
